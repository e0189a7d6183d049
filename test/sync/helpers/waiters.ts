// How many threads or async waits are parked on a primitive's state.

/**
 * Wakes whatever is parked (Atomics.wait or Atomics.waitAsync) on any word
 * of `buffer` and returns how many that was. Only for a state nobody should
 * be waiting on: a live waiter gets a spurious wake-up.
 */
export function wakeAllParked(buffer: SharedArrayBuffer): number {
  const words = new Int32Array(buffer);
  let woken = 0;
  for (let i = 0; i < words.length; i++) woken += Atomics.notify(words, i);
  return woken;
}
