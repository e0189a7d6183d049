import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

// Env teardown closes TCP streams that have read, UDP sockets with sends
// queued, polls, fs watchers, and waits for fs and dns requests in flight,
// without running JS. Under npm run test:asan, LeakSanitizer also checks
// that it releases everything the addon holds for them.
for (const mode of ['exit', 'terminate'] as const) {
  test(`a worker with I/O in flight survives ${mode}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'asyncuv-teardown-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const worker = new Worker(new URL('../fixtures/io-worker.js', import.meta.url), {
      workerData: { mode, dir },
    });
    const exited = new Promise<number>((resolve, reject) => {
      worker.on('exit', resolve);
      worker.on('error', reject);
    });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    if (mode === 'terminate') await worker.terminate();
    const code = await exited;
    t.is(code, mode === 'exit' ? 0 : 1);
  });
}
