// A worker terminated while holding a lock, with several threads blocked on
// it: the lock passes on, exactly one taker is told it was abandoned, and
// nobody hangs. (test/sync covers one holder and one waiter: mutex.test.ts
// "terminated holding the lock", rwlock.test.ts "writer that dies holding"
// and "writer terminated while waiting", terminate.test.ts "blocked in
// wait"; this adds the crowd of blocked waiters, sync and async, at once.)
import test from 'ava';
import { Worker } from 'node:worker_threads';
import { LockAbandonedError, Mutex, RWLock } from 'asyncuv/sync';
import { within } from '../helpers/loop-test.js';
import { exitOf, nextMessage } from '../sync/helpers/workers.js';

function start(data: object): Worker {
  return new Worker(new URL('../fixtures/lock-abandon-worker.js', import.meta.url), {
    workerData: data,
  });
}

/** Starts blocked waiters; resolves once each has posted 'waiting'. */
async function waiters(kinds: string[], handle: unknown): Promise<Array<Promise<string>>> {
  const results: Array<Promise<string>> = [];
  for (const kind of kinds) {
    const w = start({ task: 'block', kind, handle });
    // Both listeners from the start: 'exit' is not replayed to late ones.
    const exited = exitOf(w);
    const result = nextMessage<string>(w, 'result');
    result.catch(() => {}); // awaited below
    results.push(result.then(async (r) => (await exited, r)));
    await nextMessage(w, 'waiting');
  }
  // Let them get parked in the lock, not merely about to call it.
  await new Promise((r) => setTimeout(r, 100));
  return results;
}

test('a Mutex holder terminated with three workers blocked in lock() and one lockAsync(): one abandoned report, everyone gets the lock', async (t) => {
  const mutex = new Mutex();
  const holder = start({ task: 'hold', kind: 'mutex', handle: mutex.handle });
  await nextMessage(holder, 'locked');
  const blocked = await waiters(['mutex', 'mutex', 'mutex'], mutex.handle);
  const here = mutex.lockAsync().then(
    () => 'ok',
    (err: unknown) => (err instanceof LockAbandonedError ? 'abandoned' : Promise.reject(err)),
  );
  await holder.terminate();
  const mine = await within(here, 'the main thread to get the lock', 10_000);
  t.true(mutex.owned);
  mutex.unlock();
  const all = [mine, ...(await within(Promise.all(blocked), 'the blocked workers', 10_000))];
  t.is(all.filter((r) => r === 'abandoned').length, 1, all.join(','));
  t.is(all.filter((r) => r === 'ok').length, 3, all.join(','));
  t.false(mutex.locked);
});

test('an RWLock writer terminated with readers and a writer blocked: one abandoned report, all proceed', async (t) => {
  const lock = new RWLock();
  const holder = start({ task: 'hold', kind: 'write', handle: lock.handle });
  await nextMessage(holder, 'locked');
  const blocked = await waiters(['read', 'write', 'read'], lock.handle);
  await holder.terminate();
  const all = await within(Promise.all(blocked), 'the blocked workers', 10_000);
  t.is(all.filter((r) => r === 'abandoned').length, 1, all.join(','));
  t.is(all.filter((r) => r === 'ok').length, 2, all.join(','));
  // Released by everyone: free for a writer here.
  t.true(lock.tryWriteLock());
  lock.writeUnlock();
});

test('a worker terminated while blocked in lock() leaves the lock usable by the next ones', async (t) => {
  const mutex = new Mutex();
  mutex.lock();
  const doomed = start({ task: 'block', kind: 'mutex', handle: mutex.handle });
  await nextMessage(doomed, 'waiting');
  const others = await waiters(['mutex', 'mutex'], mutex.handle);
  await doomed.terminate();
  mutex.unlock();
  // Nobody held it when the worker died: no abandonment to report.
  t.deepEqual(await within(Promise.all(others), 'the other waiters', 10_000), ['ok', 'ok']);
  t.true(mutex.lock(1000));
  mutex.unlock();
});
