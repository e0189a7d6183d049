import test from 'ava';
import { LockAbandonedError, RWLock } from 'asyncuv/sync';
import { Flag, holdInWorker, nextMessage, runWorker, startWorker } from './helpers/workers.js';

const fixture = 'rwlock-tasks';

test('a writer never holds the lock together with a reader or another writer', async (t) => {
  const lock = new RWLock();
  const counters = new SharedArrayBuffer(16);
  const run = (task: string, n: number): Promise<unknown> =>
    runWorker(fixture, { task, handle: lock.handle, counters, n });
  await Promise.all([
    run('reader', 100_000),
    run('reader', 100_000),
    run('writer', 50_000),
    run('writer', 50_000),
  ]);
  const c = new Int32Array(counters);
  t.is(c[2], 0, 'exclusion violations');
  t.is(c[0], 0);
  t.is(c[1], 0);
});

test.serial('readers share the lock', async (t) => {
  const lock = new RWLock();
  const holder = await holdInWorker(fixture, { task: 'holdRead', handle: lock.handle });
  t.true(lock.tryReadLock());
  t.true(lock.readLock(0));
  lock.readUnlock();
  lock.readUnlock();
  t.false(lock.tryWriteLock());
  await holder.release();
  t.true(lock.tryWriteLock());
  lock.writeUnlock();
});

test('a stream of overlapping readers cannot starve a writer', async (t) => {
  const lock = new RWLock();
  const stop = new Flag();
  const readers = [0, 1, 2].map(() =>
    startWorker(fixture, { task: 'readStream', handle: lock.handle, flag: stop.buffer }),
  );
  await Promise.all(readers.map((w) => nextMessage(w, 'started')));
  await new Promise((r) => setTimeout(r, 50));
  const writer = await runWorker<{ got: boolean; ms: number }>(fixture, {
    task: 'writeTimed',
    handle: lock.handle,
    timeoutMs: 10_000,
  });
  stop.set();
  const reads = await Promise.all(readers.map((w) => nextMessage<number>(w, 'result')));
  t.true(writer.got, 'the writer got the lock');
  t.true(writer.ms < 5_000, `writer waited ${writer.ms} ms`);
  t.true(reads.every((n) => n > 0));
});

test.serial('waiting writers hold back new readers; a writer giving up lets them in', async (t) => {
  const lock = new RWLock();
  const holder = await holdInWorker(fixture, { task: 'holdRead', handle: lock.handle });
  const controller = new AbortController();
  // Registers as a waiting writer synchronously, before its first await.
  const writing = lock.writeLockAsync({ signal: controller.signal });
  t.false(
    await runWorker(fixture, { task: 'tryRead', handle: lock.handle }),
    'a new reader waits behind the writer',
  );
  const reader = runWorker<{ got: boolean }>(fixture, {
    task: 'readTimed',
    handle: lock.handle,
    timeoutMs: 20_000,
  });
  // Word 3 of the state counts sleepers (sync/rwlock.ts): the writer, then the reader.
  const state = new Int32Array(lock.handle.buffer);
  let settled = false;
  void reader.finally(() => (settled = true));
  while (Atomics.load(state, 3) < 2 && !settled) await new Promise((r) => setTimeout(r, 2));
  controller.abort(new Error('give up'));
  await t.throwsAsync(writing, { message: 'give up' });
  t.true((await reader).got, 'the writer that gave up woke the reader it held back');
  await holder.release();
});

test.serial(
  'timed locks give up: readLock behind a writer, writeLock behind a reader',
  async (t) => {
    const lock = new RWLock();
    let holder = await holdInWorker(fixture, { task: 'holdWrite', handle: lock.handle });
    const start = performance.now();
    t.false(lock.readLock(60));
    t.true(performance.now() - start >= 55);
    t.false(lock.writeLock(0));
    await holder.release();
    holder = await holdInWorker(fixture, { task: 'holdRead', handle: lock.handle });
    t.false(lock.writeLock(60));
    await t.throwsAsync(lock.writeLockAsync({ timeoutMs: 30 }), { code: 'ERR_SYNC_TIMEOUT' });
    await holder.release();
    t.true(lock.writeLock(0));
    lock.writeUnlock();
  },
);

test.serial('async read and write locks wait without blocking and honour abort', async (t) => {
  const lock = new RWLock();
  const holder = await holdInWorker(fixture, { task: 'holdWrite', handle: lock.handle });
  const controller = new AbortController();
  const aborted = lock.writeLockAsync({ signal: controller.signal });
  const reading = lock.readLockAsync();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await new Promise((r) => setTimeout(r, 60));
  controller.abort(new Error('stop'));
  await t.throwsAsync(aborted, { message: 'stop' });
  t.true(ticks >= 2);
  await holder.release();
  await reading;
  clearInterval(timer);
  lock.readUnlock();
  await lock.writeLockAsync();
  lock.writeUnlock();
});

test('misuse: unlocking what this thread does not hold, and relocking, are typed errors', async (t) => {
  const lock = new RWLock();
  t.throws(() => lock.readUnlock(), { code: 'ERR_LOCK_NOT_OWNED' });
  t.throws(() => lock.writeUnlock(), { code: 'ERR_LOCK_NOT_OWNED' });
  lock.writeLock();
  t.throws(() => lock.writeLock(), { code: 'ERR_LOCK_RECURSION' });
  t.throws(() => lock.readLock(), { code: 'ERR_LOCK_RECURSION' });
  t.throws(() => lock.readUnlock(), { code: 'ERR_LOCK_NOT_OWNED' });
  const foreign = await runWorker<{ code: string }>(fixture, {
    task: 'writeUnlockForeign',
    handle: lock.handle,
  });
  t.is(foreign.code, 'ERR_LOCK_NOT_OWNED');
  lock.writeUnlock();
  lock.readLock();
  t.throws(() => lock.writeLock(), { code: 'ERR_LOCK_RECURSION' }, 'upgrading would deadlock');
  t.throws(() => lock.writeUnlock(), { code: 'ERR_LOCK_NOT_OWNED' });
  lock.readUnlock();
  t.throws(
    () => RWLock.from({ asyncuvSync: 'Mutex', buffer: new SharedArrayBuffer(64) } as never),
    {
      code: 'ERR_INVALID_ARG_TYPE',
    },
  );
});

test('a writer that dies holding the lock: the next reader gets LockAbandonedError holding a read lock', async (t) => {
  const lock = new RWLock();
  t.is(await runWorker(fixture, { task: 'writeAndExit', handle: lock.handle }), 'locked');
  const err = t.throws(() => lock.readLock(), { instanceOf: LockAbandonedError });
  t.is(err?.code, 'ERR_LOCK_ABANDONED');
  t.false(lock.tryWriteLock());
  lock.readUnlock();
  t.true(lock.tryWriteLock());
  lock.writeUnlock();
});

test('a reader that dies holding a read lock does not block writers forever', async (t) => {
  const lock = new RWLock();
  t.is(await runWorker(fixture, { task: 'readAndExit', handle: lock.handle }), 'locked');
  t.false(lock.tryWriteLock());
  // Readers cannot leave the data half-written: the writer just gets the lock.
  t.true(await lock.writeLockAsync({ timeoutMs: 10_000 }).then(() => true));
  lock.writeUnlock();
});

test('a writer terminated while waiting no longer holds new readers back', async (t) => {
  const lock = new RWLock();
  lock.readLock();
  const writer = startWorker(fixture, { task: 'blockInWriteLock', handle: lock.handle });
  await nextMessage(writer, 'waiting');
  const state = new Int32Array(lock.handle.buffer);
  while (Atomics.load(state, 1) === 0) await new Promise((r) => setTimeout(r, 2));
  await writer.terminate();
  // The dead writer is still counted as waiting until a reader's slice expires and finds it dead.
  const reader = await runWorker<{ got: boolean }>(fixture, {
    task: 'readTimed',
    handle: lock.handle,
    timeoutMs: 10_000,
  });
  t.true(reader.got);
  t.is(Atomics.load(state, 1), 0);
  lock.readUnlock();
  t.true(lock.tryWriteLock());
  lock.writeUnlock();
});

test('guards release read and write locks on scope exit', async (t) => {
  const lock = new RWLock();
  {
    using r1 = lock.readGuard();
    using r2 = lock.readGuard();
    t.true(r1.held && r2.held);
    t.false(lock.tryWriteLock());
  }
  {
    using w = lock.writeGuard();
    t.true(w.held);
    t.throws(() => lock.tryReadLock(), { code: 'ERR_LOCK_RECURSION' });
  }
  {
    await using w = await lock.writeGuardAsync();
    t.true(w.held);
  }
  t.true(lock.tryWriteLock());
  lock.writeUnlock();
});
