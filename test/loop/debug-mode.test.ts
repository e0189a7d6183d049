import test from 'ava';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../helpers/child.js';

// In a child process: gc() and warnings are process-wide.
const script = `
import { Loop, UvEventLoop } from ${JSON.stringify(new URL('../../index.js', import.meta.url).href)};
const uv = new Loop();
const loop = new UvEventLoop(uv);
loop.setDebug(true);
const warnings = [];
process.on('warning', (w) => warnings.push(w.code + ' ' + w.message));
const slow = [];
const origWarn = console.warn;
console.warn = (m) => slow.push(String(m));
loop.callSoon(() => { const end = Date.now() + 150; while (Date.now() < end); });
await new Promise((r) => setTimeout(r, 50));
// A server made and dropped without close(): its listening handle keeps it
// reachable from the loop, so drop a stopped one (startServing false) instead.
await (async () => { await loop.createServer(() => ({}), '127.0.0.1', 0, { startServing: false }); })();
for (let i = 0; i < 20 && warnings.length === 0; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
console.warn = origWarn;
console.log(JSON.stringify({ warnings, slow }));
process.exit(0);
`;

test('debug mode reports slow callbacks and servers collected unclosed', async (t) => {
  const out = await runCommand(
    process.execPath,
    ['--expose-gc', '--input-type=module', '-e', script],
    {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
    },
  );
  t.is(out.code, 0, out.stderr);
  const { warnings, slow } = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
    warnings: string[];
    slow: string[];
  };
  t.true(
    slow.some((m) => /took 0\.1[0-9]{2} seconds|took 0\.[2-9][0-9]{2} seconds/.test(m)),
    JSON.stringify(slow),
  );
  t.true(
    warnings.some((w) => w.startsWith('ASYNCUV_UNCLOSED A Server was garbage-collected')),
    JSON.stringify(warnings),
  );
});

// docs/loop.md, "Scheduling": `setDebug(true)` or ASYNCUV_DEBUG=1 turns debug
// mode on, for loops of either kind made afterwards; unset or empty, it is off.
test('ASYNCUV_DEBUG=1 starts both loops in debug mode; empty (or unset), neither', async (t) => {
  const probe = `
import { NodeEventLoop, UvEventLoop } from ${JSON.stringify(new URL('../../index.js', import.meta.url).href)};
const modes = [UvEventLoop, NodeEventLoop].map((Make) => {
  const loop = new Make();
  const debug = loop.getDebug();
  loop.close();
  return debug;
});
console.log(JSON.stringify(modes));
`;
  for (const [value, expected] of [
    ['1', [true, true]],
    ['', [false, false]],
  ] as const) {
    // The child inherits this process's environment, so "unset" is the
    // empty value here: the rule treats both alike.
    const env = { ASYNCUV_DEBUG: value };
    const out = await runCommand(process.execPath, ['--input-type=module', '-e', probe], {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      env,
    });
    t.is(out.code, 0, out.stderr);
    t.deepEqual(JSON.parse(out.stdout.trim()), expected, `ASYNCUV_DEBUG=${String(value)}`);
  }
});
