// The Queue under churn: the sequence of async waits, timeouts, aborts and
// timer-driven sync calls from queue.test.ts repeated thousands of times,
// on one thread and in workers, and a queue shared by threads that mix
// blocking and abandoned async waits. Every value is checked; nothing here
// asserts on time. (helpers/queue-churn.ts holds the drivers.)
import test from 'ava';
import { Queue } from 'asyncuv/sync';
import { churn } from './helpers/queue-churn.js';
import { runWorker } from './helpers/workers.js';

const fixture = 'queue-tasks';
type Produced = { retries: number };
type Consumed = { got: number[]; retries: number };
const rounds = 1500;

test('4 churns at once on this thread, 1,500 rounds each: every value as put', async (t) => {
  const churns = [0, 1, 2, 3].map((i) => churn(new Queue({ maxSize: 1 }), `main${i}`, rounds));
  t.deepEqual(await Promise.all(churns), [rounds, rounds, rounds, rounds]);
});

test('the same in 2 workers at once, 3 churns each', async (t) => {
  const workers = [0, 1].map((producer) =>
    runWorker<number>(fixture, {
      task: 'churn',
      handle: new Queue().handle,
      producer,
      churners: 3,
      n: rounds,
    }),
  );
  t.deepEqual(await Promise.all(workers), [3 * rounds, 3 * rounds]);
});

test('2 producers, 2 consumers, blocking beside abandoned async calls: in order', async (t) => {
  // maxSize 3 and a small ring: both sides wait often, on both sequence words.
  const queue = new Queue({ maxSize: 3, bytes: 512 });
  const perProducer = 3000;
  const { handle } = queue;
  const consumers = [0, 1].map(() =>
    runWorker<Consumed>(fixture, { task: 'consumeMixed', handle, producers: 2 }),
  );
  const producers = [0, 1].map((producer) =>
    runWorker<Produced>(fixture, { task: 'produceMixed', handle, producer, n: perProducer }),
  );
  const produced = await Promise.all(producers);
  await queue.putAsync(null);
  await queue.putAsync(null);
  const consumed = await Promise.all(consumers);
  const all = consumed.flatMap((c) => c.got);
  t.is(all.length, 2 * perProducer);
  t.is(new Set(all).size, all.length, 'no duplicates');
  for (const p of [0, 1]) {
    t.is(all.filter((v) => Math.floor(v / 1e6) === p).length, perProducer, `producer ${p}`);
  }
  t.is(queue.size, 0);
  // The mix did exercise abandoned waits on both sides.
  t.true(
    produced.some((p) => p.retries > 0),
    'some puts timed out or were aborted',
  );
  t.true(
    consumed.some((c) => c.retries > 0),
    'some gets timed out or were aborted',
  );
});

test('ping-pong of 2,000 items, 2 workers, blocking beside abandoned async calls', async (t) => {
  const there = new Queue({ maxSize: 1 });
  const back = new Queue({ maxSize: 1 });
  const n = 2000;
  const sides = [
    { handle: there.handle, reply: back.handle, serve: true },
    { handle: back.handle, reply: there.handle, serve: false },
  ].map((side) => runWorker<number>(fixture, { task: 'pingPong', ...side, n }));
  const retries = await Promise.all(sides);
  t.true(
    retries.every((r) => r > 0),
    'both sides had waits that timed out or were aborted',
  );
  t.is(there.size + back.size, 0);
});
