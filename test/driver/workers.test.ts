// worker_threads: each worker has its own default loop, and no way a worker
// ends (natural exit, process.exit, terminate() at rest, in a callback, in
// a blocking run) may crash, abort or hang the process. Each case repeats,
// because teardown races show up as flakes.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import test from 'ava';
import { Loop, Timer } from '../../handles/index.js';

const workerUrl = new URL('../fixtures/driver-worker.js', import.meta.url);
const REPEAT = 20;

interface Run {
  worker: Worker;
  exited: Promise<number>;
  firstMessage: Promise<unknown>;
}

function start(mode: string): Run {
  const worker = new Worker(workerUrl, { workerData: { mode } });
  const exited = once(worker, 'exit').then(([code]) => code as number);
  const firstMessage = once(worker, 'message').then(([m]) => m as unknown);
  // An 'error' event would reject `exited` via once(); surface it plainly.
  return { worker, exited, firstMessage };
}

/** Runs `one` REPEAT times, two at a time (the machine has two cores). */
async function repeat(one: () => Promise<void>): Promise<void> {
  for (let i = 0; i < REPEAT; i += 2) await Promise.all([one(), one()]);
}

test('each worker has its own default loop', async (t) => {
  const mine = Loop.default().fileno();
  const runs = [start('own-loop'), start('own-loop')];
  const reports = (await Promise.all(runs.map((r) => r.firstMessage))) as Array<{ fileno: number; same: boolean; fired: boolean }>;
  t.true(reports.every((r) => r.fired && r.same));
  const fds = new Set([mine, ...reports.map((r) => r.fileno)]);
  t.is(fds.size, 3, 'three backend fds for three threads');
  t.deepEqual(await Promise.all(runs.map((r) => r.exited)), [0, 0], 'the workers exit by themselves');
});

test('a worker calling process.exit() with active handles exits cleanly', async (t) => {
  await repeat(async () => {
    const run = start('exit-active');
    t.is(await run.exited, 0);
  });
});

test("a worker with only unref'd handles exits by itself", async (t) => {
  await repeat(async () => {
    const run = start('exit-unref');
    t.is(await run.exited, 0);
  });
});

test('terminate() while handles are active', async (t) => {
  await repeat(async () => {
    const run = start('terminate-active');
    t.is(await run.firstMessage, 'ready');
    t.is(await run.worker.terminate(), 1);
    await run.exited;
  });
});

test('terminate() during a callback that never returns', async (t) => {
  await repeat(async () => {
    const run = start('terminate-in-callback');
    t.is(await run.firstMessage, 'busy');
    t.is(await run.worker.terminate(), 1);
  });
});

test('terminate() during a blocking run() with a repeating timer', async (t) => {
  await repeat(async () => {
    const run = start('terminate-blocking-run');
    t.is(await run.firstMessage, 'running');
    t.is(await run.worker.terminate(), 1);
  });
});

test('terminate() during a callback of a blocking run()', async (t) => {
  await repeat(async () => {
    const run = start('terminate-blocking-callback');
    t.is(await run.firstMessage, 'busy');
    t.is(await run.worker.terminate(), 1);
  });
});

test("the main thread's embedded loop keeps running while workers come and go", async (t) => {
  // Runs alongside the tests above: worker teardown must not disturb the
  // loops of other threads.
  const loop = new Loop();
  const timer = new Timer(loop);
  let ticks = 0;
  timer.start(() => ticks++, 5, 5);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.true(ticks >= 20, `${ticks} ticks in 1 s`);
  timer.close();
  loop.close();
  t.deepEqual(loop.handleCounts(), {});
});
