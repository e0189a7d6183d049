// worker_threads: each worker has its own default loop, and no way a worker
// ends (natural exit, process.exit, terminate() at rest, in a callback, in
// a blocking run) may crash, abort or hang the process. Each case repeats,
// because teardown races show up as flakes.
import { Worker } from 'node:worker_threads';
import test from 'ava';
import { Async, type AsyncHandle, Loop, Timer, type UsageError } from '../../handles/index.js';
import { within } from '../helpers/loop-test.js';

const workerUrl = new URL('../fixtures/driver-worker.js', import.meta.url);
// The three teardown cases the issue names run 20 times, the others 10:
// the machine has two cores and every worker loads the addon.
const REPEAT = 20;
const REPEAT_OTHERS = 10;

interface Run {
  worker: Worker;
  exited: Promise<number>;
  firstMessage: Promise<unknown>;
}

function start(mode: string, extra: object = {}): Run {
  const worker = new Worker(workerUrl, { workerData: { mode, ...extra } });
  // Plain listeners, not events.once(): once() rejects on an 'error' event,
  // which the throw test expects and checks itself.
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const firstMessage = new Promise<unknown>((resolve) => worker.once('message', resolve));
  return { worker, exited, firstMessage };
}

/** Runs `one` `times` times, two at a time. */
async function repeat(one: () => Promise<void>, times = REPEAT): Promise<void> {
  for (let i = 0; i < times; i += 2) await Promise.all([one(), one()]);
}

test('each worker has its own default loop', async (t) => {
  const mine = Loop.default().fileno();
  const runs = [start('own-loop'), start('own-loop')];
  const reports = (await Promise.all(runs.map((r) => r.firstMessage))) as Array<{
    fileno: number;
    same: boolean;
    fired: boolean;
  }>;
  t.true(reports.every((r) => r.fired && r.same));
  const fds = new Set([mine, ...reports.map((r) => r.fileno)]);
  t.is(fds.size, 3, 'three backend fds for three threads');
  for (const run of runs) run.worker.postMessage('exit');
  t.deepEqual(
    await Promise.all(runs.map((r) => r.exited)),
    [0, 0],
    'the workers exit by themselves',
  );
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
  }, REPEAT_OTHERS);
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
  }, REPEAT_OTHERS);
});

test('terminate() during a blocking run() that has nothing to call back', async (t) => {
  // Node cannot interrupt a thread asleep in our uv_run; the loop's watchdog
  // notices the terminate request (native/loop_wrap.h, rule 7).
  await repeat(async () => {
    const run = start('terminate-blocking-quiet');
    t.is(await run.firstMessage, 'running');
    t.is(await within(run.worker.terminate(), 'terminate()', 10_000), 1);
  }, REPEAT_OTHERS);
});

test('terminate() during a callback of a blocking run()', async (t) => {
  await repeat(async () => {
    const run = start('terminate-blocking-callback');
    t.is(await run.firstMessage, 'busy');
    t.is(await run.worker.terminate(), 1);
  }, REPEAT_OTHERS);
});

test('process.exit() from inside a callback of a worker', async (t) => {
  await repeat(async () => {
    t.is(await start('exit-in-callback').exited, 7);
  }, REPEAT_OTHERS);
});

test('process.exit() from inside a callback of a blocking run() in a worker', async (t) => {
  await repeat(async () => {
    t.is(await start('exit-in-blocking-callback').exited, 8);
  }, REPEAT_OTHERS);
});

test("a throw in a worker's callback becomes the worker's 'error' event", async (t) => {
  await repeat(async () => {
    const run = start('throw-in-callback');
    const errors: Error[] = [];
    run.worker.on('error', (error) => errors.push(error));
    t.is(await run.exited, 1);
    t.is(errors[0]?.message, 'thrown in a worker callback');
  }, REPEAT_OTHERS);
});

test('a worker hammering send() while this thread closes the Async', async (t) => {
  await repeat(async () => {
    let woken = 0;
    // Close on the first wake-up: the worker is then surely sending.
    const async: Async = new Async(() => {
      woken++;
      async.close();
    });
    const run = start('send-while-owner-dies', { handle: async.handle });
    const report = (await run.firstMessage) as { sent: number; code: string };
    t.is(report.code, 'ERR_HANDLE_CLOSED');
    t.true(report.sent > 0);
    t.is(woken, 1, 'closed from its first callback');
    t.is(await run.exited, 0);
  }, REPEAT_OTHERS);
});

test('this thread hammering send() while the owning worker exits', async (t) => {
  await repeat(async () => {
    const run = start('own-async-hammered');
    const { handle } = (await run.firstMessage) as { handle: AsyncHandle };
    const sender = Async.from(handle);
    let sent = 0;
    let code: string | undefined;
    const exited = run.exited;
    // Send from this thread's turns until the worker's teardown closes it.
    while (code === undefined) {
      try {
        sender.send();
        sent++;
      } catch (error) {
        code = (error as UsageError).code;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    t.is(code, 'ERR_HANDLE_CLOSED');
    t.true(sent > 0);
    t.is(await exited, 0);
  }, REPEAT_OTHERS);
});

test("the main thread's embedded loop keeps running while workers come and go", async (t) => {
  // Runs alongside the tests above: worker teardown must not disturb the
  // loops of other threads. Node's own 5 ms interval runs beside ours as the
  // yardstick: on a loaded machine both tick less, but a stalled driver
  // would leave ours far behind Node's.
  const loop = new Loop();
  const timer = new Timer(loop);
  let ticks = 0;
  let nodeTicks = 0;
  timer.start(() => ticks++, 5, 5);
  const interval = setInterval(() => nodeTicks++, 5);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
  } finally {
    clearInterval(interval);
    timer.close();
    loop.close();
  }
  // 200 each on a quiet machine.
  t.true(
    ticks >= Math.min(10, nodeTicks / 2),
    `${ticks} ticks of ours vs ${nodeTicks} of Node's in 1 s`,
  );
  t.deepEqual(loop.handleCounts(), {});
});
