// Garbage collection: an inactive handle nobody references is closed by its
// finalizer; an active one is pinned and keeps working. Needs --expose-gc
// (package.json passes it to ava).
import test from 'ava';
import { runFixture } from '../helpers/child.js';
import { deferred, loopTest, waitFor, within } from '../helpers/loop-test.js';
import { Async, Idle, Loop, TCP, Timer } from '../../handles/index.js';

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with --expose-gc');
  collect();
}

/**
 * GCs until the predicate holds: finalizers run in a later tick. A Timer
 * made or stopped becomes collectable once its job has ended (docs/handles.md),
 * hence the turn first.
 */
async function collectUntil(predicate: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  await new Promise((resolve) => setImmediate(resolve));
  return waitFor(
    () => {
      gc();
      return predicate();
    },
    timeoutMs,
    10,
  );
}

loopTest('inactive handles nobody references are closed by the GC', async (t, loop) => {
  (() => {
    for (let i = 0; i < 100; i++) new Timer(loop);
    for (let i = 0; i < 10; i++) new Idle(loop);
  })();
  t.deepEqual(loop.handleCounts(), { timer: 100, idle: 10 });
  t.true(
    await collectUntil(() => Object.keys(loop.handleCounts()).length === 0),
    JSON.stringify(loop.handleCounts()),
  );
});

loopTest('a started timer that is dropped still fires after gc()', async (t, loop) => {
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
  await within(fired.promise, 'the dropped timer', 10_000);
  t.pass();
});

loopTest('a dropped active Idle keeps running across gc() until stopped', async (t, loop) => {
  let runs = 0;
  const stopped = deferred();
  (() => {
    const idle = new Idle(loop);
    idle.start(() => {
      if (++runs === 100) idle.close(() => stopped.resolve());
      if (runs % 10 === 0) gc();
    });
  })();
  await within(stopped.promise, 'the dropped idle', 10_000).catch(async (error: Error) => {
    const probe = new Loop();
    const pt = new Timer(probe);
    let probeFired = false;
    pt.start(() => (probeFired = true), 1);
    await new Promise((r) => setTimeout(r, 300));
    const blockingProbe = probe.run('nowait');
    throw new Error(
      `${error.message}: ${runs} runs, alive=${loop.alive}, running=${loop.running}, ${JSON.stringify(loop.handleCounts())} probeFired=${probeFired} blocking=${blockingProbe} handles=${loop.handles().length}`,
    );
  });
  t.is(runs, 100);
});

loopTest('a dropped Async is kept alive while a sender can still wake it', async (t, loop) => {
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
  await within(woken.promise, 'the dropped Async', 10_000);
  t.true(await waitFor(() => sender.closed));
});

loopTest('a stopped timer that is dropped is collected and closed', async (t, loop) => {
  (() => {
    const timer = new Timer(loop);
    timer.start(() => {}, 10_000);
    timer.stop();
  })();
  t.deepEqual(loop.handleCounts(), { timer: 1 });
  t.true(await collectUntil(() => Object.keys(loop.handleCounts()).length === 0));
});

loopTest('handles() keeps listing live handles through gc()', async (t, loop) => {
  const kept = new Timer(loop);
  kept.start(() => {}, 10_000);
  await collectUntil(() => false, 50);
  t.deepEqual(loop.handles(), [kept]);
  kept.close();
});

test('with ASYNCUV_DEBUG set, a handle closed by the GC is named on stderr', async (t) => {
  const child = await runFixture('driver-child.js', ['gc-debug'], {
    nodeArgs: ['--expose-gc'],
    env: { ASYNCUV_DEBUG: '1' },
  });
  t.is(child.code, 0, child.stderr);
  t.regex(child.stdout, /"collected":true/);
  t.regex(child.stderr, /asyncuv: a timer handle was garbage-collected without close\(\)/);
  t.regex(child.stderr, /asyncuv: a idle handle was garbage-collected without close\(\)/);
});

test('loop.close() between a collection and its finalizers does not throw', (t) => {
  // gc() collects the dropped handles at once, but their finalizers only run
  // from a later immediate: close() meets wraps whose JS object is gone.
  const loop = new Loop();
  (() => {
    for (let i = 0; i < 50; i++) new Timer(loop);
  })();
  gc();
  t.notThrows(() => loop.close());
  t.deepEqual(loop.handleCounts(), {});
});

test('a closed stream that had a read buffer is collected safely with its closed loop', async (t) => {
  // Once a handle and then its loop are closed, the GC may finalize the two
  // in either order: the stream's finalizer must not reach for the loop. It
  // once released its read buffer through a freed LoopWrap (found by UBSan
  // under npm run test:asan).
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  const count = 20;
  for (let i = 0; i < count; i++) {
    await (async () => {
      const loop = new Loop();
      const tcp = new TCP(loop);
      tcp.setReadBuffer(Buffer.alloc(64));
      await new Promise<void>((resolve) => tcp.close(resolve));
      loop.close();
      registry.register(tcp, 'tcp');
      registry.register(loop, 'loop');
    })();
  }
  t.true(
    await collectUntil(() => collected === 2 * count),
    `${collected} of ${2 * count} collected`,
  );
});
