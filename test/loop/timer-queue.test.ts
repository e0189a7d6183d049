// The loop's timer queue (millisecond buckets) against a sorted-array model:
// random pushes, takes up to a time and cancels must come out in
// (when, seq) order, cancelled timers never, and the entries held must stay
// bounded by the compaction rule.
import test from 'ava';
import { TimerHandle } from '../../loop/events.js';
import { TimerQueue, sortByWhen } from '../../loop/timer-queue.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

// Scheduling order, the tie-breaker among equal whens.
const seqOf = new Map<TimerHandle, number>();
const seq = (h: TimerHandle): number => seqOf.get(h)!;
const order = (a: TimerHandle, b: TimerHandle): number => a.at - b.at || seq(a) - seq(b);

function timer(when: number): TimerHandle {
  const h = new TimerHandle(when, () => {}, []);
  seqOf.set(h, seqOf.size);
  return h;
}

function take(queue: TimerQueue, end: number): TimerHandle[] {
  const out: TimerHandle[] = [];
  queue.takeDue(end, out);
  return out;
}

for (const seed of [1, 2, 3, 42, 1234]) {
  test(`timer queue matches a sorted model over 20,000 random operations (seed ${seed})`, (t) => {
    const random = rng(seed);
    const queue = new TimerQueue(() => {});
    let model: TimerHandle[] = [];
    let now = 1;
    let taken = 0;
    for (let op = 0; op < 20_000; op++) {
      const r = random();
      if (r < 0.55) {
        // Whens on a 0.25 ms grid around now, some in the past: ties
        // (broken by seq) are common, and most buckets get several whens.
        const h = timer(now + (Math.floor(random() * 60) - 4) / 4000);
        queue.push(h);
        model.push(h);
      } else if (r < 0.85) {
        now += random() / 1000;
        // Sometimes up to a point inside a millisecond (a partial bucket).
        const end = now + (random() < 0.5 ? 0.001 : 0.0003);
        model.sort(order);
        const due = model.filter((h) => h.at <= end);
        model = model.filter((h) => h.at > end);
        const got = take(queue, end);
        t.deepEqual(got.map(seq), due.map(seq));
        for (const h of got) t.is(h.queue, undefined);
        taken += got.length;
      } else if (model.length > 0) {
        const victim = model[Math.floor(random() * model.length)]!;
        victim.cancel();
        t.is(victim.queue, undefined);
        model = model.filter((h) => h !== victim);
        victim.cancel(); // a second cancel is a no-op
      }
      t.is(queue.size, model.length);
      t.true(queue.stored <= 2 * model.length + 100, `${queue.stored} held`);
      const next = queue.nextWhen();
      if (model.length === 0) t.is(next, Infinity);
      else t.true(next <= Math.min(...model.map((h) => h.at)));
    }
    model.sort(order);
    t.deepEqual(take(queue, Infinity).map(seq), model.map(seq));
    t.is(queue.size, 0);
    t.is(queue.stored, 0);
    t.true(taken > 1000);
  });
}

test('equal and near-equal whens across millisecond boundaries come out by (when, seq)', (t) => {
  const queue = new TimerQueue(() => {});
  const base = 10;
  const whens = [0.0019999, 0.002, 0.002, 0.0020001, 0.0009999, 0.001, 0.002, 0.0019999, 0.001];
  const handles = whens.map((w) => timer(base + w));
  for (const h of handles) queue.push(h);
  const expected = [...handles].sort(order).map(seq);
  // Up to exactly base + 0.002: everything but the one just above it.
  const first = take(queue, base + 0.002);
  t.deepEqual(first.map(seq), expected.slice(0, -1));
  t.deepEqual(take(queue, base + 0.003).map(seq), expected.slice(-1));
});

test('a bucket partly taken keeps its order for timers appended later', (t) => {
  const queue = new TimerQueue(() => {});
  const a = timer(5.0004);
  const b = timer(5.0008);
  queue.push(b);
  queue.push(a);
  t.deepEqual(take(queue, 5.0005), [a]);
  // Into the same millisecond, before and equal to what waits there.
  const c = timer(5.0006);
  const d = timer(5.0008);
  queue.push(c);
  queue.push(d);
  t.is(queue.nextWhen(), 5.0006);
  t.deepEqual(take(queue, 5.001), [c, b, d]);
});

test('cancelling many timers compacts the queue; the last cancel empties it', (t) => {
  let emptied = 0;
  const queue = new TimerQueue(() => emptied++);
  const handles = Array.from({ length: 10_000 }, (_, i) => timer(100 + (i % 500) / 1000));
  for (const h of handles) queue.push(h);
  t.is(queue.stored, 10_000);
  // Cancel 9,000: entries held fall back to within twice the live ones.
  for (let i = 0; i < 9_000; i++) handles[i]!.cancel();
  t.is(queue.size, 1_000);
  t.true(queue.stored <= 2 * 1_000 + 100, `${queue.stored} held`);
  t.is(emptied, 0);
  for (let i = 9_000; i < 10_000; i++) handles[i]!.cancel();
  t.is(queue.size, 0);
  t.is(queue.stored, 0);
  t.is(emptied, 1);
  t.is(queue.nextWhen(), Infinity);
  t.deepEqual(take(queue, Infinity), []);
});

test('a queue that schedules and cancels timeouts forever stays bounded', (t) => {
  const queue = new TimerQueue(() => {});
  const keep = timer(1_000);
  queue.push(keep);
  let now = 0;
  let most = 0;
  for (let i = 0; i < 50_000; i++) {
    const timeout = timer(now + 30);
    queue.push(timeout);
    timeout.cancel();
    now += 0.0001;
    take(queue, now);
    most = Math.max(most, queue.stored);
  }
  t.true(most <= 2 + 100, `${most} held at most`);
  t.is(queue.size, 1);
});

test('very large and past whens', (t) => {
  const queue = new TimerQueue(() => {});
  const far = timer(1e300);
  const farther = timer(Number.MAX_VALUE);
  const past = timer(-1e300);
  const zero = timer(0);
  for (const h of [farther, far, zero, past]) queue.push(h);
  t.is(queue.nextWhen(), -1e300);
  t.deepEqual(take(queue, 1), [past, zero]);
  t.is(queue.nextWhen(), 1e300);
  t.deepEqual(take(queue, 1e299), []);
  t.deepEqual(take(queue, Number.MAX_VALUE), [far, farther]);
});

test('sortByWhen sorts by when and keeps the order of equal whens', (t) => {
  const random = rng(7);
  for (let round = 0; round < 300; round++) {
    const n = Math.floor(random() * 200);
    const runs = 1 + Math.floor(random() * 12);
    // `runs` interleaved ascending sequences with ties, as delays make them.
    const items = Array.from({ length: n }, (_, i) =>
      timer(Math.floor(i / runs) * 0.0001 + (i % runs) * 0.00003 + (random() < 0.2 ? 0 : 1e-6)),
    );
    const expected = [...items].sort(order);
    sortByWhen(items);
    t.deepEqual(items.map(seq), expected.map(seq));
  }
});
