// Unref'd handles run while something else keeps the process alive. The
// hazard (FINDINGS.md): uv_backend_timeout() is 0 whenever no ref'd handle
// is active, so a driver that trusts it either spins or, once it stops the
// timer to avoid spinning, never fires unref'd timers.
import { deferred, loopTest, waitFor, within } from '../helpers/loop-test.js';
import { Check, Idle, Signal, Timer } from '../../handles/index.js';

loopTest("an unref'd timer fires while a Node timer keeps the process alive", async (t, loop) => {
  const timer = new Timer(loop);
  timer.unref();
  const fired = deferred<number>();
  const start = Date.now();
  timer.start(() => fired.resolve(Date.now() - start), 50);
  t.false(loop.alive);
  const keepAlive = setTimeout(() => {}, 5000);
  try {
    const ms = await within(fired.promise, "the unref'd timer", 10_000);
    t.true(ms >= 45, `fired after ${ms} ms`);
  } finally {
    clearTimeout(keepAlive);
  }
  timer.close();
});

loopTest("an unref'd repeating timer keeps its rhythm", async (t, loop) => {
  const timer = new Timer(loop);
  timer.unref();
  let ticks = 0;
  const done = deferred();
  timer.start(
    () => {
      if (++ticks === 5) done.resolve();
    },
    10,
    10,
  );
  await within(done.promise, 'five ticks', 10_000);
  t.is(ticks, 5);
  timer.close();
});

loopTest("an unref'd timer due before a ref'd one fires first", async (t, loop) => {
  // The driver must arm Node's timer for the earliest deadline of both kinds.
  const early = new Timer(loop);
  const late = new Timer(loop);
  const order: string[] = [];
  const done = deferred();
  early.unref();
  early.start(() => order.push('unref early'), 10);
  late.start(() => {
    order.push('ref late');
    done.resolve();
  }, 200);
  await within(done.promise, "the ref'd timer", 10_000);
  t.deepEqual(order, ['unref early', 'ref late']);
  early.close();
  late.close();
});

loopTest("an unref'd Idle and Check run while Node has work", async (t, loop) => {
  const idle = new Idle(loop);
  const check = new Check(loop);
  let idles = 0;
  let checks = 0;
  idle.unref();
  check.unref();
  idle.start(() => idles++);
  check.start(() => checks++);
  // A pending Node timer is the "work" that keeps the process up.
  const keepAlive = setTimeout(() => {}, 5000);
  t.true(await waitFor(() => idles > 5 && checks > 5), `${idles} idle runs, ${checks} check runs`);
  clearTimeout(keepAlive);
  idle.close();
  check.close();
});

loopTest.serial("an unref'd Signal is still delivered", async (t, loop) => {
  const signal = new Signal(loop);
  signal.unref();
  const got = deferred<number>();
  signal.start((signum) => got.resolve(signum), 'SIGUSR2');
  process.kill(process.pid, 'SIGUSR2');
  t.is(await within(got.promise, 'SIGUSR2', 10_000), signal.signum);
  signal.close();
});

loopTest('ref() again makes a timer keep the loop alive', async (t, loop) => {
  const timer = new Timer(loop);
  timer.unref();
  timer.start(() => {}, 10_000);
  t.false(loop.alive);
  timer.ref();
  t.true(loop.alive);
  timer.unref();
  t.false(loop.alive);
  timer.close();
});
