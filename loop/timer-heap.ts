import type { TimerHandle } from './events.js';

function before(a: TimerHandle, b: TimerHandle): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * A binary min-heap of timer handles by (when, seq). Each handle knows its
 * index, so cancel() removes it in O(log n) instead of leaving it behind.
 */
export class TimerHeap {
  readonly #items: TimerHandle[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): TimerHandle | undefined {
    return this.#items[0];
  }

  push(handle: TimerHandle): void {
    handle.heapIndex = this.#items.length;
    this.#items.push(handle);
    this.#up(handle.heapIndex);
  }

  pop(): TimerHandle | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined) return undefined;
    top.heapIndex = -1;
    const last = items.pop()!;
    const n = items.length;
    if (n === 0) return top;
    // Floyd's pop: move the hole at the root down to a leaf along the
    // smaller children (one comparison per level), then sift the last item
    // up from there. The last item belongs near the bottom, so this takes
    // about half the comparisons of sifting it down from the root, which
    // counts when thousands of timers come due in one iteration.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(items[r]!, items[l]!) ? r : l;
      const c = items[child]!;
      items[i] = c;
      c.heapIndex = i;
      i = child;
    }
    items[i] = last;
    last.heapIndex = i;
    this.#up(i);
    return top;
  }

  remove(handle: TimerHandle): void {
    const i = handle.heapIndex;
    if (i < 0 || this.#items[i] !== handle) return;
    this.#removeAt(i);
  }

  clear(): void {
    for (const h of this.#items) h.heapIndex = -1;
    this.#items.length = 0;
  }

  #removeAt(i: number): void {
    const items = this.#items;
    const removed = items[i]!;
    const last = items.pop()!;
    removed.heapIndex = -1;
    if (i < items.length) {
      items[i] = last;
      last.heapIndex = i;
      this.#down(i);
      this.#up(last.heapIndex);
    }
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!before(item, p)) break;
      items[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(items[r]!, items[l]!) ? r : l;
      const c = items[child]!;
      if (!before(c, item)) break;
      items[i] = c;
      c.heapIndex = i;
      i = child;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
