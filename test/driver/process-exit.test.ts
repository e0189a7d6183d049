// Embedded driver, process level: unref'd handles neither keep the process
// alive nor stall, the driver sleeps when idle, and the process exits by
// itself once nothing ref'd is active (FINDINGS.md, "Driving the private
// loop from Node's loop").
import test from 'ava';
import { jsonLines, runFixture } from '../helpers/child.js';

// The bound is half the timer, not a speed: a child under ASan on the loaded
// machine took 7.6 s to start and exit, against the 5 s bound a 10 s timer
// allowed.
test("an unref'd 60 s timer alone does not keep the process alive", async (t) => {
  const child = await runFixture('driver-child.js', ['unref-alone'], { timeoutMs: 90_000 });
  t.false(child.timedOut);
  t.is(child.code, 0, child.stderr);
  t.deepEqual(jsonLines(child.stdout), [{ started: true }], 'the timer never fired');
  t.true(child.ms < 30_000, `exited after ${child.ms} ms`);
});

test("no busy-spin: only unref'd handles and a 1 s Node timer use almost no CPU", async (t) => {
  const child = await runFixture('driver-child.js', ['idle-cpu']);
  t.is(child.code, 0, child.stderr);
  const [report] = jsonLines(child.stdout) as Array<{ cpuMs: number; wallMs: number }>;
  t.truthy(report);
  t.true(report!.wallMs >= 990);
  // A spinning driver would burn ~1000 ms here.
  t.true(report!.cpuMs < 100, `used ${report!.cpuMs} ms of CPU in ${report!.wallMs} ms`);
});

test('the process exits by itself after its last timer fires', async (t) => {
  const child = await runFixture('driver-child.js', ['last-timer']);
  t.is(child.code, 0, child.stderr);
  t.is(child.signal, null);
  const [report] = jsonLines(child.stdout) as Array<{ fired: boolean; afterMs: number }>;
  t.true(report?.fired);
  t.true(report!.afterMs >= 290, 'kept alive until the timer was due');
});

test('the process exits once a timer, an Async and a Signal are all done', async (t) => {
  const child = await runFixture('driver-child.js', ['all-closed']);
  t.is(child.code, 0, child.stderr);
  t.false(child.timedOut);
  t.deepEqual(jsonLines(child.stdout), [{ signal: 'closed', ticks: 3 }, { async: 'closed' }]);
});

test("an unref'd Idle runs while Node has work and lets the process exit", async (t) => {
  const child = await runFixture('driver-child.js', ['unref-idle']);
  t.is(child.code, 0, child.stderr);
  t.false(child.timedOut);
  const [report] = jsonLines(child.stdout) as Array<{ runs: number }>;
  t.true(report!.runs >= 20, `${report!.runs} idle runs while Node had work`);
});

test('process.exit() from inside a callback of a blocking run() exits with its code', async (t) => {
  const child = await runFixture('driver-child.js', ['exit-in-callback']);
  t.false(child.timedOut);
  t.is(child.signal, null);
  t.is(child.code, 7, child.stderr);
  t.is(child.stderr, '');
});
