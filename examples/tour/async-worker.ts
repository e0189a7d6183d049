// Async across threads: a worker wakes the main thread's loop.
import { Worker, threadId } from 'node:worker_threads';
import { Async } from '../../handles/index.js';
import type { TourStep } from './step.js';

const COUNT = 5;

export const asyncWorker: TourStep = {
  title: 'Async from a worker',
  async run(ctx) {
    const threads = new Set<number>();
    let wakeups = 0;
    const done = new Promise<void>((resolve) => {
      const async = new Async(() => {
        threads.add(threadId);
        ctx.progress(`Async from a worker: wake-up ${++wakeups}/${COUNT}`);
        if (wakeups === COUNT) async.close(() => resolve());
      });
      const worker = new Worker(new URL('./async-worker-thread.js', import.meta.url), {
        workerData: { handle: async.handle, count: COUNT, gapMs: 30 },
      });
      worker.on('error', (error) => {
        console.error(error);
        async.close(() => resolve());
      });
    });
    await done;
    return [
      `a worker thread called send() ${COUNT} times; the callback ran ${wakeups} times,`,
      `  always on thread ${[...threads].join(', ')} (the main thread), never on the worker`,
    ];
  },
};
