// Async waits that end by abort or timeout, on every primitive: such a wait
// keeps no place among the waiters, so it cannot take a wake-up meant for
// another (see parkAsync in sync/park.ts). Atomics.notify returns how many
// waiters it woke, which shows whether one was left behind.
import test from 'ava';
import { Barrier, Condition, Mutex, Queue, RWLock, Semaphore } from 'asyncuv/sync';
import { wakeAllParked } from './helpers/waiters.js';
import { nextMessage, startWorker } from './helpers/workers.js';

type WaitOptions = { signal?: AbortSignal; timeoutMs?: number };

interface Case {
  name: string;
  // A primitive whose async wait will wait, that wait, and what undoes the setup.
  setup: () => Setup;
}

interface Setup {
  buffer: SharedArrayBuffer;
  wait: (opts: WaitOptions) => Promise<unknown>;
  done: () => void;
}

const cases: Case[] = [
  {
    name: 'Queue.getAsync',
    setup: () => {
      const q = new Queue();
      return { buffer: q.handle.buffer, wait: (o) => q.getAsync(o), done: () => {} };
    },
  },
  {
    name: 'Queue.putAsync',
    setup: () => {
      const q = new Queue({ maxSize: 1 });
      q.put('full');
      return { buffer: q.handle.buffer, wait: (o) => q.putAsync('more', o), done: () => q.get(0) };
    },
  },
  {
    name: 'Semaphore.acquireAsync',
    setup: () => {
      const s = new Semaphore(0);
      return { buffer: s.handle.buffer, wait: (o) => s.acquireAsync(o), done: () => {} };
    },
  },
  {
    name: 'Condition.waitAsync',
    setup: () => {
      const m = new Mutex();
      const c = new Condition();
      return {
        buffer: c.handle.buffer,
        wait: async (o) => {
          await m.lockAsync();
          try {
            // A timeout resolves false rather than rejecting.
            if (!(await c.waitAsync(m, o))) throw new Error('timed out');
          } finally {
            m.unlock();
          }
        },
        done: () => {},
      };
    },
  },
  {
    name: 'Barrier.waitAsync',
    setup: () => {
      const b = new Barrier(2);
      // Barrier.waitAsync has no timeoutMs: a timeout is an AbortSignal.timeout.
      const signalOf = (o: WaitOptions): AbortSignal =>
        o.signal ?? AbortSignal.timeout(o.timeoutMs!);
      const wait = (o: WaitOptions): Promise<boolean> => b.waitAsync({ signal: signalOf(o) });
      return { buffer: b.handle.buffer, wait, done: () => {} };
    },
  },
  {
    name: 'Mutex.lockAsync',
    setup: () => {
      const m = new Mutex();
      m.lock(); // held by this thread: lockAsync waits for the unlock
      return { buffer: m.handle.buffer, wait: (o) => m.lockAsync(o), done: () => m.unlock() };
    },
  },
  {
    name: 'RWLock.readLockAsync',
    setup: () => {
      const rw = new RWLock();
      rw.writeLock();
      const done = (): void => rw.writeUnlock();
      return { buffer: rw.handle.buffer, wait: (o) => rw.readLockAsync(o), done };
    },
  },
  {
    name: 'RWLock.writeLockAsync',
    setup: () => {
      const rw = new RWLock();
      rw.readLock();
      const done = (): void => rw.readUnlock();
      return { buffer: rw.handle.buffer, wait: (o) => rw.writeLockAsync(o), done };
    },
  },
];

for (const c of cases) {
  test(`${c.name}: an aborted or timed-out wait leaves no waiter parked`, async (t) => {
    for (const how of ['abort now', 'abort later', 'timeout'] as const) {
      const { buffer, wait, done } = c.setup();
      const controller = new AbortController();
      const waiting = wait(how === 'timeout' ? { timeoutMs: 5 } : { signal: controller.signal });
      if (how === 'abort now') controller.abort(new Error('stop'));
      else if (how === 'abort later') setTimeout(() => controller.abort(new Error('stop')), 5);
      await t.throwsAsync(waiting, { any: true }, how);
      t.is(wakeAllParked(buffer), 0, `${how}: waiters left parked`);
      done();
    }
  });
}

test('a wake-up is not lost to an aborted getAsync of a thread that then blocks', async (t) => {
  // This thread aborts a getAsync, a worker blocks in get(), this thread
  // puts one item and blocks too (as a blocking get or lock would). The
  // worker must be the one woken: if the abandoned wait took the wake-up,
  // only this thread's loop could pass it on, and that loop is blocked.
  const queue = new Queue<string>();
  const controller = new AbortController();
  const aborted = queue.getAsync({ signal: controller.signal });
  controller.abort(new Error('stop'));
  await t.throwsAsync(aborted, { message: 'stop' });
  const gotIt = new Int32Array(new SharedArrayBuffer(4));
  const { handle } = queue;
  const worker = startWorker('queue-tasks', { task: 'getOnce', handle, flag: gotIt.buffer });
  const result = nextMessage<string>(worker, 'result');
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  await nextMessage(worker, 'getting');
  // Word 8 counts the getters that registered to park (sync/queue.ts).
  const getters = new Int32Array(handle.buffer);
  while (Atomics.load(getters, 8) === 0) await new Promise((r) => setTimeout(r, 1));
  queue.put('item');
  // A liveness bound, not a timing check: the worker is woken at once or
  // never. ('not-equal': it had its item before this thread began to wait.)
  t.not(Atomics.wait(gotIt, 0, 0, 30_000), 'timed-out', 'the worker was woken by the put');
  t.is(await result, 'item');
  await exited;
});
