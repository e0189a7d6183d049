// `npm start` runs the tour: it must finish by itself, quickly, report each
// step and leave no handle open.
import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const tour = fileURLToPath(new URL('../../examples/tour.js', import.meta.url));

test('the tour runs every step and exits by itself with code 0', async (t) => {
  const start = Date.now();
  const result = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [tour], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 55_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout });
    });
  });
  t.is(result.code, 0, result.stdout);
  // About 6 s on a quiet machine; the suite runs many processes at once
  // on two cores, so this bound only tells a slow tour from a hung one.
  t.true(Date.now() - start < 50_000, `took ${Date.now() - start} ms`);
  t.regex(result.stdout, /^timers \(\d+ ms\)$/m);
  t.regex(result.stdout, /^signals \(\d+ ms\)$/m);
  t.regex(result.stdout, /^Async from a worker \(\d+ ms\)$/m);
  t.regex(result.stdout, /^Locks across 3 workers and the main thread \(\d+ ms\)$/m);
  t.regex(result.stdout, /counter 600,200 \(expected 600,200, exact\)/);
  t.regex(result.stdout, /3000\/3000 GETs answered correctly/);
  t.regex(result.stdout, /the server's sha256 matches the client's/);
  t.regex(
    result.stdout,
    /^One HTTP server on every core, one process \(startThreadedServer\) \(\d+ ms\)$/m,
  );
  t.regex(result.stdout, /shared hit counter under a Mutex: 1,000 \(expected 1,000, exact\)/);
  t.regex(result.stdout, /handles left open: none/);
});
