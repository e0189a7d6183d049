// Signal: real signals sent to this process. Serial, because a signal is
// process-wide and SIGUSR2 with no watcher at all would kill the test run.
import { constants } from 'node:os';
import { Worker } from 'node:worker_threads';
import { deferred, loopTest, waitFor, within } from '../helpers/loop-test.js';
import {
  Loop,
  Signal,
  Timer,
  UsageError,
  type UsageErrorCode,
  UvError,
} from '../../handles/index.js';

const SIGUSR2 = constants.signals.SIGUSR2;

loopTest.serial('a signal is delivered by name in embedded mode', async (t, loop) => {
  const signal = new Signal(loop);
  const got = deferred<[number, Signal]>();
  signal.start((signum, h) => got.resolve([signum, h]), 'SIGUSR2');
  t.is(signal.signum, SIGUSR2);
  process.kill(process.pid, 'SIGUSR2');
  const [signum, handle] = await within(got.promise, 'SIGUSR2', 10_000);
  t.is(signum, SIGUSR2);
  t.is(handle, signal);
  signal.close();
});

loopTest.serial('a signal is delivered by number in blocking mode', (t, loop) => {
  const signal = new Signal(loop);
  const guard = new Timer(loop);
  const got: number[] = [];
  signal.start((signum) => {
    got.push(signum);
    signal.stop();
    guard.stop();
  }, SIGUSR2);
  // Bounds the run if the signal never arrives; the assertion then fails.
  guard.start(() => signal.stop(), 2000);
  process.kill(process.pid, SIGUSR2);
  loop.run('default');
  t.deepEqual(got, [SIGUSR2]);
  signal.close();
  guard.close();
});

loopTest.serial('two loops watching one signal both get it', async (t, loop) => {
  const other = new Loop();
  const a = new Signal(loop);
  const b = new Signal(other);
  let gotA = 0;
  let gotB = 0;
  a.start(() => gotA++, 'SIGUSR2');
  b.start(() => gotB++, 'SIGUSR2');
  process.kill(process.pid, 'SIGUSR2');
  t.true(await waitFor(() => gotA === 1 && gotB === 1), `a=${gotA} b=${gotB}`);
  a.close();
  b.close();
  t.true(await waitFor(() => Object.keys(other.handleCounts()).length === 0));
  other.close();
});

loopTest.serial('two handles on one loop both get the signal', async (t, loop) => {
  const a = new Signal(loop);
  const b = new Signal(loop);
  let got = 0;
  a.start(() => got++, 'SIGUSR2');
  b.start(() => got++, 'SIGUSR2');
  process.kill(process.pid, 'SIGUSR2');
  t.true(await waitFor(() => got === 2));
  a.close();
  b.close();
});

loopTest.serial("Node's own process.on(signal) still fires alongside", async (t, loop) => {
  const signal = new Signal(loop);
  let ours = 0;
  let nodes = 0;
  const listener = () => nodes++;
  process.on('SIGUSR2', listener);
  signal.start(() => ours++, 'SIGUSR2');
  try {
    process.kill(process.pid, 'SIGUSR2');
    t.true(await waitFor(() => ours === 1 && nodes === 1), `ours=${ours} node=${nodes}`);
  } finally {
    signal.close();
    // Keep Node's listener until our handle is fully closed, so no window
    // exists in which SIGUSR2 has no handler at all.
    await waitFor(() => Object.keys(loop.handleCounts()).length === 0);
    process.off('SIGUSR2', listener);
  }
});

loopTest.serial('a stopped signal handle gets nothing', async (t, loop) => {
  const stopped = new Signal(loop);
  const watching = new Signal(loop);
  let fromStopped = 0;
  let fromWatching = 0;
  stopped.start(() => fromStopped++, 'SIGUSR2');
  watching.start(() => fromWatching++, 'SIGUSR2');
  stopped.stop();
  t.false(stopped.active);
  t.is(stopped.signum, 0);
  process.kill(process.pid, 'SIGUSR2');
  t.true(await waitFor(() => fromWatching === 1));
  t.is(fromStopped, 0);
  stopped.close();
  watching.close();
});

loopTest.serial('an unknown signal name throws ERR_UNKNOWN_SIGNAL', (t, loop) => {
  const signal = new Signal(loop);
  for (const name of ['SIGNOPE', 'usr2', '']) {
    const error = t.throws(() => signal.start(() => {}, name), { instanceOf: UsageError }, name);
    t.is(error?.code, 'ERR_UNKNOWN_SIGNAL', name);
  }
  t.false(signal.active);
  signal.close();
});

loopTest.serial('bad signal arguments throw typed errors', (t, loop) => {
  const signal = new Signal(loop);
  const start = signal.start.bind(signal) as (...args: unknown[]) => void;
  const cases: Array<[unknown[], UsageErrorCode]> = [
    [[() => {}, 0], 'ERR_OUT_OF_RANGE'],
    [[() => {}, -1], 'ERR_OUT_OF_RANGE'],
    [[() => {}, 65], 'ERR_OUT_OF_RANGE'],
    [[() => {}, 1.5], 'ERR_OUT_OF_RANGE'],
    [[() => {}, Number.NaN], 'ERR_OUT_OF_RANGE'],
    [[() => {}, {}], 'ERR_INVALID_ARG_TYPE'],
    [[() => {}, undefined], 'ERR_INVALID_ARG_TYPE'],
    [['cb', 'SIGUSR2'], 'ERR_INVALID_ARG_TYPE'],
    [[undefined, SIGUSR2], 'ERR_INVALID_ARG_TYPE'],
  ];
  for (const [args, code] of cases) {
    const error = t.throws(() => start(...args), { instanceOf: UsageError }, String(args));
    t.is(error?.code, code, String(args));
  }
  t.false(signal.active);
  signal.close();
});

loopTest.serial('SIGKILL cannot be watched: a UvError, not an abort', (t, loop) => {
  const signal = new Signal(loop);
  const error = t.throws(() => signal.start(() => {}, 'SIGKILL'), { instanceOf: UvError });
  t.is(error?.code, 'EINVAL');
  t.is(error?.syscall, 'signal_start');
  t.false(signal.active);
  signal.close();
});

loopTest.serial("an unref'd signal handle does not keep the loop alive", (t, loop) => {
  const signal = new Signal(loop);
  signal.start(() => {}, 'SIGUSR2');
  t.true(loop.alive);
  signal.unref();
  t.false(loop.alive);
  signal.close();
});

loopTest.serial('methods of a closed signal handle throw ERR_HANDLE_CLOSED', (t, loop) => {
  const signal = new Signal(loop);
  let closed = 0;
  signal.start(() => {}, 'SIGUSR2');
  signal.close(() => closed++);
  signal.close(() => closed++);
  for (const call of [
    () => signal.start(() => {}, 'SIGUSR2'),
    () => signal.stop(),
    () => signal.ref(),
  ]) {
    const error = t.throws(call, { instanceOf: UsageError });
    t.is(error?.code, 'ERR_HANDLE_CLOSED');
  }
  t.is(signal.signum, 0);
  loop.run();
  t.is(closed, 1);
});

loopTest.serial(
  'a worker thread watching the same signal gets the delivery too',
  async (t, loop) => {
    // The worker's Signal is on its own thread's loop; one kill reaches both.
    const worker = new Worker(
      `(async () => {
       const { Signal } = await import('asyncuv');
       const { parentPort } = await import('node:worker_threads');
       const signal = new Signal();
       signal.start((signum) => {
         parentPort.postMessage({ got: signum });
         signal.close();
       }, 'SIGUSR2');
       parentPort.postMessage('ready');
     })();`,
      { eval: true },
    );
    const messages: unknown[] = [];
    worker.on('message', (m) => messages.push(m));
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const signal = new Signal(loop);
    let ours = 0;
    signal.start(() => ours++, 'SIGUSR2');
    try {
      t.true(await waitFor(() => messages.includes('ready'), 20_000), 'the worker is watching');
      process.kill(process.pid, 'SIGUSR2');
      t.true(
        await waitFor(() => ours === 1 && messages.length === 2, 20_000),
        `ours=${ours} worker=${JSON.stringify(messages)}`,
      );
      t.deepEqual(messages[1], { got: constants.signals.SIGUSR2 });
      t.is(await exited, 0, 'the worker exits once its handle is closed');
    } finally {
      signal.close();
      await worker.terminate();
    }
  },
);
