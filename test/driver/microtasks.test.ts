// Microtasks and process.nextTick drain after every embedded batch. The
// hazard (FINDINGS.md): with plain napi_call_function and no callback scope
// they never drained inside callbacks, and an await-per-event chain crawled
// at ~116 steps/s. These chains must run at full speed.
import { deferred, loopTest, within } from '../helpers/loop-test.js';
import { Async, Idle, Timer } from '../../handles/index.js';

const STEPS = 10_000;
const BOUND_MS = 10_000; // generous: the point is "not 116/s", which is 86 s

loopTest(`an Async-driven chain of ${STEPS} awaits runs at full speed`, async (t, loop) => {
  const done = deferred<number>();
  let steps = 0;
  const start = Date.now();
  const async = new Async(loop, async (h) => {
    await null; // continues in this batch's microtask drain
    if (++steps < STEPS) h.send();
    else done.resolve(Date.now() - start);
  });
  async.send();
  const ms = await within(done.promise, `${STEPS} async wake-ups`, BOUND_MS);
  t.log(
    `${STEPS} Async wake-ups with an await each: ${ms} ms (${Math.round((STEPS / ms) * 1000)}/s)`,
  );
  t.is(steps, STEPS);
  async.close();
});

loopTest(`an Idle-driven chain of ${STEPS} awaits runs at full speed`, async (t, loop) => {
  const done = deferred<number>();
  let steps = 0;
  const start = Date.now();
  const idle = new Idle(loop);
  const step = async (): Promise<void> => {
    idle.stop();
    await null;
    if (++steps < STEPS) idle.start(step);
    else done.resolve(Date.now() - start);
  };
  idle.start(step);
  const ms = await within(done.promise, `${STEPS} idle steps`, BOUND_MS);
  t.log(`${STEPS} Idle steps with an await each: ${ms} ms`);
  t.is(steps, STEPS);
  idle.close();
});

loopTest('a timer-driven chain of awaits runs at full speed', async (t, loop) => {
  const count = 2000;
  const done = deferred<number>();
  let steps = 0;
  const start = Date.now();
  const timer = new Timer(loop);
  const step = async (): Promise<void> => {
    await null;
    await null;
    if (++steps < count) timer.start(step, 0);
    else done.resolve(Date.now() - start);
  };
  timer.start(step, 0);
  const ms = await within(done.promise, `${count} timer steps`, BOUND_MS);
  t.log(`${count} 0 ms timer steps with two awaits each: ${ms} ms`);
  t.is(steps, count);
  timer.close();
});

loopTest('awaits inside one callback finish before the next batch', async (t, loop) => {
  // 1000 awaits in one callback all complete in that batch's drain, so the
  // next Idle run already sees the result.
  const idle = new Idle(loop);
  const seen: number[] = [];
  let awaited = 0;
  const done = deferred();
  idle.start(async () => {
    seen.push(awaited);
    if (seen.length === 2) {
      idle.stop();
      done.resolve();
      return;
    }
    for (let i = 0; i < 1000; i++) {
      await null;
      awaited++;
    }
  });
  await within(done.promise, 'two idle runs', 10_000);
  t.deepEqual(seen, [0, 1000]);
  idle.close();
});

loopTest('process.nextTick from a callback runs before the next batch', async (t, loop) => {
  const idle = new Idle(loop);
  const log: string[] = [];
  const done = deferred();
  idle.start(() => {
    log.push('idle');
    if (log.length > 1) {
      idle.stop();
      done.resolve();
      return;
    }
    process.nextTick(() => log.push('tick'));
    queueMicrotask(() => log.push('microtask'));
  });
  await within(done.promise, 'two idle runs', 10_000);
  t.deepEqual(log, ['idle', 'tick', 'microtask', 'idle']);
  idle.close();
});

loopTest('in a blocking run(), promise continuations wait until run() returns', async (t, loop) => {
  // Only the embedded driver opens a callback scope; a blocking run() is
  // one JS call, and microtasks drain when the code that called it yields.
  const timer = new Timer(loop);
  const log: string[] = [];
  timer.start(() => {
    log.push('timer');
    void Promise.resolve().then(() => log.push('microtask'));
  }, 1);
  loop.run();
  log.push('run returned');
  await null;
  t.deepEqual(log, ['timer', 'run returned', 'microtask']);
  timer.close();
});
