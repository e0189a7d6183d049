// The worker of tour/locks.ts: adds to a shared counter under the Mutex,
// blocking this worker (never the main thread) while another holds it, then
// hands finished work to the main thread through the Queue.
import { workerData } from 'node:worker_threads';
import { Mutex, Queue, type MutexHandle, type QueueHandle } from '../../sync/index.js';

const { mutex, queue, counter, increments, id } = workerData as {
  mutex: MutexHandle;
  queue: QueueHandle;
  counter: SharedArrayBuffer;
  increments: number;
  id: number;
};
const lock = Mutex.from(mutex);
const done = Queue.from<{ id: number; contended: number }>(queue);
const cell = new Int32Array(counter);
let contended = 0;
for (let i = 0; i < increments; i++) {
  if (!lock.tryLock()) {
    contended++;
    lock.lock();
  }
  // A plain read-modify-write: only the lock makes it exact.
  cell[0] = cell[0]! + 1;
  lock.unlock();
}
done.put({ id, contended });
