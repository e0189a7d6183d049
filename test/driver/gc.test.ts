// Garbage collection: an inactive handle nobody references is closed by its
// finalizer; an active one is pinned and keeps working. Needs --expose-gc
// (package.json passes it to ava).
import { deferred, loopTest, waitFor, within } from '../helpers/loop-test.js';
import { Async, Idle, Timer } from '../../handles/index.js';

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with --expose-gc');
  collect();
}

/**
 * GCs until the predicate holds: finalizers run in a later tick. A full GC
 * is slow on a loaded machine, so they are spaced out, and the tests of
 * this file run one at a time: concurrent GC storms starve every loop.
 */
async function collectUntil(predicate: () => boolean, timeoutMs = 20_000): Promise<boolean> {
  return waitFor(() => {
    gc();
    return predicate();
  }, timeoutMs, 50);
}

loopTest.serial('inactive handles nobody references are closed by the GC', async (t, loop) => {
  (() => {
    for (let i = 0; i < 100; i++) new Timer(loop);
    for (let i = 0; i < 10; i++) new Idle(loop);
  })();
  t.deepEqual(loop.handleCounts(), { timer: 100, idle: 10 });
  t.true(await collectUntil(() => Object.keys(loop.handleCounts()).length === 0), JSON.stringify(loop.handleCounts()));
});

loopTest.serial('a started timer that is dropped still fires after gc()', async (t, loop) => {
  const fired = deferred();
  (() => {
    const timer = new Timer(loop);
    timer.start(() => {
      timer.close();
      fired.resolve();
    }, 50);
  })();
  gc();
  gc();
  await within(fired.promise, 10_000, 'the dropped timer');
  t.pass();
});

loopTest.serial('a dropped active Idle keeps running across gc() until stopped', async (t, loop) => {
  let runs = 0;
  const stopped = deferred();
  (() => {
    const idle = new Idle(loop);
    idle.start(() => {
      if (++runs === 100) idle.close(() => stopped.resolve());
      if (runs % 25 === 0) gc();
    });
  })();
  await within(stopped.promise, 20_000, 'the dropped idle');
  t.is(runs, 100);
});

loopTest.serial('a dropped Async is kept alive while a sender can still wake it', async (t, loop) => {
  const woken = deferred();
  const sender = (() => {
    const async = new Async(loop, () => {
      async.close();
      woken.resolve();
    });
    return Async.from(async.handle);
  })();
  await collectUntil(() => false, 100); // several full GCs
  t.false(sender.closed);
  sender.send();
  await within(woken.promise, 10_000, 'the dropped Async');
  t.true(await waitFor(() => sender.closed));
});

loopTest.serial('a stopped timer that is dropped is collected and closed', async (t, loop) => {
  (() => {
    const timer = new Timer(loop);
    timer.start(() => {}, 10_000);
    timer.stop();
  })();
  t.deepEqual(loop.handleCounts(), { timer: 1 });
  t.true(await collectUntil(() => Object.keys(loop.handleCounts()).length === 0));
});

loopTest.serial('handles() keeps listing live handles through gc()', async (t, loop) => {
  const kept = new Timer(loop);
  kept.start(() => {}, 10_000);
  await collectUntil(() => false, 50);
  t.deepEqual(loop.handles(), [kept]);
  kept.close();
});
