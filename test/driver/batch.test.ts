// An embedded batch runs several passes of the private loop per turn of
// Node's loop (native/loop_wrap.h, rule 8), within the limits
// Loop.setBatchLimits sets; microtasks drain after every pass, stop() ends
// the batch, and Node's own timers and I/O keep running however busy the
// loop is. Counts come from the driver's own counters (batches started,
// passes run), never from timing.
import test from 'ava';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { deferred, loopTest, within } from '../helpers/loop-test.js';
import { Idle, Loop, UsageError } from '../../handles/index.js';
import { kNative } from '../../handles/internal.js';

interface Counts {
  batches: number;
  passes: number;
}

function counts(loop: Loop): Counts {
  const state = loop[kNative].driverState() as unknown as Counts;
  return { batches: state.batches, passes: state.passes };
}

/** Runs an Idle for `calls` callbacks; resolves with the driver's counts seen by the last one. */
function idleCalls(
  loop: Loop,
  calls: number,
  onCall: (n: number) => void = () => {},
): Promise<Counts> {
  const done = deferred<Counts>();
  const idle = new Idle(loop);
  let n = 0;
  idle.start(() => {
    onCall(++n);
    if (n < calls) return;
    done.resolve(counts(loop));
    idle.close();
  });
  return within(done.promise, `${calls} idle callbacks`);
}

test('the defaults are 16 passes within 1 ms', (t) => {
  const loop = new Loop();
  t.deepEqual(loop.batchLimits, { passes: 16, budgetMs: 1 });
  loop.close();
});

loopTest('a batch runs passes while an Idle is active, up to the pass limit', async (t, loop) => {
  // A budget no batch reaches: the pass limit alone ends each batch.
  loop.setBatchLimits({ passes: 8, budgetMs: 60_000 });
  const seen = await idleCalls(loop, 8 * 5);
  t.deepEqual(seen, { batches: 5, passes: 40 });
});

loopTest('{ passes: 1 } runs one pass per batch', async (t, loop) => {
  loop.setBatchLimits({ passes: 1 });
  const seen = await idleCalls(loop, 50);
  t.is(seen.passes, 50);
  t.is(seen.batches, 50);
});

loopTest('a budget of 0 ms runs one pass per batch whatever the pass limit', async (t, loop) => {
  loop.setBatchLimits({ passes: 1000, budgetMs: 0 });
  const seen = await idleCalls(loop, 50);
  t.is(seen.passes, 50);
  t.is(seen.batches, 50);
});

loopTest(
  'microtasks and process.nextTick run after every pass, before the next one',
  async (t, loop) => {
    loop.setBatchLimits({ passes: 16, budgetMs: 60_000 });
    const log: string[] = [];
    await idleCalls(loop, 6, (n) => {
      log.push(`idle ${n}`);
      process.nextTick(() => log.push(`tick ${n}`));
      queueMicrotask(() => log.push(`micro ${n}`));
    });
    const expected = [1, 2, 3, 4, 5, 6].flatMap((n) => [`idle ${n}`, `tick ${n}`, `micro ${n}`]);
    t.deepEqual(log.slice(0, expected.length), expected);
  },
);

loopTest('stop() from a callback ends the batch', async (t, loop) => {
  loop.setBatchLimits({ passes: 16, budgetMs: 60_000 });
  let atFourth: Counts | undefined;
  await idleCalls(loop, 4, (n) => {
    if (n === 3) loop.stop();
    if (n === 4) atFourth = counts(loop);
  });
  // Three passes in the first batch, then the fourth callback in a second one.
  t.deepEqual(atFourth, { batches: 2, passes: 4 });
});

loopTest("Node's timers and sockets keep running while an Idle never stops", async (t, loop) => {
  loop.setBatchLimits({ passes: 1 << 20, budgetMs: 5 });
  const idle = new Idle(loop);
  let calls = 0;
  idle.start(() => calls++);
  // A timer of Node's fires...
  await within(new Promise((resolve) => setTimeout(resolve, 10)), "Node's setTimeout");
  // ...and a node:net echo completes.
  const server = createServer((socket) => socket.pipe(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = createConnection((server.address() as { port: number }).port, '127.0.0.1');
  client.write('ping');
  const [data] = (await within(once(client, 'data'), 'a node:net echo')) as [Buffer];
  t.is(data.toString(), 'ping');
  client.destroy();
  server.close();
  t.true(calls > 0);
  idle.close();
});

loopTest('setBatchLimits keeps the fields it is not given', (t, loop) => {
  loop.setBatchLimits({ passes: 4 });
  t.deepEqual(loop.batchLimits, { passes: 4, budgetMs: 1 });
  loop.setBatchLimits({ budgetMs: 0.25 });
  t.deepEqual(loop.batchLimits, { passes: 4, budgetMs: 0.25 });
});

loopTest('bad batch limits are typed errors', (t, loop) => {
  const bad: Array<[unknown, string]> = [
    [{ passes: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ passes: 1.5 }, 'ERR_OUT_OF_RANGE'],
    [{ passes: 2 ** 21 }, 'ERR_OUT_OF_RANGE'],
    [{ passes: '4' }, 'ERR_INVALID_ARG_TYPE'],
    [{ budgetMs: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ budgetMs: Number.NaN }, 'ERR_OUT_OF_RANGE'],
    [{ budgetMs: Infinity }, 'ERR_OUT_OF_RANGE'],
    // The limits object itself: a TypeError when read before, or ignored.
    [null, 'ERR_INVALID_ARG_TYPE'],
    [undefined, 'ERR_INVALID_ARG_TYPE'],
    [4, 'ERR_INVALID_ARG_TYPE'],
    ['passes', 'ERR_INVALID_ARG_TYPE'],
  ];
  for (const [limits, code] of bad) {
    t.throws(
      () => loop.setBatchLimits(limits as { passes: number }),
      { instanceOf: UsageError, code },
      JSON.stringify(limits),
    );
  }
  t.deepEqual(loop.batchLimits, { passes: 16, budgetMs: 1 }, 'a refused call changes nothing');
});

test('setBatchLimits on a closed loop is ERR_LOOP_CLOSED', (t) => {
  const loop = new Loop();
  loop.close();
  t.throws(() => loop.setBatchLimits({ passes: 2 }), {
    instanceOf: UsageError,
    code: 'ERR_LOOP_CLOSED',
  });
});
