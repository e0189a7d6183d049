// The worker of tour/async-worker.ts: wakes the main thread's Async
// `count` times, `gapMs` apart, from its own thread.
import { workerData } from 'node:worker_threads';
import { Async, type AsyncHandle } from '../../handles/index.js';

const { handle, count, gapMs } = workerData as {
  handle: AsyncHandle;
  count: number;
  gapMs: number;
};
const sender = Async.from(handle);
let sent = 0;
const timer = setInterval(() => {
  sender.send();
  if (++sent === count) clearInterval(timer);
}, gapMs);
