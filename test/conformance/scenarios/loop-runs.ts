// Starting and ending runs of the loop (test_base_events.py:
// test_run_forever_pre_stopped, test_run_once's call_soon(stop) idiom;
// test_events.py: run_until_complete of a future that already failed or
// already has its result).
import { setTimeout as sleep } from 'node:timers/promises';
import { type MakeLoop, type Test, withLoop, within } from '../harness.js';

export function loopRuns(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: stop() before runForever(): the run handles what is queued, then returns`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      loop.stop();
      t.false(loop.isRunning());
      const forever = loop.runForever();
      loop.callSoon(() => calls.push('queued'));
      await within(forever, 'the pre-stopped runForever');
      t.deepEqual(calls, ['queued']);
      t.false(loop.isRunning());
      // The stop is spent: the next run goes on until the next stop().
      let ended = false;
      const next = loop.runForever().then(() => (ended = true));
      await sleep(20);
      t.false(ended);
      t.true(loop.isRunning());
      loop.stop();
      await within(next, 'runForever');
    }));

  test(`${name}: stop() before runUntilComplete() of work that needs more than one iteration: ERR_LOOP_STOPPED`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      loop.stop();
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      await t.throwsAsync(
        within(
          loop.runUntilComplete(() => held),
          'runUntilComplete',
        ),
        { code: 'ERR_LOOP_STOPPED' },
      );
      release();
      t.false(loop.isRunning());
      t.is(await within(loop.runUntilComplete(Promise.resolve('after')), 'next run'), 'after');
    }));

  test(`${name}: runUntilComplete of a promise that already rejected rejects with its error, unreported`, (t) =>
    withLoop(t, makeLoop, async ({ loop, exceptions }) => {
      const boom = new Error('already failed');
      const failed = Promise.reject(boom);
      t.is(await t.throwsAsync(within(loop.runUntilComplete(failed), 'runUntilComplete')), boom);
      t.false(loop.isRunning());
      t.is(await within(loop.runUntilComplete(Promise.resolve(42)), 'a resolved one'), 42);
      t.deepEqual(exceptions, []);
    }));

  test(`${name}: runUntilComplete of a function that throws at once rejects with that error`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const boom = new Error('thrown before any await');
      const err = await t.throwsAsync(
        within(
          loop.runUntilComplete(() => {
            throw boom;
          }),
          'runUntilComplete',
        ),
      );
      t.is(err, boom);
      t.false(loop.isRunning());
    }));
}
