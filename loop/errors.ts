import { UsageError } from '../errors/usage-error.js';

/** readexactly() hit EOF first; `partial` holds what did arrive. */
export class IncompleteReadError extends Error {
  readonly code = 'ERR_INCOMPLETE_READ';
  readonly partial: Buffer;
  readonly expected: number | null;

  constructor(partial: Buffer, expected: number | null) {
    super(`${partial.length} bytes read on a total of ${expected ?? 'undefined'} expected bytes`);
    this.name = 'IncompleteReadError';
    this.partial = partial;
    this.expected = expected;
  }
}

/** readuntil() found no separator within the limit. */
export class LimitOverrunError extends Error {
  readonly code = 'ERR_LIMIT_OVERRUN';
  readonly consumed: number;

  constructor(message: string, consumed: number) {
    super(message);
    this.name = 'LimitOverrunError';
    this.consumed = consumed;
  }
}

/** An operation was cancelled through its AbortSignal. */
export class CancelledError extends Error {
  readonly code = 'ABORT_ERR';

  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

export function loopClosed(): UsageError {
  return new UsageError('ERR_LOOP_CLOSED', 'Event loop is closed');
}

export function loopRunning(): UsageError {
  return new UsageError('ERR_LOOP_RUNNING', 'This event loop is already running');
}

/**
 * waitFor() ran out of time (asyncio.TimeoutError, Python's builtin
 * TimeoutError). Its name is the one AbortSignal.timeout()'s DOMException
 * has, so `err.name === 'TimeoutError'` recognises both; it is an Error,
 * not a DOMException, because Node 20 does not count DOMExceptions as
 * errors (util.types.isNativeError is false, and test runners reject them).
 */
export class TimeoutError extends Error {
  readonly code = 'ERR_TIMEOUT';

  constructor(message = 'The operation timed out') {
    super(message);
    this.name = 'TimeoutError';
  }
}
