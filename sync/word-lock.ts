// The lock word shared by Mutex and Queue's internal lock: one Int32 in a
// SharedArrayBuffer holding 0 (free) or the owner's thread id, plus a bit
// saying that somebody may be parked on it (Drepper's "futexes are tricky",
// mutex #3, with the owner id in place of the 1). Uncontended lock and
// unlock are one compareExchange each and never leave JavaScript; only a
// waiter whose sleep slice expired asks the addon whether the owner lives.
import { isThreadAlive } from './thread.js';
import { kOwnerCheckMs, park, parkAsync, remainingUntil } from './park.js';

export const kWaiters = 1 << 30;
export const kIdMask = kWaiters - 1;

/** The slow paths' results: acquired, or one of these. */
export const kAcquired = 0;
export const kTimedOut = -1;
export const kRecursion = -2;
export const kAborted = -3;
// Any positive result: acquired, and the previous owner (that id) was dead.

/** Tries to take a free word for `me`; true on success. */
export function tryLockWord(s: Int32Array, i: number, me: number): boolean {
  return Atomics.compareExchange(s, i, 0, me) === 0;
}

/**
 * Takes the word over from a dead owner if it still holds exactly `seen`;
 * true if this thread is now the owner.
 */
function takeOverIfDead(s: Int32Array, i: number, me: number, seen: number): boolean {
  const owner = seen & kIdMask;
  if (owner === 0 || isThreadAlive(owner)) return false;
  return Atomics.compareExchange(s, i, seen, me | kWaiters) === seen;
}

/**
 * Blocks until the word is ours or `deadline` (performance.now() ms) passes.
 * Returns kAcquired, kTimedOut, kRecursion, or the id of a dead previous owner.
 *
 * A thread that has parked once always takes the word with the waiters bit
 * set, since other waiters may still sleep and nobody else would wake them.
 * A thread that has not parked yet may take it bare: if a woken waiter then
 * finds it held, that waiter sets the bit again before it parks.
 *
 * There is no spinning before parking: with 2 workers on 2 shared cores, 100
 * loads before parking measured slower (0.69-0.80x of the futex reference
 * against 0.91-1.26x without), as the spinner takes the CPU its owner needs.
 */
export function lockWordSlow(s: Int32Array, i: number, me: number, deadline: number): number {
  let parked = false;
  for (;;) {
    const c = Atomics.load(s, i);
    if (c === 0) {
      if (Atomics.compareExchange(s, i, 0, parked ? me | kWaiters : me) === 0) return kAcquired;
      continue;
    }
    if ((c & kIdMask) === me) return kRecursion;
    if ((c & kWaiters) === 0 && Atomics.compareExchange(s, i, c, c | kWaiters) !== c) continue;
    const seen = c | kWaiters;
    // Leaving here is safe: the word is held, and its owner will wake a waiter.
    const remaining = remainingUntil(deadline);
    if (remaining <= 0) return kTimedOut;
    parked = true;
    if (
      park(s, i, seen, Math.min(remaining, kOwnerCheckMs)) === 'timed-out' &&
      takeOverIfDead(s, i, me, seen)
    ) {
      return seen & kIdMask;
    }
  }
}

/**
 * The async twin of lockWordSlow: never blocks the thread. The word may be
 * held by another task of this same thread, so an owner id equal to `me`
 * is waited for, not reported as recursion.
 */
export async function lockWordAsync(
  s: Int32Array,
  i: number,
  me: number,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  for (;;) {
    const c = Atomics.load(s, i);
    if (c === 0) {
      if (Atomics.compareExchange(s, i, 0, me | kWaiters) === 0) return kAcquired;
      continue;
    }
    if ((c & kWaiters) === 0 && Atomics.compareExchange(s, i, c, c | kWaiters) !== c) continue;
    const seen = c | kWaiters;
    const remaining = remainingUntil(deadline);
    if (remaining <= 0) return kTimedOut;
    const r = await parkAsync(s, i, seen, Math.min(remaining, kOwnerCheckMs), signal);
    if (r === 'aborted') return kAborted;
    if (r === 'timed-out' && takeOverIfDead(s, i, me, seen)) {
      return seen & kIdMask;
    }
  }
}

/**
 * Releases a word held by `me`. Returns false (and changes nothing) if `me`
 * does not hold it.
 */
export function unlockWord(s: Int32Array, i: number, me: number): boolean {
  const c = Atomics.compareExchange(s, i, me, 0);
  return c === me || unlockContended(s, i, me, c);
}

/**
 * The rest of unlockWord once compareExchange(me -> 0) failed, having seen
 * `c`: releases and wakes a waiter if `me` holds the word with the waiters
 * bit; returns false (changing nothing) if `me` does not hold it.
 */
export function unlockContended(s: Int32Array, i: number, me: number, c: number): boolean {
  if ((c & kIdMask) !== me) return false;
  // Only the owner changes a held word's id, and the waiters bit is already
  // set, so a plain store cannot lose another thread's update.
  Atomics.store(s, i, 0);
  Atomics.notify(s, i, 1);
  return true;
}
