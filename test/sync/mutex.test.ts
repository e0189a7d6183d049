import { readFile } from 'node:fs/promises';
import test from 'ava';
import { LockAbandonedError, Mutex, SyncTimeoutError } from 'asyncuv/sync';
import { holdInWorker, nextMessage, runWorker, startWorker } from './helpers/workers.js';
import { runScript } from '../helpers/child.js';

const fixture = 'mutex-tasks';

async function countWith(workers: number, n: number): Promise<number> {
  const mutex = new Mutex();
  const counter = new SharedArrayBuffer(4);
  await Promise.all(
    Array.from({ length: workers }, () =>
      runWorker(fixture, { task: 'count', handle: mutex.handle, counter, n }),
    ),
  );
  return new Int32Array(counter)[0]!;
}

test('two workers x 1,000,000 lock/increment/unlock give an exact count', async (t) => {
  t.is(await countWith(2, 1_000_000), 2_000_000);
});

test('four workers x 1,000,000 lock/increment/unlock give an exact count', async (t) => {
  t.is(await countWith(4, 1_000_000), 4_000_000);
});

test('tryLock fails while another thread holds the lock and succeeds after', async (t) => {
  const mutex = new Mutex();
  mutex.lock();
  t.false(await runWorker(fixture, { task: 'tryLock', handle: mutex.handle }));
  mutex.unlock();
  t.true(await runWorker(fixture, { task: 'tryLock', handle: mutex.handle }));
});

test.serial('lock(timeoutMs) returns false once the timeout passes', async (t) => {
  const mutex = new Mutex();
  mutex.lock();
  const r = await runWorker<{ got: boolean; ms: number }>(fixture, {
    task: 'lockTimeout',
    handle: mutex.handle,
    timeoutMs: 150,
  });
  t.false(r.got);
  t.true(r.ms >= 140, `waited ${r.ms} ms`);
  mutex.unlock();
});

test('lock(timeoutMs) succeeds when the lock is released in time', async (t) => {
  const mutex = new Mutex();
  const holder = await holdInWorker(fixture, { task: 'hold', handle: mutex.handle });
  const waiter = runWorker<{ got: boolean }>(fixture, {
    task: 'lockTimeout',
    handle: mutex.handle,
    timeoutMs: 20_000,
  });
  await new Promise((r) => setTimeout(r, 50));
  await holder.release();
  t.true((await waiter).got);
});

test('relocking on the owning thread throws ERR_LOCK_RECURSION instead of deadlocking', (t) => {
  const mutex = new Mutex();
  mutex.lock();
  t.throws(() => mutex.lock(), { code: 'ERR_LOCK_RECURSION' });
  t.throws(() => mutex.lock(10), { code: 'ERR_LOCK_RECURSION' });
  t.throws(() => mutex.tryLock(), { code: 'ERR_LOCK_RECURSION' });
  t.true(mutex.owned);
  mutex.unlock();
  t.false(mutex.locked);
});

test('unlocking a free mutex throws ERR_LOCK_NOT_OWNED', (t) => {
  const mutex = new Mutex();
  t.throws(() => mutex.unlock(), { code: 'ERR_LOCK_NOT_OWNED' });
  mutex.lock();
  mutex.unlock();
  t.throws(() => mutex.unlock(), { code: 'ERR_LOCK_NOT_OWNED' });
});

test('unlocking from a thread that does not hold the lock throws ERR_LOCK_NOT_OWNED and keeps it locked', async (t) => {
  const mutex = new Mutex();
  mutex.lock();
  const r = await runWorker<{ code: string }>(fixture, {
    task: 'unlockForeign',
    handle: mutex.handle,
  });
  t.is(r.code, 'ERR_LOCK_NOT_OWNED');
  t.true(mutex.owned);
  mutex.unlock();
});

test.serial('lockAsync waits without blocking the thread', async (t) => {
  const mutex = new Mutex();
  const holder = await holdInWorker(fixture, { task: 'hold', handle: mutex.handle });
  const locked = mutex.lockAsync();
  // Timers keep firing while it waits (a blocked thread would run none, and
  // the test would time out); no bound on how fast they fire under load.
  await new Promise<void>((resolve) => {
    let ticks = 0;
    const timer = setInterval(() => {
      if (++ticks < 3) return;
      clearInterval(timer);
      resolve();
    }, 5);
  });
  t.false(mutex.owned);
  const released = holder.release();
  await locked;
  await released;
  t.true(mutex.owned);
  mutex.unlock();
});

test.serial('lockAsync tasks of one thread take turns', async (t) => {
  const mutex = new Mutex();
  const order: string[] = [];
  const task = async (name: string): Promise<void> => {
    await mutex.lockAsync();
    order.push(`${name} in`);
    await new Promise((r) => setTimeout(r, 10));
    order.push(`${name} out`);
    mutex.unlock();
  };
  await Promise.all([task('a'), task('b'), task('c')]);
  // Exclusion, in whatever order the waiters were woken: every 'in' is followed by its own 'out'.
  t.is(order.length, 6);
  for (let i = 0; i < 6; i += 2) t.is(order[i + 1], order[i]!.replace(' in', ' out'));
});

test.serial(
  '64 pending lockAsync waiters hold no threadpool thread, and each gets the lock in turn',
  async (t) => {
    const mutex = new Mutex();
    const holder = await holdInWorker(fixture, { task: 'hold', handle: mutex.handle });
    let inside = 0;
    let overlaps = 0;
    const waiters = Array.from({ length: 64 }, async () => {
      await mutex.lockAsync();
      if (++inside > 1) overlaps++;
      await new Promise((r) => setImmediate(r));
      inside--;
      mutex.unlock();
    });
    // libuv's threadpool has 4 threads: threadpool work still runs at once.
    const start = performance.now();
    await Promise.all(Array.from({ length: 8 }, () => readFile(new URL(import.meta.url))));
    t.true(performance.now() - start < 5_000);
    await holder.release();
    await Promise.all(waiters);
    t.is(overlaps, 0);
    t.false(mutex.locked);
  },
);

test('lockAsync rejects with the abort reason', async (t) => {
  const mutex = new Mutex();
  mutex.lock();
  const controller = new AbortController();
  const pending = mutex.lockAsync({ signal: controller.signal });
  setTimeout(() => controller.abort(new Error('stop')), 30);
  await t.throwsAsync(pending, { message: 'stop' });
  // An already aborted signal rejects at once with its reason (a DOMException AbortError).
  const reason = await mutex.lockAsync({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
  t.is((reason as DOMException).name, 'AbortError');
  mutex.unlock();
  // The aborted waiter left nothing behind: the lock is free for others.
  t.true(await runWorker(fixture, { task: 'tryLock', handle: mutex.handle }));
});

test.serial('lockAsync rejects with ERR_SYNC_TIMEOUT after timeoutMs', async (t) => {
  const mutex = new Mutex();
  mutex.lock();
  const start = performance.now();
  const err = await t.throwsAsync(mutex.lockAsync({ timeoutMs: 80 }), {
    instanceOf: SyncTimeoutError,
  });
  t.is(err?.code, 'ERR_SYNC_TIMEOUT');
  t.true(performance.now() - start >= 75);
  mutex.unlock();
});

test('a pending lockAsync keeps the process alive', async (t) => {
  const child = await runScript(new URL('./fixtures/mutex-keepalive.js', import.meta.url).pathname);
  t.false(child.timedOut);
  t.is(child.stderr, '');
  t.is(child.stdout.trim(), 'acquired');
  t.is(child.code, 0);
});

test('guard() releases on scope exit, guardAsync() with await using', async (t) => {
  const mutex = new Mutex();
  {
    using guard = mutex.guard();
    t.true(mutex.owned);
    t.true(guard.held);
  }
  t.false(mutex.locked);
  {
    await using guard = await mutex.guardAsync();
    t.true(mutex.owned);
    guard.release(); // early release; the dispose is then a no-op
    t.false(mutex.locked);
  }
  t.false(mutex.locked);
  mutex.lock();
  const holder = mutex.handle;
  t.truthy(holder);
  t.throws(() => mutex.guard(), { code: 'ERR_LOCK_RECURSION' });
  mutex.unlock();
});

test('a worker that exits holding the lock: the next lock() throws ERR_LOCK_ABANDONED and holds it', async (t) => {
  const mutex = new Mutex();
  t.is(await runWorker(fixture, { task: 'lockAndExit', handle: mutex.handle }), 'locked');
  t.true(mutex.locked);
  const err = t.throws(() => mutex.lock(), { instanceOf: LockAbandonedError });
  t.is(err?.code, 'ERR_LOCK_ABANDONED');
  t.true(mutex.owned);
  mutex.unlock();
  t.true(mutex.lock(0));
  mutex.unlock();
});

test('a worker terminated holding the lock: lockAsync rejects with LockAbandonedError and holds it', async (t) => {
  const mutex = new Mutex();
  const worker = startWorker(fixture, { task: 'lockAndHang', handle: mutex.handle });
  await nextMessage(worker, 'locked');
  const pending = mutex.lockAsync();
  await worker.terminate();
  const err = await t.throwsAsync(pending, { instanceOf: LockAbandonedError });
  t.is(err?.code, 'ERR_LOCK_ABANDONED');
  t.true(mutex.owned);
  // The next thread to lock gets it normally: the abandonment is reported once.
  // (It starts only now: a thread blocked in lock() may win the abandoned lock
  // from a lockAsync, since waking does not queue in order.)
  const next = runWorker<unknown>(fixture, { task: 'lockAfterAbandon', handle: mutex.handle });
  mutex.unlock();
  t.is(await next, 'no error');
});

test.serial('worker.terminate() ends a worker blocked in lock() promptly', async (t) => {
  const mutex = new Mutex();
  mutex.lock();
  const worker = startWorker(fixture, { task: 'blockInLock', handle: mutex.handle });
  await nextMessage(worker, 'waiting');
  await new Promise((r) => setTimeout(r, 50));
  const start = performance.now();
  await worker.terminate();
  t.true(performance.now() - start < 2000);
  t.true(mutex.owned);
  mutex.unlock();
});

test('bad arguments are typed errors', async (t) => {
  const mutex = new Mutex();
  t.throws(() => Mutex.from({} as never), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(
    () => Mutex.from({ asyncuvSync: 'Semaphore', buffer: new SharedArrayBuffer(64) } as never),
    {
      code: 'ERR_INVALID_ARG_TYPE',
    },
  );
  t.throws(() => mutex.lock('1' as never), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => mutex.lock(-1), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => mutex.lock(NaN), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(mutex.lockAsync({ signal: 'x' } as never), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(mutex.lockAsync(5 as never), { code: 'ERR_INVALID_ARG_TYPE' });
  t.false(mutex.locked);
});

test('Mutex.from(handle) on the same thread shares the lock', (t) => {
  const a = new Mutex();
  const b = Mutex.from(a.handle);
  a.lock();
  t.true(b.locked);
  t.true(b.owned);
  b.unlock();
  t.false(a.locked);
});

test('every Mutex object of one thread carries that thread as owner', (t) => {
  // Each Mutex object keeps its thread's id in a field (mutex.ts): two
  // objects of one lock on the same thread are the same owner for lock,
  // tryLock and unlock.
  const a = new Mutex();
  const b = Mutex.from(a.handle);
  b.lock();
  t.throws(() => a.lock(), { code: 'ERR_LOCK_RECURSION' });
  t.throws(() => a.tryLock(), { code: 'ERR_LOCK_RECURSION' });
  t.true(a.owned);
  a.unlock();
  t.throws(() => b.unlock(), { code: 'ERR_LOCK_NOT_OWNED' });
  t.true(a.tryLock());
  b.unlock();
  t.false(a.locked);
});
