// The loop's timer heap against a sorted-array model: random pushes, pops
// and removals (cancel) must come out in (when, seq) order, every handle's
// heapIndex must stay true, and removed handles must never come out.
import test from 'ava';
import { TimerHandle } from '../../loop/events.js';
import { TimerHeap } from '../../loop/timer-heap.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const order = (a: TimerHandle, b: TimerHandle): number => a.at - b.at || a.seq - b.seq;

for (const seed of [1, 2, 3, 42, 1234]) {
  test(`timer heap matches a sorted model over 20,000 random operations (seed ${seed})`, (t) => {
    const random = rng(seed);
    const heap = new TimerHeap();
    let model: TimerHandle[] = [];
    let seq = 0;
    let checked = 0;
    for (let op = 0; op < 20_000; op++) {
      const r = random();
      if (r < 0.55) {
        // Few distinct times, so ties (broken by seq) are common.
        const h = new TimerHandle(Math.floor(random() * 50) / 1000, seq++, () => {}, []);
        heap.push(h);
        model.push(h);
      } else if (r < 0.85) {
        model.sort(order);
        const expected = model.shift();
        const got = heap.pop();
        t.is(got, expected);
        if (got !== undefined) t.is(got.heapIndex, -1);
        checked++;
      } else if (model.length > 0) {
        const victim = model[Math.floor(random() * model.length)]!;
        heap.remove(victim);
        t.is(victim.heapIndex, -1);
        model = model.filter((h) => h !== victim);
        heap.remove(victim); // a second removal is a no-op
      }
      t.is(heap.size, model.length);
    }
    model.sort(order);
    for (const expected of model) t.is(heap.pop(), expected);
    t.is(heap.pop(), undefined);
    t.true(checked > 1000);
  });
}
