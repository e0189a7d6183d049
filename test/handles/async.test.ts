// Async: wake-ups from this thread and from real worker threads, coalescing,
// and the sender's view of a closed Async.
import { once } from 'node:events';
import { Worker, threadId } from 'node:worker_threads';
import test from 'ava';
import { deferred, loopTest, waitFor, within } from '../helpers/loop-test.js';
import { Async, Timer, UsageError } from '../../handles/index.js';

const workerUrl = new URL('../fixtures/async-worker.js', import.meta.url);

/** Starts a fixture worker; `exited` is made at once so no exit is missed. */
function startWorker(workerData: object): { worker: Worker; exited: Promise<unknown> } {
  const worker = new Worker(workerUrl, { workerData });
  return { worker, exited: once(worker, 'exit') };
}

loopTest('send() from the same thread runs the callback', (t, loop) => {
  let calls = 0;
  let received: Async | undefined;
  const async = new Async(loop, (h) => {
    calls++;
    received = h;
  });
  async.send();
  loop.run('nowait');
  t.is(calls, 1);
  t.is(received, async);
  async.close();
});

loopTest('sends before the loop wakes coalesce into one callback', (t, loop) => {
  let calls = 0;
  const async = new Async(loop, () => calls++);
  async.send();
  async.send();
  async.send();
  loop.run('nowait');
  t.is(calls, 1);
  loop.run('nowait');
  t.is(calls, 1, 'no send, no callback');
  async.close();
});

loopTest("an Async is active and keeps the loop alive until closed or unref'd", (t, loop) => {
  const async = new Async(loop, () => {});
  t.true(async.active);
  t.true(loop.alive);
  async.unref();
  t.false(loop.alive);
  async.ref();
  t.true(loop.alive);
  async.close();
  loop.run();
  t.false(loop.alive);
});

loopTest('a worker wakes the loop; the callback runs on the loop thread', async (t, loop) => {
  const woken = deferred<number>();
  const async = new Async(loop, () => woken.resolve(threadId));
  const { exited } = startWorker({ mode: 'send', handle: async.handle, count: 1 });
  t.is(await within(woken.promise, 'the wake-up', 10_000), threadId);
  await exited;
  async.close();
});

loopTest('sends from a worker while the loop thread is blocked coalesce', async (t, loop) => {
  let calls = 0;
  const async = new Async(loop, () => calls++);
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const { exited } = startWorker({ mode: 'blocked', handle: async.handle, count: 1000, shared });
  // Block this thread until the worker has sent 1000 times: nothing can run
  // the callback in between, so they must collapse into one.
  t.is(Atomics.wait(shared, 0, 0, 10_000), 'ok');
  t.true(await waitFor(() => calls >= 1));
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(calls, 1);
  await exited;
  async.close();
});

loopTest(
  'no wake-up is lost: the last callback sees every send of four workers',
  async (t, loop) => {
    const shared = new Int32Array(new SharedArrayBuffer(4));
    let calls = 0;
    let seen = 0;
    const async = new Async(loop, () => {
      calls++;
      seen = Atomics.load(shared, 0);
    });
    const workers = [0, 1, 2, 3].map(() =>
      startWorker({ mode: 'count', handle: async.handle, count: 2000, shared }),
    );
    await Promise.all(workers.map((w) => w.exited));
    t.true(await waitFor(() => seen === 8000, 10_000), `last callback saw ${seen}`);
    t.true(calls >= 1 && calls <= 8000, `${calls} callbacks`);
    async.close();
  },
);

loopTest(
  "send() after close throws ERR_HANDLE_CLOSED from the worker's sender",
  async (t, loop) => {
    let calls = 0;
    const async = new Async(loop, () => calls++);
    const { worker, exited } = startWorker({ mode: 'after', handle: async.handle });
    t.is((await once(worker, 'message'))[0], 'sent');
    t.true(await waitFor(() => calls === 1));
    async.close();
    worker.postMessage('again');
    const [reply] = (await once(worker, 'message')) as [{ code: string; closed: boolean }];
    t.deepEqual(reply, { code: 'ERR_HANDLE_CLOSED', closed: true });
    await exited;
    t.is(calls, 1);
  },
);

test('this thread wakes an Async owned by a worker', async (t) => {
  const { worker, exited } = startWorker({ mode: 'owner' });
  const [first] = (await once(worker, 'message')) as [{ handle: { asyncuvAsync: bigint } }];
  const sender = Async.from(first.handle);
  t.false(sender.closed);
  sender.send();
  t.is((await once(worker, 'message'))[0], 'woken');
  t.true(sender.closed, 'the worker closed it');
  const error = t.throws(() => sender.send(), { instanceOf: UsageError });
  t.is(error?.code, 'ERR_HANDLE_CLOSED');
  await exited;
});

loopTest('send() and handle on a closed Async throw ERR_HANDLE_CLOSED', (t, loop) => {
  const async = new Async(loop, () => t.fail('closed before any send'));
  const sender = Async.from(async.handle);
  let closed = 0;
  async.close(() => closed++);
  async.close(() => closed++);
  for (const call of [() => async.send(), () => async.handle, () => sender.send()]) {
    const error = t.throws(call, { instanceOf: UsageError });
    t.is(error?.code, 'ERR_HANDLE_CLOSED');
  }
  loop.run();
  t.is(closed, 1);
});

test('Async.from() rejects what is not an Async handle', (t) => {
  for (const bad of [undefined, null, 42, {}, { asyncuvAsync: 1 }]) {
    const error = t.throws(() => Async.from(bad as never), { instanceOf: UsageError });
    t.is(error?.code, 'ERR_INVALID_ARG_TYPE');
  }
  const stale = Async.from({ asyncuvAsync: 2n ** 63n });
  t.true(stale.closed, 'an unknown id is a closed sender');
  t.is(t.throws(() => stale.send(), { instanceOf: UsageError })?.code, 'ERR_HANDLE_CLOSED');
});

loopTest('the callback must be a function', (t, loop) => {
  for (const make of [
    () => new Async(loop, 'cb' as never),
    () => new Async(loop, undefined as never),
  ]) {
    const error = t.throws(make, { instanceOf: UsageError });
    t.is(error?.code, 'ERR_INVALID_ARG_TYPE');
  }
});

loopTest('an Async created without a loop uses the default loop', async (t) => {
  const woken = deferred();
  const async = new Async(() => woken.resolve());
  async.send();
  await within(woken.promise, 'the default loop', 10_000);
  t.false(async.closed);
  async.close();
  const timer = new Timer(async.loop);
  t.is(timer.loop, async.loop);
  timer.close();
  t.true(await waitFor(() => Object.keys(async.loop.handleCounts()).length === 0));
});
