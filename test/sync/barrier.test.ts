import test from 'ava';
import { Barrier, SyncTimeoutError } from 'asyncuv/sync';
import { runWorker } from './helpers/workers.js';

const fixture = 'barrier-tasks';

test('100 rounds x 4 threads: everyone arrives before anyone leaves, exactly one true per round', async (t) => {
  const rounds = 100;
  const barrier = new Barrier(4);
  const arrived = new SharedArrayBuffer(4 * rounds);
  const winners = new SharedArrayBuffer(4 * rounds);
  const results = await Promise.all(
    [0, 1, 2, 3].map(() =>
      runWorker<{ early: number }>(fixture, {
        task: 'rounds',
        handle: barrier.handle,
        rounds,
        arrived,
        winners,
      }),
    ),
  );
  t.deepEqual(
    results.map((r) => r.early),
    [0, 0, 0, 0],
  );
  t.deepEqual([...new Int32Array(winners)], new Array<number>(rounds).fill(1));
  t.deepEqual([...new Int32Array(arrived)], new Array<number>(rounds).fill(4));
});

test('waitAsync on the main thread takes part in rounds with workers', async (t) => {
  const rounds = 20;
  const barrier = new Barrier(3);
  const arrived = new SharedArrayBuffer(4 * rounds);
  const winners = new SharedArrayBuffer(4 * rounds);
  const workers = [0, 1].map(() =>
    runWorker<{ early: number }>(fixture, {
      task: 'rounds',
      handle: barrier.handle,
      rounds,
      arrived,
      winners,
    }),
  );
  const a = new Int32Array(arrived);
  const w = new Int32Array(winners);
  for (let round = 0; round < rounds; round++) {
    Atomics.add(a, round, 1);
    if (await barrier.waitAsync()) Atomics.add(w, round, 1);
    t.is(Atomics.load(a, round), 3);
  }
  t.deepEqual(
    (await Promise.all(workers)).map((r) => r.early),
    [0, 0],
  );
  t.deepEqual([...w], new Array<number>(rounds).fill(1));
});

test('a barrier of one never waits and always returns true', (t) => {
  const barrier = new Barrier(1);
  for (let i = 0; i < 5; i++) t.true(barrier.wait());
});

test('an aborted waitAsync rejects with the reason', async (t) => {
  const barrier = new Barrier(2);
  const controller = new AbortController();
  const waiting = barrier.waitAsync({ signal: controller.signal });
  setTimeout(() => controller.abort(new Error('stop')), 20);
  await t.throwsAsync(waiting, { message: 'stop' });
});

// docs/sync.md: every async method takes { signal?, timeoutMs? }, a timeout
// rejecting with SyncTimeoutError; like an abort, it cannot take the
// arrival back, so the round still counts the thread that gave up.
test('a timed-out waitAsync rejects with SyncTimeoutError; its arrival still counts', async (t) => {
  const barrier = new Barrier(2);
  await t.throwsAsync(barrier.waitAsync({ timeoutMs: 20 }), {
    instanceOf: SyncTimeoutError,
    code: 'ERR_SYNC_TIMEOUT',
  });
  t.true(barrier.wait(), 'the second arrival completes the round at once');
  await t.throwsAsync(barrier.waitAsync({ timeoutMs: 0 }), { code: 'ERR_SYNC_TIMEOUT' });
  t.true(await barrier.waitAsync({ timeoutMs: 0 }), 'the last to arrive never waits');
  await t.throwsAsync(barrier.waitAsync({ timeoutMs: -1 }), { code: 'ERR_OUT_OF_RANGE' });
});

test('bad counts and handles are typed errors', (t) => {
  t.throws(() => new Barrier(0), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => new Barrier(1.5), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => new Barrier('2' as never), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => Barrier.from({ asyncuvSync: 'Barrier' } as never), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.is(Barrier.from(new Barrier(7).handle).count, 7);
});
