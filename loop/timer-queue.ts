import type { CallbackHandle, TimerHandle } from './events.js';

// Fewer cancelled entries than this are never compacted away (CPython's
// _MIN_SCHEDULED_TIMER_HANDLES): a rebuild would cost more than they do.
const kMinCompact = 100;

/** The timers due within one millisecond of loop time, in scheduling order until sorted. */
class Bucket {
  items: TimerHandle[];
  // items[0, head) were taken already (and cleared); the rest wait.
  head = 0;
  // items[head..] are in order of when, then of scheduling. Appending
  // keeps scheduling order (the tie-breaker), so only a `when` below the
  // last one's unsorts them.
  sorted = true;
  // A lower bound of the waiting items' when(): exact after a sort, and
  // left as it was when the earliest one is cancelled.
  min: number;

  constructor(first: TimerHandle) {
    this.items = [first];
    this.min = first.at;
  }
}

/**
 * Sorts by when, stably: equal whens keep their order, which is scheduling
 * order. A natural merge sort: a bucket holds a few ascending runs (one per
 * distinct delay scheduled during that millisecond), so merging the runs
 * costs n log(runs) comparisons; written out rather than
 * Array.prototype.sort, whose call into a comparator per comparison cost
 * more than the comparison itself.
 */
export function sortByWhen(items: TimerHandle[]): void {
  const n = items.length;
  // Where each maximal non-decreasing run starts, and n.
  let bounds = [0];
  for (let i = 1; i < n; i++) if (items[i]!.at < items[i - 1]!.at) bounds.push(i);
  if (bounds.length === 1) return;
  bounds.push(n);
  // A bucket larger than kMaxScratch gets an array of its own, which is
  // not kept: the scratch array never holds more than 512 KiB.
  const own = n > kMaxScratch;
  if (!own && scratch.length < n) scratch = new Array<TimerHandle>(n);
  const spare = own ? new Array<TimerHandle>(n) : scratch;
  let src = items;
  let dst = spare;
  while (bounds.length > 2) {
    const merged = [0];
    let r = 0;
    for (; r + 2 < bounds.length; r += 2) {
      merge(src, dst, bounds[r]!, bounds[r + 1]!, bounds[r + 2]!);
      merged.push(bounds[r + 2]!);
    }
    if (r + 1 < bounds.length) {
      // An odd run out: carried over as it is.
      for (let i = bounds[r]!; i < n; i++) dst[i] = src[i]!;
      merged.push(n);
    }
    bounds = merged;
    [src, dst] = [dst, src];
  }
  if (src !== items) for (let i = 0; i < n; i++) items[i] = src[i]!;
  // The scratch array must not keep fired timers (and what their callbacks
  // hold) alive until the next sort.
  if (!own) scratch.fill(undefined as never, 0, n);
}

/**
 * The merge's second array, kept from sort to sort (empty between them): a
 * new one per bucket was 8 bytes of garbage per timer, a twentieth of what
 * a callLater allocates.
 */
let scratch: TimerHandle[] = [];
const kMaxScratch = 65536;

/** Merges src[lo, mid) and src[mid, hi), both sorted, into dst[lo, hi); ties from the left. */
function merge(src: TimerHandle[], dst: TimerHandle[], lo: number, mid: number, hi: number): void {
  let i = lo;
  let j = mid;
  let k = lo;
  while (i < mid && j < hi) {
    const a = src[i]!;
    const b = src[j]!;
    if (b.at < a.at) {
      dst[k++] = b;
      j++;
    } else {
      dst[k++] = a;
      i++;
    }
  }
  while (i < mid) dst[k++] = src[i++]!;
  while (j < hi) dst[k++] = src[j++]!;
}

/**
 * The loop's timers, by when, then scheduling order (asyncio's rule): one
 * bucket per millisecond of `when`, and a binary min-heap of the buckets'
 * millisecond keys. Scheduling
 * appends to a bucket (O(1); the key heap grows only for a new
 * millisecond), and a bucket is sorted once, when it comes due, instead of
 * every timer sifting through a heap of all timers: the cost of a timer no
 * longer grows with how many others wait.
 *
 * A cancelled timer stays in its bucket until its millisecond comes or
 * more than half of the entries are cancelled ones, then all buckets are
 * compacted (asyncio's rule): cancel() is O(1), and a loop that schedules
 * and cancels many timeouts holds at most about twice its live timers.
 */
export class TimerQueue {
  readonly #buckets = new Map<number, Bucket>();
  // Min-heap of the keys of #buckets (each once).
  #keys: number[] = [];
  #live = 0;
  #cancelled = 0;
  readonly #onEmpty: () => void;

  /** `onEmpty` runs when a cancel() leaves no live timer. */
  constructor(onEmpty: () => void) {
    this.#onEmpty = onEmpty;
  }

  /** Timers waiting, not counting cancelled ones. */
  get size(): number {
    return this.#live;
  }

  /** @internal Entries held, cancelled ones included (for tests of compaction). */
  get stored(): number {
    return this.#live + this.#cancelled;
  }

  push(handle: TimerHandle): void {
    const at = handle.at;
    const key = Math.floor(at * 1000);
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      this.#buckets.set(key, new Bucket(handle));
      pushKey(this.#keys, key);
    } else {
      const items = bucket.items;
      if (at < items[items.length - 1]!.at) {
        bucket.sorted = false;
        if (at < bucket.min) bucket.min = at;
      }
      items.push(handle);
    }
    handle.queue = this;
    this.#live++;
  }

  /**
   * A lower bound of the earliest live timer's when() (Infinity when there
   * is none): exact unless that timer was cancelled, in which case arming
   * for it costs one early wake-up, after which takeDue() makes it exact.
   */
  nextWhen(): number {
    if (this.#live === 0) return Infinity;
    return this.#buckets.get(this.#keys[0]!)!.min;
  }

  /** Appends the timers with when() <= end to `out`, by when, then scheduling order. */
  takeDue(end: number, out: CallbackHandle[]): void {
    const keys = this.#keys;
    const endKey = Math.floor(end * 1000);
    while (keys.length > 0 && keys[0]! <= endKey) {
      const key = keys[0]!;
      const bucket = this.#buckets.get(key)!;
      if (!bucket.sorted) {
        if (bucket.head > 0) bucket.items = bucket.items.slice(bucket.head);
        bucket.head = 0;
        sortByWhen(bucket.items);
        bucket.sorted = true;
      }
      // floor(at * 1000) is monotonic in at: a bucket below endKey is due
      // as a whole; in endKey's own bucket each when() is compared.
      if (!this.#drain(bucket, key < endKey ? Infinity : end, out)) break;
      this.#buckets.delete(key);
      popKey(keys);
    }
    // Taking live timers can leave the cancelled ones the majority.
    if (this.#cancelled > 0) this.#settle();
  }

  /**
   * Moves the bucket's timers with when() <= limit to `out` (the cancelled
   * ones are dropped); true if that emptied it. A function of its own, not
   * a loop inside takeDue's: Node 24's V8 compiles a hot inner loop on its
   * own (on-stack replacement) and deoptimizes at every exit from it, once
   * per bucket (bench/PROFILE.md, "callLater on Node 24").
   */
  #drain(bucket: Bucket, limit: number, out: CallbackHandle[]): boolean {
    const items = bucket.items;
    const n = items.length;
    const head = bucket.head;
    let i = head;
    let taken = 0;
    for (; i < n; i++) {
      const handle = items[i]!;
      if (handle.at > limit) break;
      if (handle.queue === this) {
        handle.queue = undefined;
        out.push(handle);
        taken++;
      }
    }
    this.#live -= taken;
    this.#cancelled -= i - head - taken;
    if (i === n) return true;
    // Partly due: keep the rest, and let go of what was taken.
    for (let j = head; j < i; j++) items[j] = undefined as never;
    bucket.head = i;
    bucket.min = items[i]!.at;
    return false;
  }

  /** Called by TimerHandle.cancel() while the handle is in this queue. */
  cancel(handle: TimerHandle): void {
    handle.queue = undefined;
    this.#live--;
    this.#cancelled++;
    if (this.#settle()) this.#onEmpty();
  }

  /**
   * Drops the cancelled entries once they are the majority (or all that is
   * left); true if nothing is left.
   */
  #settle(): boolean {
    if (this.#live === 0) {
      this.clear();
      return true;
    }
    if (this.#cancelled >= kMinCompact && this.#cancelled > this.#live) this.#compact();
    return false;
  }

  clear(): void {
    for (const bucket of this.#buckets.values()) {
      const items = bucket.items;
      for (let i = bucket.head; i < items.length; i++) {
        if (items[i]!.queue === this) items[i]!.queue = undefined;
      }
    }
    this.#buckets.clear();
    this.#keys = [];
    this.#live = 0;
    this.#cancelled = 0;
  }

  /** Drops every cancelled entry, and the buckets left empty. */
  #compact(): void {
    for (const [key, bucket] of this.#buckets) {
      const items = bucket.items;
      const kept: TimerHandle[] = [];
      let min = Infinity;
      for (let i = bucket.head; i < items.length; i++) {
        const handle = items[i]!;
        if (handle.queue !== this) continue;
        kept.push(handle);
        if (handle.at < min) min = handle.at;
      }
      if (kept.length === 0) {
        this.#buckets.delete(key);
        continue;
      }
      // Filtering keeps the order, sorted or not.
      bucket.items = kept;
      bucket.head = 0;
      bucket.min = min;
    }
    // An ascending array is a valid min-heap.
    this.#keys = [...this.#buckets.keys()].sort((a, b) => a - b);
    this.#cancelled = 0;
  }
}

function pushKey(keys: number[], key: number): void {
  let i = keys.length;
  keys.push(key);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = keys[parent]!;
    if (p <= key) break;
    keys[i] = p;
    i = parent;
  }
  keys[i] = key;
}

function popKey(keys: number[]): void {
  const last = keys.pop()!;
  const n = keys.length;
  if (n === 0) return;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const child = r < n && keys[r]! < keys[l]! ? r : l;
    if (keys[child]! >= last) break;
    keys[i] = keys[child]!;
    i = child;
  }
  keys[i] = last;
}
