// Locks across worker_threads: workers block on a Mutex to add to a shared
// counter while the main thread takes the same Mutex with lockAsync() and
// keeps its event loop turning; finished work comes back through a Queue.
import { Worker } from 'node:worker_threads';
import { Mutex, Queue } from '../../sync/index.js';
import type { TourStep } from './step.js';

const WORKERS = 3;
const INCREMENTS = 200_000;
const MAIN_TURNS = 200;

export const locks: TourStep = {
  title: `Locks across ${WORKERS} workers and the main thread`,
  async run(ctx) {
    const mutex = new Mutex();
    const queue = new Queue<{ id: number; contended: number }>();
    const counter = new SharedArrayBuffer(4);
    const cell = new Int32Array(counter);
    const t0 = performance.now();
    const workers = Array.from(
      { length: WORKERS },
      (_, id) =>
        new Worker(new URL('./locks-worker-thread.js', import.meta.url), {
          workerData: {
            mutex: mutex.handle,
            queue: queue.handle,
            counter,
            increments: INCREMENTS,
            id,
          },
        }),
    );
    const failed = new Promise<never>((_, reject) =>
      workers.forEach((w) => w.once('error', reject)),
    );

    // The main thread takes turns too, without ever blocking: a timer keeps
    // ticking meanwhile, which shows the loop stayed free.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    for (let i = 0; i < MAIN_TURNS; i++) {
      await Promise.race([mutex.lockAsync(), failed]);
      cell[0] = cell[0]! + 1;
      mutex.unlock();
      if (i % 50 === 0)
        ctx.progress(
          `Locks: main thread turn ${i}/${MAIN_TURNS}, counter ${Atomics.load(cell, 0).toLocaleString('en')}`,
        );
    }
    const reports: Array<{ id: number; contended: number }> = [];
    for (let i = 0; i < WORKERS; i++) reports.push(await Promise.race([queue.getAsync(), failed]));
    const ms = performance.now() - t0;
    clearInterval(ticker);
    // They have finished (or are finishing) their work; terminate() resolves either way.
    await Promise.all(workers.map((w) => w.terminate()));

    const expected = WORKERS * INCREMENTS + MAIN_TURNS;
    const contended = reports.reduce((n, r) => n + r.contended, 0);
    return [
      `${WORKERS} workers x ${INCREMENTS.toLocaleString('en')} + ${MAIN_TURNS} awaited turns on the main thread: counter ${cell[0]!.toLocaleString('en')} (expected ${expected.toLocaleString('en')}${cell[0] === expected ? ', exact' : ', LOST UPDATES'})`,
      `${Math.round((expected / ms) * 1000).toLocaleString('en')} lock/unlock pairs/s; ${contended.toLocaleString('en')} of the workers' locks had to wait`,
      `a 1 ms timer on the main thread ticked ${ticks} times meanwhile: lockAsync() never blocked it`,
    ];
  },
};
