// The behaviours Idle, Prepare and Check share (they are one libuv
// template). Each of idle/prepare/check.test.ts registers these for its
// class and adds the tests of what makes that handle different.
import { loopTest, waitFor } from './loop-test.js';
import { type Loop, type LoopWatcher, Timer, UsageError } from '../../handles/index.js';

export type WatcherClass = new (loop?: Loop) => LoopWatcher;

export function loopWatcherCases(Watcher: WatcherClass): void {
  const name = Watcher.name;

  loopTest(`${name}: runs once per iteration in blocking mode`, (t, loop) => {
    const watcher = new Watcher(loop);
    let calls = 0;
    watcher.start(() => calls++);
    t.true(watcher.active);
    loop.run('nowait');
    loop.run('nowait');
    loop.run('nowait');
    t.is(calls, 3);
    watcher.close();
  });

  loopTest(`${name}: runs once per embedded iteration without run()`, async (t, loop) => {
    // Prepare and Check do not stop the poll from blocking (only Idle
    // does), so a repeating timer provides the iterations here.
    const watcher = new Watcher(loop);
    const ticker = new Timer(loop);
    let calls = 0;
    let ticks = 0;
    watcher.start(() => calls++);
    ticker.start(() => ticks++, 2, 2);
    t.true(await waitFor(() => ticks >= 10));
    t.true(calls >= ticks, `${calls} calls for ${ticks} timer ticks`);
    watcher.close();
    ticker.close();
  });

  loopTest(`${name}: the callback receives the handle`, (t, loop) => {
    const watcher = new Watcher(loop);
    let received: unknown;
    watcher.start((h) => (received = h));
    loop.run('nowait');
    t.is(received, watcher);
    watcher.close();
  });

  loopTest(`${name}: stop() inside the callback`, (t, loop) => {
    const watcher = new Watcher(loop);
    let calls = 0;
    watcher.start((h) => {
      calls++;
      h.stop();
    });
    // 'nowait': with only a Check left, a blocking run would wait in poll
    // forever, exactly as libuv does.
    t.false(loop.run('nowait'), 'the loop is not alive once the watcher stopped');
    t.is(calls, 1);
    t.false(watcher.active);
    watcher.close();
  });

  loopTest(`${name}: start() again after stop()`, (t, loop) => {
    const watcher = new Watcher(loop);
    const calls: string[] = [];
    watcher.start(() => calls.push('a'));
    loop.run('nowait');
    watcher.stop();
    loop.run('nowait');
    watcher.start(() => calls.push('b'));
    loop.run('nowait');
    t.deepEqual(calls, ['a', 'b']);
    watcher.close();
  });

  loopTest(`${name}: close() inside the callback`, (t, loop) => {
    const watcher = new Watcher(loop);
    let calls = 0;
    let closed = 0;
    watcher.start((h) => {
      calls++;
      h.close(() => closed++);
    });
    loop.run('nowait');
    t.is(calls, 1);
    t.is(closed, 1);
  });

  loopTest(`${name}: close() twice runs the first callback exactly once`, (t, loop) => {
    const watcher = new Watcher(loop);
    watcher.start(() => {});
    let first = 0;
    let second = 0;
    watcher.close(() => first++);
    watcher.close(() => second++);
    loop.run();
    t.is(first, 1);
    t.is(second, 0);
  });

  loopTest(`${name}: methods of a closed handle throw ERR_HANDLE_CLOSED`, (t, loop) => {
    const watcher = new Watcher(loop);
    watcher.close();
    for (const [what, call] of [
      ['start', () => watcher.start(() => {})],
      ['stop', () => watcher.stop()],
      ['ref', () => watcher.ref()],
      ['unref', () => watcher.unref()],
    ] as const) {
      const error = t.throws(call, { instanceOf: UsageError }, what);
      t.is(error?.code, 'ERR_HANDLE_CLOSED', what);
    }
    t.true(watcher.closed);
    t.false(watcher.active);
    loop.run();
  });

  loopTest(`${name}: a non-function callback throws ERR_INVALID_ARG_TYPE`, (t, loop) => {
    const watcher = new Watcher(loop);
    const start = watcher.start.bind(watcher) as (cb: unknown) => void;
    for (const bad of [undefined, null, 42, 'cb', {}]) {
      const error = t.throws(() => start(bad), { instanceOf: UsageError });
      t.is(error?.code, 'ERR_INVALID_ARG_TYPE');
    }
    t.false(watcher.active);
    watcher.close();
  });

  loopTest(`${name}: an unref'd watcher does not keep the loop alive`, (t, loop) => {
    const watcher = new Watcher(loop);
    watcher.start(() => {});
    t.true(loop.alive);
    watcher.unref();
    t.false(watcher.hasRef());
    t.false(loop.alive);
    t.false(loop.run('default'), 'run() returns instead of spinning');
    watcher.close();
  });
}
