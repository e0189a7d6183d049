// Sync primitives against their references, side by side:
// - Mutex vs a pure-JS futex mutex (Atomics.wait/notify over a
//   SharedArrayBuffer, bench/futex-mutex.ts): uncontended lock+inc+unlock on
//   one thread, and two workers contending for one lock;
// - Queue vs MessagePort.postMessage, the same values from one worker to
//   another;
// - how fast an async wait on the main thread is woken from a worker:
//   Semaphore ping-pong (the main thread awaits acquireAsync) vs MessagePort
//   ping-pong, round trips per second.
// Run alone: node dist/bench/sync.bench.js
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { Mutex, Queue, Semaphore } from 'asyncuv/sync';
import { formatTable, perSecond, runCase, type BenchCase } from './harness.js';
import { FutexMutex } from './futex-mutex.js';
import type { BenchTask } from './sync-worker.js';

const workerUrl = new URL('./sync-worker.js', import.meta.url);

/** Starts one worker per task, releases them together; resolves to the seconds all took. */
async function timeWorkers(
  tasks: BenchTask[],
  transfer: Array<Array<import('node:worker_threads').MessagePort>> = [],
): Promise<number> {
  const start = new SharedArrayBuffer(4);
  const workers = tasks.map(
    (t, i) =>
      new Worker(workerUrl, { workerData: { ...t, start }, transferList: transfer[i] ?? [] }),
  );
  const messages = (w: Worker, want: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if (m === want) {
          w.off('message', onMessage);
          resolve();
        }
      };
      w.on('message', onMessage);
      w.once('error', reject);
    });
  await Promise.all(workers.map((w) => messages(w, 'ready')));
  const done = Promise.all(workers.map((w) => messages(w, 'done')));
  const t0 = process.hrtime.bigint();
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all(workers.map((w) => w.terminate()));
  return seconds;
}

const kUncontended = 5_000_000;
const kContended = 500_000;
const kItems = 100_000;
const kRoundTrips = 20_000;

/** Starts one worker, releases it, runs `main` on this thread; resolves to the seconds taken. */
async function timePingPong(
  task: BenchTask,
  transfer: Array<import('node:worker_threads').MessagePort>,
  main: () => Promise<void>,
): Promise<number> {
  const start = new SharedArrayBuffer(4);
  const worker = new Worker(workerUrl, { workerData: { ...task, start }, transferList: transfer });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  const t0 = process.hrtime.bigint();
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  await main();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await worker.terminate();
  return seconds;
}

function checkCount(counter: SharedArrayBuffer, want: number): void {
  const got = new Int32Array(counter)[0];
  if (got !== want) throw new Error(`lost updates: counter is ${got}, expected ${want}`);
}

export const cases: BenchCase[] = [
  {
    name: 'uncontended lock+inc+unlock',
    unit: 'ops',
    ours: {
      label: 'asyncuv Mutex',
      run: () => {
        const m = new Mutex();
        const counter = new Int32Array(1);
        return perSecond(kUncontended, () => {
          for (let i = 0; i < kUncontended; i++) {
            m.lock();
            counter[0]!++;
            m.unlock();
          }
        });
      },
    },
    theirs: {
      label: 'JS futex mutex',
      run: () => {
        const m = new FutexMutex();
        const counter = new Int32Array(1);
        return perSecond(kUncontended, () => {
          for (let i = 0; i < kUncontended; i++) {
            m.lock();
            counter[0]!++;
            m.unlock();
          }
        });
      },
    },
  },
  {
    name: '2 workers contended lock+inc+unlock',
    unit: 'ops',
    ours: {
      label: 'asyncuv Mutex',
      run: async () => {
        const handle = new Mutex().handle;
        const counter = new SharedArrayBuffer(4);
        const task = { task: 'mutex', handle, counter, n: kContended } as const;
        const s = await timeWorkers([task, task]);
        checkCount(counter, 2 * kContended);
        return (2 * kContended) / s;
      },
    },
    theirs: {
      label: 'JS futex mutex',
      run: async () => {
        const buffer = new SharedArrayBuffer(64);
        const counter = new SharedArrayBuffer(4);
        const task = { task: 'futex', buffer, counter, n: kContended } as const;
        const s = await timeWorkers([task, task]);
        checkCount(counter, 2 * kContended);
        return (2 * kContended) / s;
      },
    },
  },
  {
    name: 'worker -> worker, small objects',
    unit: 'items',
    ours: {
      label: 'asyncuv Queue put/get',
      run: async () => {
        const handle = new Queue().handle;
        const s = await timeWorkers([
          { task: 'queue-put', handle, n: kItems },
          { task: 'queue-get', handle, n: kItems },
        ]);
        return kItems / s;
      },
    },
    theirs: {
      label: 'MessagePort.postMessage',
      run: async () => {
        const { port1, port2 } = new MessageChannel();
        const s = await timeWorkers(
          [
            { task: 'port-send', port: port1, n: kItems },
            { task: 'port-receive', port: port2, n: kItems },
          ],
          [[port1], [port2]],
        );
        return kItems / s;
      },
    },
  },
  {
    name: 'main thread awaits, worker wakes it (ping-pong)',
    unit: 'round trips',
    ours: {
      label: 'Semaphore acquireAsync/release',
      run: async () => {
        const ping = new Semaphore(0);
        const pong = new Semaphore(0);
        const task = {
          task: 'semaphore-pong',
          ping: ping.handle,
          pong: pong.handle,
          n: kRoundTrips,
        } as const;
        const s = await timePingPong(task, [], async () => {
          for (let i = 0; i < kRoundTrips; i++) {
            ping.release();
            await pong.acquireAsync();
          }
        });
        return kRoundTrips / s;
      },
    },
    theirs: {
      label: 'MessagePort ping-pong',
      run: async () => {
        const { port1, port2 } = new MessageChannel();
        const s = await timePingPong(
          { task: 'port-pong', port: port2, n: kRoundTrips },
          [port2],
          async () => {
            let got = 0;
            await new Promise<void>((resolve) => {
              port1.on('message', (m: unknown) => {
                if (++got === kRoundTrips) resolve();
                else port1.postMessage(m);
              });
              port1.postMessage(0);
            });
            port1.close();
          },
        );
        return kRoundTrips / s;
      },
    },
  },
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  console.log(formatTable(results));
}
