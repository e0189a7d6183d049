// Handles cancelled by a callback of the same iteration, and when() of
// timer handles (test_base_events.py: _run_once skips handles cancelled
// after they became ready; test_events.py TimerTests: when(), cancelled();
// test_events.py test_remove_fds_after_closing).
import { makeFifo } from '../fifo.js';
import { type MakeLoop, type Test, future, testIf, withLoop, within } from '../harness.js';

export function handlesInBatch(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: a callSoon callback cancelling a later one of the same batch stops it`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      const done = future();
      loop.callSoon(() => {
        calls.push('first');
        second.cancel();
      });
      const second = loop.callSoon(() => calls.push('second'));
      loop.callSoon(() => calls.push('third'));
      loop.callSoon(done.resolve);
      await within(done.promise, 'callbacks');
      t.deepEqual(calls, ['first', 'third']);
      t.true(second.cancelled());
    }));

  test(`${name}: a timer cancelling another timer due at the same time stops it`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      const done = future();
      const when = loop.time() + 0.01;
      loop.callAt(when, () => {
        calls.push('first');
        second.cancel();
        soon.cancel();
      });
      const second = loop.callAt(when, () => calls.push('second'));
      const soon = loop.callAt(when, () => calls.push('third'));
      loop.callAt(when + 0.01, done.resolve);
      await within(done.promise, 'timers');
      t.deepEqual(calls, ['first']);
      t.true(second.cancelled());
    }));

  test(`${name}: a callSoon made by a due timer runs after the other timers due in that iteration`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // asyncio's _run_once moves every due timer to the ready queue, then
      // runs the ready queue as it was: a callSoon made by a due timer runs
      // after the other timers due in that iteration.
      const calls: string[] = [];
      const done = future();
      const record = (call: string): void => {
        calls.push(call);
        if (calls.length === 3) done.resolve();
      };
      const when = loop.time() + 0.01;
      loop.callAt(when, () => {
        record('timer 1');
        loop.callSoon(() => record('soon from timer 1'));
      });
      loop.callAt(when, () => record('timer 2'));
      await within(done.promise, 'timers');
      t.deepEqual(calls, ['timer 1', 'timer 2', 'soon from timer 1']);
    }));

  test(`${name}: when() is the time given to callAt, and loop.time() + delay for callLater`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const at = loop.time() + 3600;
      const handle = loop.callAt(at, () => {});
      t.is(handle.when(), at);
      const before = loop.time();
      const later = loop.callLater(1800, () => {});
      const after = loop.time();
      t.true(later.when() >= before + 1800 && later.when() <= after + 1800);
      t.false(handle.cancelled());
      handle.cancel();
      handle.cancel();
      later.cancel();
      t.true(handle.cancelled());
      t.is(handle.when(), at, 'when() stays after cancel()');
    }));

  testIf(
    test,
    makeLoop,
    'addReader',
    `${name}: removeReader and removeWriter return false after the loop closed`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const fifo = await makeFifo();
        try {
          loop.addReader(fifo.readFd, () => {});
          loop.addWriter(fifo.writeFd, () => {});
          loop.close();
          t.false(loop.removeReader(fifo.readFd));
          t.false(loop.removeWriter(fifo.writeFd));
          t.throws(() => loop.addReader(fifo.readFd, () => {}), { code: 'ERR_LOOP_CLOSED' });
        } finally {
          fifo.dispose();
        }
      }),
  );
}
