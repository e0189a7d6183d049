// callLater/callAt beyond the basics of callbacks.ts: the ordering rule
// across the timer queue's millisecond buckets, cancelling many, timers in
// the past, timers scheduled from a timer callback, very large delays.
import { type MakeLoop, type Test, future, withLoop, within } from '../harness.js';

export function timers(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: equal and near-equal whens around millisecond boundaries run by when, then scheduling order`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: number[] = [];
      const done = future();
      // A whole millisecond boundary shortly ahead, and whens on both sides
      // of it a tenth of a microsecond apart, scheduled out of order.
      const edge = Math.ceil((loop.time() + 0.02) * 1000) / 1000;
      const offsets = [0, 1e-7, -1e-7, 0, 0.001, -1e-7, 0.0009999, 1e-7, 0, 0.001, -0.0005];
      const handles = offsets.map((d, i) => loop.callAt(edge + d, () => calls.push(i)));
      loop.callAt(edge + 0.002, done.resolve);
      await within(done.promise, 'timers around a millisecond boundary');
      const expected = handles
        .map((h, i) => ({ when: h.when(), i }))
        .sort((a, b) => a.when - b.when || a.i - b.i)
        .map((e) => e.i);
      t.deepEqual(calls, expected);
    }));

  test(`${name}: callLater and callAt pass their callbacks' arguments, or none`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: unknown[][] = [];
      const done = future();
      const record = (...args: unknown[]): void => void calls.push(args);
      loop.callLater(0, record);
      loop.callLater(0.001, record, 'a', 1, undefined);
      loop.callAt(loop.time() + 0.002, record, null);
      loop.callAt(loop.time() + 0.003, record);
      loop.callLater(0.004, done.resolve);
      await within(done.promise, 'timers with arguments');
      t.deepEqual(calls, [[], ['a', 1, undefined], [null], []]);
    }));

  test(`${name}: callAt in the past runs in the next iteration, in when order, after queued callbacks`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      const done = future();
      const now = loop.time();
      loop.callSoon(() => calls.push('soon'));
      loop.callAt(now - 5, () => calls.push('5 s ago'));
      loop.callAt(-1e300, () => calls.push('long ago'));
      loop.callAt(now - 0.001, () => calls.push('1 ms ago'));
      loop.callAt(now - 5, () => calls.push('5 s ago, second'));
      loop.callAt(now - 0.001, () => {
        calls.push('1 ms ago, second');
        done.resolve();
      });
      await within(done.promise, 'timers in the past');
      t.deepEqual(calls, [
        'soon',
        'long ago',
        '5 s ago',
        '5 s ago, second',
        '1 ms ago',
        '1 ms ago, second',
      ]);
    }));

  test(`${name}: a timer a timer callback schedules for now runs in the next iteration`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      const done = future();
      const when = loop.time() + 0.005;
      loop.callAt(when, () => {
        calls.push('first');
        // Due at once, in the same millisecond: asyncio moves it to the
        // ready queue in the next iteration, after what this iteration
        // queued (the callSoon), not in this one.
        loop.callAt(when, () => {
          calls.push('scheduled by first');
          done.resolve();
        });
        loop.callSoon(() => calls.push('soon from first'));
      });
      loop.callAt(when, () => calls.push('second'));
      await within(done.promise, 'a timer from a timer callback');
      t.deepEqual(calls, ['first', 'second', 'soon from first', 'scheduled by first']);
    }));

  test(`${name}: cancelling thousands of timers leaves only the others counted, and none when all are`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const handles = Array.from({ length: 5000 }, (_, i) =>
        loop.callLater(30 + (i % 700) / 1000, () => t.fail('a cancelled timer ran')),
      );
      const calls: number[] = [];
      const kept = [17, 2500, 4999];
      for (const i of kept) {
        handles[i]!.cancel();
        handles[i] = loop.callLater(0.001 * (i % 7), () => calls.push(i));
      }
      t.deepEqual(loop.liveResources(), { timer: 5000 });
      for (const [i, h] of handles.entries()) if (!kept.includes(i)) h.cancel();
      t.deepEqual(loop.liveResources(), { timer: 3 });
      const done = future();
      loop.callLater(0.01, done.resolve);
      await within(done.promise, 'the timers left');
      t.deepEqual(
        [...calls].sort((a, b) => a - b),
        kept,
      );
      // Every handle cancelled or run: nothing left, and nothing armed
      // (the fixture's leak check finds no timer of the loop).
      for (const h of handles) h.cancel();
      t.deepEqual(loop.liveResources(), {});
    }));

  test(`${name}: very large delays wait, do not throw or fire early, and cancel cleanly`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const far = [
        loop.callLater(1e9, () => t.fail('ran')),
        loop.callLater(2 ** 31, () => t.fail('ran')),
        loop.callLater(1e300, () => t.fail('ran')),
        loop.callAt(Number.MAX_VALUE, () => t.fail('ran')),
      ];
      t.true(far[2]!.when() >= 1e300);
      t.is(far[3]!.when(), Number.MAX_VALUE);
      const done = future();
      loop.callLater(0.01, done.resolve);
      await within(done.promise, 'a short timer among far ones');
      t.deepEqual(loop.liveResources(), { timer: 4 });
      for (const h of far) h.cancel();
      t.deepEqual(loop.liveResources(), {});
    }));
}
