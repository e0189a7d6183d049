import test from 'ava';
import { Condition, Mutex } from 'asyncuv/sync';
import { nextMessage, runWorker, startWorker } from './helpers/workers.js';

const fixture = 'condition-tasks';

function pair(): {
  mutex: Mutex;
  condition: Condition;
  handles: { mutex: unknown; condition: unknown };
} {
  const mutex = new Mutex();
  const condition = new Condition();
  return { mutex, condition, handles: { mutex: mutex.handle, condition: condition.handle } };
}

test('producer/consumer over a 4-slot buffer: 20,000 items, in order, no lost wake-up', async (t) => {
  const { handles } = pair();
  const ring = new SharedArrayBuffer(4 * 6);
  const n = 20_000;
  const [produced, consumed] = await Promise.all([
    runWorker<{ timeouts: number }>(fixture, { task: 'produce', ...handles, ring, n }),
    runWorker<{ timeouts: number; sum: number; inOrder: boolean }>(fixture, {
      task: 'consume',
      ...handles,
      ring,
      n,
    }),
  ]);
  // A lost wake-up would leave a thread asleep until its 10 s timeout.
  t.is(produced.timeouts, 0);
  t.is(consumed.timeouts, 0);
  t.is(consumed.sum, (n * (n + 1)) / 2);
  t.true(consumed.inOrder);
});

test('notifyAll wakes every waiter, each holding the mutex again when it returns', async (t) => {
  const { mutex, condition, handles } = pair();
  const workers = [0, 1, 2].map(() => startWorker(fixture, { task: 'waitOnce', ...handles }));
  const results = workers.map((w) =>
    nextMessage<{ notified: boolean; owned: boolean }>(w, 'result'),
  );
  await Promise.all(workers.map((w) => nextMessage(w, 'waiting')));
  // Word 1 of the condition counts waiters (sync/condition.ts).
  const waiting = new Int32Array(condition.handle.buffer);
  while (Atomics.load(waiting, 1) < 3) await new Promise((r) => setTimeout(r, 2));
  await mutex.lockAsync();
  condition.notifyAll();
  mutex.unlock();
  for (const r of await Promise.all(results)) t.deepEqual(r, { notified: true, owned: true });
});

test.serial(
  'wait(mutex, timeoutMs) returns false after the timeout with the mutex held again',
  (t) => {
    const { mutex, condition } = pair();
    mutex.lock();
    const start = performance.now();
    t.false(condition.wait(mutex, 50));
    t.true(performance.now() - start >= 45);
    t.true(mutex.owned);
    mutex.unlock();
  },
);

test.serial(
  'waitAsync is woken by notifyOne from a worker without blocking the thread',
  async (t) => {
    const { mutex, condition, handles } = pair();
    await mutex.lockAsync();
    const notifier = runWorker(fixture, { task: 'notifyLater', ...handles });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    // The only notifier is the worker, so the first true is its notifyOne.
    const notified = await condition.waitAsync(mutex, { timeoutMs: 10_000 });
    clearInterval(timer);
    t.true(notified);
    t.is(await notifier, 'notified');
    t.true(mutex.owned);
    t.true(ticks > 0);
    mutex.unlock();
  },
);

test.serial(
  'an aborted waitAsync rejects with the reason, after taking the mutex back',
  async (t) => {
    const { mutex, condition } = pair();
    await mutex.lockAsync();
    const controller = new AbortController();
    const waiting = condition.waitAsync(mutex, { signal: controller.signal });
    t.false(mutex.owned, 'the mutex is released while waiting');
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await t.throwsAsync(waiting, { message: 'stop' });
    t.true(mutex.owned);
    t.false(await condition.waitAsync(mutex, { timeoutMs: 20 }));
    t.true(mutex.owned);
    mutex.unlock();
  },
);

test('waiting without holding the mutex throws ERR_LOCK_NOT_OWNED', async (t) => {
  const { mutex, condition } = pair();
  t.throws(() => condition.wait(mutex), { code: 'ERR_LOCK_NOT_OWNED' });
  await t.throwsAsync(condition.waitAsync(mutex), { code: 'ERR_LOCK_NOT_OWNED' });
  t.throws(() => condition.wait({} as Mutex), { code: 'ERR_INVALID_ARG_TYPE' });
  mutex.lock();
  t.throws(() => condition.wait(mutex, -5), { code: 'ERR_OUT_OF_RANGE' });
  t.true(mutex.owned);
  mutex.unlock();
  t.throws(() => Condition.from(null as never), { code: 'ERR_INVALID_ARG_TYPE' });
  // Notifying with nobody waiting is allowed and does nothing.
  condition.notifyOne();
  condition.notifyAll();
  t.pass();
});
