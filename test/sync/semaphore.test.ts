import test from 'ava';
import { Semaphore } from 'asyncuv/sync';
import { runWorker } from './helpers/workers.js';

const fixture = 'semaphore-tasks';

test('6 workers x 5,000 acquire/release never exceed a count of 3', async (t) => {
  const semaphore = new Semaphore(3);
  const counters = new SharedArrayBuffer(8);
  await Promise.all(
    Array.from({ length: 6 }, () =>
      runWorker(fixture, { task: 'use', handle: semaphore.handle, counters, n: 5_000 }),
    ),
  );
  const c = new Int32Array(counters);
  t.is(c[0], 0);
  t.true(c[1]! >= 1 && c[1]! <= 3, `at most ${c[1]} holders at once`);
  t.is(semaphore.value, 3);
});

test('tryAcquire takes permits until none is left', (t) => {
  const semaphore = new Semaphore(2);
  t.true(semaphore.tryAcquire());
  t.true(semaphore.tryAcquire());
  t.false(semaphore.tryAcquire());
  semaphore.release(2);
  t.is(semaphore.value, 2);
});

test.serial(
  'acquire(timeoutMs) gives up, and succeeds when a worker releases in time',
  async (t) => {
    const semaphore = new Semaphore(0);
    const start = performance.now();
    t.false(semaphore.acquire(50));
    t.true(performance.now() - start >= 45);
    const releaser = runWorker(fixture, {
      task: 'releaseLater',
      handle: semaphore.handle,
      delayMs: 50,
    });
    t.true(semaphore.acquire(20_000));
    await releaser;
    t.is(semaphore.value, 0);
  },
);

test.serial('acquireAsync waits without blocking, for a release from a worker', async (t) => {
  const semaphore = new Semaphore(0);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const releaser = runWorker(fixture, {
    task: 'releaseLater',
    handle: semaphore.handle,
    delayMs: 100,
  });
  await semaphore.acquireAsync();
  clearInterval(timer);
  await releaser;
  t.true(ticks > 0);
  t.is(semaphore.value, 0);
});

test.serial('acquireAsync rejects on timeout and on abort, taking nothing', async (t) => {
  const semaphore = new Semaphore(0);
  await t.throwsAsync(semaphore.acquireAsync({ timeoutMs: 30 }), { code: 'ERR_SYNC_TIMEOUT' });
  const controller = new AbortController();
  const waiting = semaphore.acquireAsync({ signal: controller.signal });
  setTimeout(() => controller.abort(new Error('stop')), 20);
  await t.throwsAsync(waiting, { message: 'stop' });
  semaphore.release();
  t.is(semaphore.value, 1);
  t.true(semaphore.tryAcquire());
});

test('releasing beyond max throws ERR_SEMAPHORE_OVERFLOW and releases nothing', (t) => {
  const semaphore = new Semaphore(1, { max: 2 });
  semaphore.release();
  t.throws(() => semaphore.release(), { code: 'ERR_SEMAPHORE_OVERFLOW' });
  t.is(semaphore.value, 2);
  t.true(semaphore.tryAcquire());
  t.throws(() => semaphore.release(2), { code: 'ERR_SEMAPHORE_OVERFLOW' });
  t.is(semaphore.value, 1);
});

test('guards give the permit back on scope exit', async (t) => {
  const semaphore = new Semaphore(1);
  {
    using permit = semaphore.guard();
    t.true(permit.held);
    t.is(semaphore.value, 0);
  }
  {
    await using permit = await semaphore.guardAsync();
    t.is(semaphore.value, 0);
    t.true(permit.held);
  }
  t.is(semaphore.value, 1);
});

test('bad arguments are typed errors', (t) => {
  t.throws(() => new Semaphore(-1), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => new Semaphore(3, { max: 2 }), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => new Semaphore('1' as never), { code: 'ERR_INVALID_ARG_TYPE' });
  const semaphore = new Semaphore(1);
  t.throws(() => semaphore.release(0), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => semaphore.acquire(-1), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(
    () => Semaphore.from({ asyncuvSync: 'Mutex', buffer: new SharedArrayBuffer(64) } as never),
    {
      code: 'ERR_INVALID_ARG_TYPE',
    },
  );
  t.is(semaphore.value, 1);
});
