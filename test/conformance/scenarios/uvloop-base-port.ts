// Cases of uvloop's tests/test_base.py (_TestBase, TestBaseUV), which
// uvloop runs on its loop and on asyncio's own, that had no counterpart in
// this suite: test_now_update, test_call_later_1, test_call_later_2 (a
// timer set after a blocking stretch counts from now, not from a time
// cached before it), test_call_later_rounding (uvloop #233: never early),
// test_call_at (a cancelled twin), test_loop_call_soon_handle_cancelled,
// test_loop_call_later_handle_cancelled, test_loop_call_later_handle_when,
// test_loop_call_later_handle_when_after_fired and test_inf_wait_for.
// Bounds are lower bounds only (the machine may be loaded), as
// loop-edges.ts's.
import { type AbstractEventLoop, waitFor } from 'asyncuv';
import { cases, type MakeLoop, type Test } from '../harness.js';

/** Blocks this thread for `ms`, as uvloop's time.sleep() in a callback. */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** asyncio.sleep(delay) on `loop`. */
function loopSleep(loop: AbstractEventLoop, delay: number): Promise<void> {
  return new Promise((resolve) => loop.callLater(delay, resolve));
}

// The clock resolution: loop.time() is performance.now(), libuv's timers
// count whole milliseconds.
const kSlack = 0.001;

export function uvloopBasePort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, `${name}: uvloop`);

  it('test_now_update: time() moves while a callback blocks', async ({ loop }, t) => {
    const delta = await loop.runUntilComplete(async () => {
      const start = loop.time();
      block(50);
      return loop.time() - start;
    });
    t.true(delta >= 0.05 - kSlack, String(delta));
  });

  it('test_call_later_1: timers run in order, on a running loop; a cancelled one and a far one do not', async ({
    loop,
  }, t) => {
    const calls: number[] = [];
    const running: boolean[] = [];
    const cb = (inc = 10, stop = false): void => {
      calls.push(inc);
      running.push(loop.isRunning());
      if (stop) loop.callSoon(() => loop.stop());
    };
    loop.callLater(0.05, cb);
    const cancelled = loop.callLater(0.05, cb, 100, true);
    cancelled.cancel();
    t.true(cancelled.cancelled());
    loop.callLater(0.05, cb, 1, true);
    const far = loop.callLater(1000, cb, 1000);
    const started = performance.now();
    await loop.runForever();
    const elapsed = (performance.now() - started) / 1000;
    t.deepEqual(calls, [10, 1]);
    t.deepEqual(running, [true, true]);
    t.false(loop.isRunning());
    t.true(elapsed >= 0.05 - kSlack, String(elapsed));
    far.cancel();
  });

  it('test_call_later_2: a timer set after the thread was blocked counts from then', async ({
    loop,
  }, t) => {
    const started = performance.now();
    await loop.runUntilComplete(async () => {
      await loopSleep(loop, 0.001);
      block(10);
      await loopSleep(loop, 0.01);
    });
    const elapsed = (performance.now() - started) / 1000;
    t.true(elapsed >= 0.02 - kSlack, String(elapsed));
  });

  it('test_call_later_negative: a negative delay runs soon, with its argument', async ({
    loop,
  }, t) => {
    const calls: string[] = [];
    loop.callLater(
      -1,
      (arg: string) => {
        calls.push(arg);
        loop.stop();
      },
      'a',
    );
    await loop.runForever();
    t.deepEqual(calls, ['a']);
  });

  it('test_call_later_rounding: callLater(0.06 + 0.01) never runs before 69 ms, eight times over', async ({
    loop,
  }, t) => {
    for (let i = 0; i < 8; i++) {
      // The start is read before the call (uvloop's test reads it after):
      // a thread held up between the two would count the hold-up as the
      // timer's lateness, and the timer would look early.
      const started = Math.round(loop.time() * 1000);
      loop.callLater(0.06 + 0.01, () => loop.stop()); // 0.06999999999999999
      await loop.runForever();
      const finished = Math.round(loop.time() * 1000);
      t.true(finished - started >= 69, `run ${i}: ${finished - started} ms`);
    }
  });

  it('test_call_at: of two callAt for one time, the cancelled one does not run; the other not before it', async ({
    loop,
  }, t) => {
    let i = 0;
    const cb = (inc: number): void => {
      i += inc;
      loop.stop();
    };
    const at = loop.time() + 0.05;
    loop.callAt(at, cb, 100).cancel();
    loop.callAt(at, cb, 10);
    await loop.runForever();
    t.is(i, 10);
    t.true(loop.time() >= at - kSlack);
  });

  it('test_loop_call_soon_handle_cancelled, test_loop_call_later_handle_cancelled: cancelled() says so, and nothing runs', async ({
    loop,
  }, t) => {
    const ran: string[] = [];
    const soon = loop.callSoon(() => ran.push('soon'));
    const later = loop.callLater(0.001, () => ran.push('later'));
    t.false(soon.cancelled());
    t.false(later.cancelled());
    soon.cancel();
    later.cancel();
    t.true(soon.cancelled());
    t.true(later.cancelled());
    await loop.runUntilComplete(loopSleep(loop, 0.01));
    t.deepEqual(ran, []);
  });

  it('test_loop_call_later_handle_when (and after it fired): when() is time() + delay, and stays', async ({
    loop,
  }, t) => {
    const before = loop.time();
    const h = loop.callLater(0.01, () => loop.stop());
    const after = loop.time();
    t.true(h.when() >= before + 0.01 && h.when() <= after + 0.01, `${before} ${h.when()} ${after}`);
    const when = h.when();
    await loop.runForever();
    t.is(h.when(), when);
    t.false(h.cancelled());
    const far = loop.callLater(3600, () => {});
    t.true(Math.abs(far.when() - (loop.time() + 3600)) < 1);
    far.cancel();
  });

  it('test_inf_wait_for: waitFor with an infinite timeout waits for the work', async ({
    loop,
  }, t) => {
    const result = await loop.runUntilComplete(
      waitFor(
        loopSleep(loop, 0.01).then(() => 'done'),
        Infinity,
      ),
    );
    t.is(result, 'done');
  });
}
