// waitFor (asyncio.wait_for, and asyncio.timeout for a block of awaits):
// a deadline on a promise, or on work that takes an AbortSignal.
import { UsageError } from '../errors/usage-error.js';
import { validateNumber } from '../errors/validate.js';
import { TimeoutError } from './errors.js';

// The longest single setTimeout; longer deadlines re-arm.
const kMaxTimerMs = 2 ** 31 - 1;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function notAwaitable(): UsageError {
  return new UsageError(
    'ERR_INVALID_ARG_TYPE',
    'waitFor() takes a Promise or a function (signal) => Promise',
  );
}

/**
 * Settles as `work` does, or rejects with a TimeoutError after
 * `timeoutSec` seconds (null or Infinity: no deadline).
 *
 * Given a function, waitFor calls it with an AbortSignal and aborts that
 * signal at the deadline (its reason is the TimeoutError), so the work
 * stops: a stream read withdraws and keeps its bytes for the next read.
 * Given a promise, the work cannot be stopped; only the wait ends.
 *
 * As asyncio, a deadline of 0 (or less) still lets work that is already
 * settled win: the timer fires after the promise's reactions.
 */
export function waitFor<T>(
  work: Promise<T> | PromiseLike<T> | ((signal: AbortSignal) => Promise<T> | PromiseLike<T>),
  timeoutSec: number | null,
): Promise<T> {
  const controller = typeof work === 'function' ? new AbortController() : undefined;
  let promise: PromiseLike<T>;
  try {
    if (timeoutSec !== null && timeoutSec !== Infinity) {
      validateNumber(timeoutSec, 'timeoutSec', -Infinity, Infinity);
    }
    if (typeof work !== 'function' && !isThenable(work)) throw notAwaitable();
    promise = typeof work === 'function' ? work(controller!.signal) : work;
  } catch (err) {
    return Promise.reject(err);
  }
  if (!isThenable(promise)) return Promise.reject(notAwaitable());
  if (timeoutSec === null || timeoutSec === Infinity) return Promise.resolve(promise);
  return new Promise<T>((resolve, reject) => {
    const deadline = performance.now() + Math.max(0, timeoutSec) * 1000;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const arm = (): void => {
      const left = deadline - performance.now();
      if (left > kMaxTimerMs) {
        timer = setTimeout(arm, kMaxTimerMs);
        return;
      }
      timer = setTimeout(
        () => {
          settled = true;
          const err = new TimeoutError();
          // Reject first: work that settles while it aborts does not win.
          reject(err);
          controller?.abort(err);
        },
        Math.max(0, left),
      );
    };
    arm();
    promise.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
