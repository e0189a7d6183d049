// The worker side of bench/sync.bench.ts. It reports 'ready', waits on the
// shared start word (so thread start-up is not measured), runs its task and
// reports 'done'.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import {
  Mutex,
  Queue,
  Semaphore,
  type MutexHandle,
  type QueueHandle,
  type SemaphoreHandle,
} from 'asyncuv/sync';
import { FutexMutex } from './futex-mutex.js';

export type BenchTask =
  | { task: 'mutex'; handle: MutexHandle; counter: SharedArrayBuffer; n: number }
  | { task: 'futex'; buffer: SharedArrayBuffer; counter: SharedArrayBuffer; n: number }
  | { task: 'queue-put' | 'queue-get'; handle: QueueHandle; n: number }
  | { task: 'port-send' | 'port-receive'; port: MessagePort; n: number }
  | { task: 'semaphore-pong'; ping: SemaphoreHandle; pong: SemaphoreHandle; n: number }
  | { task: 'port-pong'; port: MessagePort; n: number };

export const item = (i: number): unknown => ({ id: i, name: 'item', tags: ['a', 'b'] });

const data = workerData as BenchTask & { start: SharedArrayBuffer };
const start = new Int32Array(data.start);
// Rebuild the primitives before reporting ready: that cost is not measured.
const mutex = data.task === 'mutex' ? Mutex.from(data.handle) : undefined;
const futex = data.task === 'futex' ? new FutexMutex(data.buffer) : undefined;
const queue =
  data.task === 'queue-put' || data.task === 'queue-get' ? Queue.from(data.handle) : undefined;
const ping = data.task === 'semaphore-pong' ? Semaphore.from(data.ping) : undefined;
const pong = data.task === 'semaphore-pong' ? Semaphore.from(data.pong) : undefined;
parentPort!.postMessage('ready');
Atomics.wait(start, 0, 0);

function run(): void {
  const n = data.n;
  switch (data.task) {
    case 'mutex': {
      const counter = new Int32Array(data.counter);
      for (let i = 0; i < n; i++) {
        mutex!.lock();
        counter[0]!++;
        mutex!.unlock();
      }
      break;
    }
    case 'futex': {
      const counter = new Int32Array(data.counter);
      for (let i = 0; i < n; i++) {
        futex!.lock();
        counter[0]!++;
        futex!.unlock();
      }
      break;
    }
    case 'queue-put':
      for (let i = 0; i < n; i++) queue!.put(item(i));
      break;
    case 'queue-get':
      for (let i = 0; i < n; i++) queue!.get();
      break;
    case 'port-send':
      for (let i = 0; i < n; i++) data.port.postMessage(item(i));
      break;
    case 'semaphore-pong':
      // Answers each release of `ping` on the main thread with one of `pong`.
      for (let i = 0; i < n; i++) {
        ping!.acquire();
        pong!.release();
      }
      break;
    case 'port-pong': {
      let got = 0;
      data.port.on('message', (m: unknown) => {
        data.port.postMessage(m);
        if (++got === n) {
          data.port.close();
          parentPort!.postMessage('done');
        }
      });
      return;
    }
    case 'port-receive': {
      let got = 0;
      data.port.on('message', () => {
        if (++got === n) {
          data.port.close();
          parentPort!.postMessage('done');
        }
      });
      return;
    }
  }
  parentPort!.postMessage('done');
}
run();
