// Timers, loop watchers and wake-ups: asyncuv's handles on the embedded
// loop against Node's closest counterpart, in the same process.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { BenchCase } from './harness.js';
import { perSecond } from './harness.js';
import { Async, type AsyncSender, Idle, Loop, Timer } from '../handles/index.js';

const TIMERS = 100_000;
const IDLES = 100_000;
const ROUND_TRIPS = 20_000;

/** 100k one-shot 1 ms timers, each a handle closed from its own callback. */
function asyncuvTimers(): Promise<void> {
  return new Promise((resolve) => {
    let fired = 0;
    const onFire = (timer: Timer): void => {
      timer.close();
      if (++fired === TIMERS) resolve();
    };
    for (let i = 0; i < TIMERS; i++) new Timer().start(onFire, 1);
  });
}

function nodeTimers(): Promise<void> {
  return new Promise((resolve) => {
    let fired = 0;
    const onFire = (): void => {
      if (++fired === TIMERS) resolve();
    };
    for (let i = 0; i < TIMERS; i++) setTimeout(onFire, 1);
  });
}

/** One Idle callback per embedded batch, i.e. per turn of Node's loop. */
function asyncuvIdle(): Promise<void> {
  return new Promise((resolve) => {
    let runs = 0;
    const idle = new Idle();
    idle.start(() => {
      if (++runs === IDLES) idle.close(() => resolve());
    });
  });
}

/** The same rhythm in Node: one setImmediate per turn of the loop. */
function immediateChain(): Promise<void> {
  return new Promise((resolve) => {
    let runs = 0;
    const step = (): void => {
      if (++runs === IDLES) resolve();
      else setImmediate(step);
    };
    setImmediate(step);
  });
}

/** Idle in a blocking run('default'): libuv's own loop, no Node turn in between. */
function blockingIdle(): void {
  const loop = new Loop();
  const idle = new Idle(loop);
  let runs = 0;
  idle.start(() => {
    if (++runs === IDLES) idle.stop();
  });
  loop.run('default');
  idle.close();
  loop.run();
  loop.close();
}

// The wake-up round trip needs a worker that lives across rounds.
let worker: Worker | undefined;
let toWorker: AsyncSender | undefined;
let mainAsync: Async | undefined;
let onMainWake: () => void = () => {};

async function startEchoWorker(): Promise<void> {
  mainAsync = new Async(() => onMainWake());
  worker = new Worker(new URL('./async-echo-worker.js', import.meta.url), {
    workerData: { main: mainAsync.handle },
  });
  const [hello] = (await once(worker, 'message')) as [{ handle: { asyncuvAsync: bigint } }];
  toWorker = Async.from(hello.handle);
}

async function stopEchoWorker(): Promise<void> {
  worker!.postMessage('stop');
  await once(worker!, 'exit');
  mainAsync!.close();
  worker = undefined;
}

function asyncRoundTrips(): Promise<void> {
  return new Promise((resolve) => {
    let trips = 0;
    onMainWake = () => {
      if (++trips === ROUND_TRIPS) resolve();
      else toWorker!.send();
    };
    toWorker!.send();
  });
}

function messageRoundTrips(): Promise<void> {
  return new Promise((resolve) => {
    let trips = 0;
    const w = worker!;
    const onMessage = (): void => {
      if (++trips === ROUND_TRIPS) {
        w.off('message', onMessage);
        resolve();
      } else {
        w.postMessage(null);
      }
    };
    w.on('message', onMessage);
    w.postMessage(null);
  });
}

export const cases: BenchCase[] = [
  {
    name: `${TIMERS / 1000}k one-shot 1 ms timers`,
    unit: 'timers',
    ours: { label: 'asyncuv Timer', run: () => perSecond(TIMERS, asyncuvTimers) },
    theirs: { label: 'setTimeout', run: () => perSecond(TIMERS, nodeTimers) },
  },
  {
    name: 'idle callbacks, one per loop turn',
    unit: 'calls',
    ours: { label: 'asyncuv Idle, embedded', run: () => perSecond(IDLES, asyncuvIdle) },
    theirs: { label: 'setImmediate chain', run: () => perSecond(IDLES, immediateChain) },
  },
  {
    name: 'idle callbacks, blocking run()',
    unit: 'calls',
    ours: { label: 'asyncuv Idle, run()', run: () => perSecond(IDLES, blockingIdle) },
    theirs: { label: 'setImmediate chain', run: () => perSecond(IDLES, immediateChain) },
  },
  {
    name: 'cross-thread wake-up round trips',
    unit: 'trips',
    ours: { label: 'Async.send both ways', run: () => perSecond(ROUND_TRIPS, asyncRoundTrips) },
    theirs: {
      label: 'worker postMessage echo',
      run: () => perSecond(ROUND_TRIPS, messageRoundTrips),
    },
    setup: startEchoWorker,
    teardown: stopEchoWorker,
  },
];
