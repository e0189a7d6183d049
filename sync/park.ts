// Parking: how a thread sleeps on a word of shared memory until another
// thread changes it. Blocking waits use Atomics.wait (allowed in workers and
// in Node's main thread; worker.terminate() interrupts it). Async waits use
// Atomics.waitAsync: V8 keeps the waiter in the same list as blocking ones,
// and Atomics.notify resolves it by posting a task to the waiting thread's
// platform task runner, which wakes that thread's loop with uv_async_send.
// No threadpool thread is held per waiter; keep-alive.ts holds the loop open.
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType } from '../errors/validate.js';
import { holdLoop, releaseLoop } from './keep-alive.js';

export type ParkResult = 'ok' | 'not-equal' | 'timed-out' | 'aborted';

/**
 * A waiter that has an owner to watch sleeps at most this long at a time,
 * then checks that the owner is alive: the bound on how long an abandoned
 * lock goes unnoticed (a dead thread cannot notify anybody).
 */
export const kOwnerCheckMs = 100;

// Atomics.waitAsync is ES2024; the lib this package compiles against is ES2022.
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) =>
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export const now = (): number => performance.now();

/** When a wait of `timeoutMs` from now ends (Infinity: never). */
export function deadlineOf(timeoutMs: number): number {
  return timeoutMs === Infinity ? Infinity : now() + timeoutMs;
}

/** The ms left until `deadline` (Infinity: no deadline; <= 0: passed). */
export function remainingUntil(deadline: number): number {
  return deadline === Infinity ? Infinity : deadline - now();
}

/** Validates an optional timeout in ms (>= 0, Infinity allowed); undefined = forever. */
export function timeoutArg(value: unknown, name = 'timeoutMs'): number {
  if (value === undefined) return Infinity;
  if (typeof value !== 'number') throw invalidArgType(name, 'a number', value);
  if (Number.isNaN(value) || value < 0) {
    throw new UsageError(
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" must be >= 0. Received ${value}`,
    );
  }
  return value;
}

export interface AsyncWaitOptions {
  /** Rejects the wait with `signal.reason` when aborted. */
  signal?: AbortSignal | undefined;
  /** Rejects the wait with a SyncTimeoutError after this many ms. */
  timeoutMs?: number | undefined;
}

/** Checks the options of an ...Async method; returns the timeout (Infinity if none). */
export function asyncOptions(opts: unknown): {
  signal: AbortSignal | undefined;
  timeoutMs: number;
} {
  if (opts === undefined) return { signal: undefined, timeoutMs: Infinity };
  if (typeof opts !== 'object' || opts === null) throw invalidArgType('options', 'an object', opts);
  const { signal, timeoutMs } = opts as AsyncWaitOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgType('options.signal', 'an AbortSignal', signal);
  }
  return { signal, timeoutMs: timeoutArg(timeoutMs, 'options.timeoutMs') };
}

/** The one place blocking waits park (Infinity: no timeout). */
export function park(
  s: Int32Array,
  index: number,
  expected: number,
  timeoutMs: number,
): ParkResult {
  return Atomics.wait(s, index, expected, timeoutMs);
}

/**
 * Atomics.waitAsync, plus: the loop stays alive while it is pending, and an
 * abort settles it at once with 'aborted'.
 *
 * The rule: a wait that has settled holds no place among the waiters. V8
 * cannot cancel a waitAsync, and its waiter sits in the same FIFO list as
 * the blocking ones, so an abandoned one would take the next
 * Atomics.notify(s, index, 1) meant for a live waiter. Passing that wake-up
 * on later is not enough: it would be passed on from this thread's loop,
 * which never runs while this thread blocks (a sync get() after an aborted
 * getAsync), and the live waiter (on this thread or another) sleeps beside
 * an item or a free lock. So an abort wakes every waiter on the word at
 * once, which takes the abandoned one out of the list now. Every caller
 * waits in a loop that checks its condition again, so to the others this
 * is a spurious wake-up; and a wake-up the abandoned waiter had already
 * taken is not lost, since they are all woken after it.
 * (A wait that timed out is no such problem: V8 drops it from the list.)
 */
export function parkAsync(
  s: Int32Array,
  index: number,
  expected: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<ParkResult> | ParkResult {
  if (signal?.aborted) return 'aborted';
  const r = waitAsync(s, index, expected, timeoutMs);
  if (!r.async) return r.value;
  holdLoop();
  return new Promise<ParkResult>((resolve) => {
    let settled = false;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      Atomics.notify(s, index);
      releaseLoop();
      resolve('aborted');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    void r.value.then((result) => {
      // After an abort, this is the wake-up onAbort gave (or one that
      // onAbort's wake-up of all the others made up for): nothing to do.
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      releaseLoop();
      resolve(result);
    });
  });
}

/** The rejection reason of an aborted async wait, as fetch() and timers do it. */
export function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
