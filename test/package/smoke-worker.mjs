// The worker half of smoke.mjs: increments the shared counter under the Mutex.
import { workerData } from 'node:worker_threads';
import { Mutex } from 'asyncuv';

const mutex = Mutex.from(workerData.mutex);
const counter = workerData.counter;
for (let i = 0; i < workerData.rounds; i++) {
  mutex.lock();
  const v = counter[0];
  counter[0] = v + 1;
  mutex.unlock();
}
