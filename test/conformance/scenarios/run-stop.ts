// Running and stopping a loop (test_events.py: test_run_until_complete*,
// test_run_forever*, test_close*), and the closed-loop rules.
import { setTimeout as sleep } from 'node:timers/promises';
import { getRunningLoop, run } from 'asyncuv';
import { type MakeLoop, type Test, withLoop, within } from '../harness.js';

export function runStop(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: runForever resolves after stop() from a callback`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      loop.callSoon(() => {
        calls.push('cb');
        t.true(loop.isRunning());
        loop.stop();
      });
      t.false(loop.isRunning());
      await within(loop.runForever(), 'runForever');
      t.deepEqual(calls, ['cb']);
      t.false(loop.isRunning());
    }));

  test(`${name}: stop() lets the callbacks already queued run first`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // asyncio: stop() finishes the current iteration, so a callback
      // queued before it still runs.
      const calls: number[] = [];
      const running = loop.runForever();
      loop.callSoon(() => calls.push(1));
      loop.stop();
      await within(running, 'runForever after stop');
      t.deepEqual(calls, [1]);
    }));

  test(`${name}: the running loop is getRunningLoop() only while it runs`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      let seen: unknown;
      loop.callSoon(() => {
        seen = getRunningLoop();
        loop.stop();
      });
      await within(loop.runForever(), 'runForever');
      t.is(seen, loop);
      t.not(getRunningLoop(), loop);
    }));

  test(`${name}: runUntilComplete returns the work's result`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const result = await loop.runUntilComplete(async () => {
        await new Promise<void>((resolve) => loop.callLater(0.01, resolve));
        return 42;
      });
      t.is(result, 42);
      t.false(loop.isRunning());
      t.is(await loop.runUntilComplete(Promise.resolve('promise')), 'promise');
    }));

  test(`${name}: runUntilComplete rejects with the work's error`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const boom = new Error('boom');
      const err = await t.throwsAsync(
        loop.runUntilComplete(async () => {
          await new Promise<void>((resolve) => loop.callSoon(resolve));
          throw boom;
        }),
      );
      t.is(err, boom);
      t.false(loop.isRunning());
    }));

  test(`${name}: runUntilComplete rejects when the loop is stopped first`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // The work ends only after the rejection, so no delay can finish it first.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      await t.throwsAsync(
        loop.runUntilComplete(async () => {
          loop.stop();
          await held;
        }),
        { code: 'ERR_LOOP_STOPPED' },
      );
      release();
      t.false(loop.isRunning());
    }));

  test(`${name}: runUntilComplete takes only a promise or a function returning one`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      await t.throwsAsync(async () => loop.runUntilComplete(42 as never), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
      await t.throwsAsync(async () => loop.runUntilComplete((() => 42) as never), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
      t.false(loop.isRunning());
    }));

  test(`${name}: running a running loop again throws ERR_LOOP_RUNNING`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const running = loop.runForever();
      await t.throwsAsync(async () => loop.runForever(), { code: 'ERR_LOOP_RUNNING' });
      await t.throwsAsync(async () => loop.runUntilComplete(Promise.resolve()), {
        code: 'ERR_LOOP_RUNNING',
      });
      loop.stop();
      await within(running, 'runForever');
    }));

  test(`${name}: closing a running loop throws ERR_LOOP_RUNNING and leaves it usable`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const running = loop.runForever();
      t.throws(() => loop.close(), { code: 'ERR_LOOP_RUNNING' });
      t.false(loop.isClosed());
      const ran = new Promise<void>((resolve) => loop.callSoon(resolve));
      await within(ran, 'callback after failed close');
      loop.stop();
      await within(running, 'runForever');
    }));

  test(`${name}: a closed loop refuses work with ERR_LOOP_CLOSED`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const pending: string[] = [];
      loop.callSoon(() => pending.push('soon'));
      loop.callLater(0, () => pending.push('later'));
      loop.close();
      t.true(loop.isClosed());
      loop.close(); // a second close is a no-op
      t.throws(() => loop.callSoon(() => {}), { code: 'ERR_LOOP_CLOSED' });
      t.throws(() => loop.callSoonThreadsafe(() => {}), { code: 'ERR_LOOP_CLOSED' });
      t.throws(() => loop.callLater(0.01, () => {}), { code: 'ERR_LOOP_CLOSED' });
      t.throws(() => loop.callAt(loop.time(), () => {}), { code: 'ERR_LOOP_CLOSED' });
      await t.throwsAsync(async () => loop.runForever(), { code: 'ERR_LOOP_CLOSED' });
      await t.throwsAsync(async () => loop.runUntilComplete(Promise.resolve()), {
        code: 'ERR_LOOP_CLOSED',
      });
      await sleep(20);
      // Callbacks pending at close() are dropped, as in asyncio.
      t.deepEqual(pending, []);
    }));

  test(`${name}: stop() on a loop that is not running leaves it not running; callbacks still run`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      loop.stop();
      t.false(loop.isRunning());
      const ran = new Promise<string>((resolve) => loop.callSoon(() => resolve('ran')));
      t.is(await within(ran, 'callSoon'), 'ran');
    }));

  test(`${name}: run() runs main on the given loop and leaves it open`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const result = await run(
        async (l) => {
          t.is(l, loop);
          t.true(l.isRunning());
          return 'done';
        },
        { loop },
      );
      t.is(result, 'done');
      t.false(loop.isClosed());
    }));
}
