// AbortSignal support for the awaitables of the loop layer. The rule is
// Node core's (fs.promises, timers/promises, events.once): an aborted wait
// rejects with an AbortError (CancelledError, code 'ABORT_ERR') whose
// `cause` is the signal's reason, so AbortSignal.timeout(ms) shows up as
// `err.cause.name === 'TimeoutError'`.
import { UsageError } from '../errors/usage-error.js';
import { CancelledError } from './errors.js';

/** The `{ signal }` option every awaitable read and wait of the loop layer takes. */
export interface AbortOptions {
  /** Aborting it rejects the wait with an AbortError whose `cause` is `signal.reason`. */
  signal?: AbortSignal | undefined;
}

/** The signal of `opts`; ERR_INVALID_ARG_TYPE unless it is absent or an AbortSignal. */
export function signalOf(opts: AbortOptions | undefined): AbortSignal | undefined {
  if (opts === undefined) return undefined;
  if (typeof opts !== 'object' || opts === null) {
    throw new UsageError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be an object');
  }
  const { signal } = opts;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new UsageError('ERR_INVALID_ARG_TYPE', 'The "signal" option must be an AbortSignal');
  }
  return signal;
}

/** The error an aborted wait rejects with. */
export function abortError(signal: AbortSignal): CancelledError {
  return new CancelledError('The operation was aborted', { cause: signal.reason });
}

/** Throws the AbortError if `signal` is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/**
 * A promise that waits for `start`'s resolve/reject, or rejects with the
 * AbortError when `signal` aborts first. `cancel` runs (synchronously,
 * inside the abort) to withdraw the wait, so that when the rejection is
 * seen the waiter is already gone and nothing it would have taken is lost.
 */
export function abortable<T>(
  signal: AbortSignal | undefined,
  start: (resolve: (value: T) => void, reject: (err: unknown) => void) => void,
  cancel: () => void,
): Promise<T> {
  if (signal === undefined) return new Promise(start);
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const onAbort = (): void => {
      cancel();
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    start(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * `promise`, or the AbortError if `signal` aborts first; `onAbort` runs
 * then. For waits that nothing needs withdrawing from (a shared promise).
 */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort = (): void => {},
): Promise<T> {
  if (signal === undefined) return promise;
  // Settling after an abort is nobody's business: not an unhandled rejection.
  promise.then(undefined, () => {});
  return abortable<T>(signal, (resolve, reject) => promise.then(resolve, reject), onAbort);
}
