// Unix signal handlers (test_events.py: test_add_signal_handler,
// test_remove_signal_handler, test_signal_handling_*). Real signals are
// sent to this process, so these tests run serially. SIGUSR2 and SIGWINCH
// are used: SIGUSR1 would start Node's inspector, and a process-level
// listener keeps a stray signal from ending the test process.
import { setTimeout as sleep } from 'node:timers/promises';
import { constants } from 'node:os';
import { type MakeLoop, type Test, future, withLoop, within } from '../harness.js';

const keepAlive = (): void => {};

export function signals(test: Test, makeLoop: MakeLoop, name: string): void {
  test.before(() => {
    process.on('SIGUSR2', keepAlive);
    process.on('SIGWINCH', keepAlive);
  });
  test.after.always(() => {
    process.off('SIGUSR2', keepAlive);
    process.off('SIGWINCH', keepAlive);
  });

  test.serial(`${name}: a signal sent to the process calls the handler with its arguments`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const got = future<unknown[]>();
      loop.addSignalHandler('SIGUSR2', (...args: unknown[]) => got.resolve(args), 'a', 2);
      process.kill(process.pid, 'SIGUSR2');
      t.deepEqual(await within(got.promise, 'signal handler'), ['a', 2]);
      t.true(loop.removeSignalHandler('SIGUSR2'));
    }),
  );

  test.serial(`${name}: close() removes a signal handler, also after a garbage collection`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc === undefined) return t.fail('needs node --expose-gc (ava runs with it)');
      const listeners = process.listenerCount('SIGWINCH');
      loop.addSignalHandler('SIGWINCH', () => {});
      // Nothing but the loop references its record of the handler.
      for (let i = 0; i < 3; i++) {
        await sleep(1);
        gc();
      }
      t.deepEqual(loop.liveResources(), { signal: 1 });
      loop.close();
      t.deepEqual(loop.liveResources(), {});
      t.is(process.listenerCount('SIGWINCH'), listeners);
    }),
  );

  test.serial(
    `${name}: signals are accepted by number too, and the handler runs once per delivery`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        let calls = 0;
        loop.addSignalHandler(constants.signals.SIGWINCH, () => calls++);
        process.kill(process.pid, 'SIGWINCH');
        for (let i = 0; i < 200 && calls === 0; i++) await sleep(5);
        t.is(calls, 1);
        process.kill(process.pid, 'SIGWINCH');
        for (let i = 0; i < 200 && calls === 1; i++) await sleep(5);
        t.is(calls, 2);
        t.true(loop.removeSignalHandler('SIGWINCH'), 'removed by name');
      }),
  );

  test.serial(`${name}: adding a handler again replaces the first one`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const calls: string[] = [];
      const got = future();
      loop.addSignalHandler('SIGUSR2', () => calls.push('first'));
      loop.addSignalHandler('SIGUSR2', () => {
        calls.push('second');
        got.resolve();
      });
      process.kill(process.pid, 'SIGUSR2');
      await within(got.promise, 'second handler');
      await sleep(20);
      t.deepEqual(calls, ['second']);
      t.true(loop.removeSignalHandler('SIGUSR2'));
      t.false(loop.removeSignalHandler('SIGUSR2'), 'one handler, the second, was installed');
    }),
  );

  test.serial(
    `${name}: removeSignalHandler returns true once, then false; a removed handler is not called`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        let calls = 0;
        t.false(loop.removeSignalHandler('SIGWINCH'));
        loop.addSignalHandler('SIGWINCH', () => calls++);
        t.true(loop.removeSignalHandler('SIGWINCH'));
        t.false(loop.removeSignalHandler('SIGWINCH'));
        process.kill(process.pid, 'SIGWINCH');
        await sleep(50);
        t.is(calls, 0);
      }),
  );

  test.serial(`${name}: SIGKILL and SIGSTOP cannot be handled`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      t.throws(() => loop.addSignalHandler('SIGKILL', () => {}), { code: 'ERR_INVALID_ARG_VALUE' });
      t.throws(() => loop.addSignalHandler(constants.signals.SIGSTOP, () => {}), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }),
  );

  test.serial(`${name}: bad signal numbers and names are errors`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      t.throws(() => loop.addSignalHandler(-1, () => {}), { code: 'ERR_OUT_OF_RANGE' });
      t.throws(() => loop.addSignalHandler(0, () => {}), { code: 'ERR_OUT_OF_RANGE' });
      t.throws(() => loop.addSignalHandler(1000, () => {}), { code: 'ERR_OUT_OF_RANGE' });
      t.throws(() => loop.addSignalHandler('SIGNOPE', () => {}), { code: 'ERR_UNKNOWN_SIGNAL' });
      t.throws(() => loop.removeSignalHandler(-1), { code: 'ERR_OUT_OF_RANGE' });
      t.throws(() => loop.addSignalHandler('SIGUSR2', 'nope' as never), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
    }),
  );

  test.serial(
    `${name}: closing the loop removes its signal handlers; a closed loop refuses new ones`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        let calls = 0;
        loop.addSignalHandler('SIGWINCH', () => calls++);
        loop.close();
        process.kill(process.pid, 'SIGWINCH');
        await sleep(50);
        t.is(calls, 0);
        t.throws(() => loop.addSignalHandler('SIGWINCH', () => {}), { code: 'ERR_LOOP_CLOSED' });
      }),
  );
}
