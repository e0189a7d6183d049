// The errors the sync primitives throw besides UsageError (misuse). Both
// carry a stable `code`, like every asyncuv error.
import { UsageError } from '../errors/usage-error.js';

/**
 * The lock was acquired, but its previous owner thread died holding it
 * (like pthread's EOWNERDEAD or .NET's AbandonedMutexException). The caller
 * HOLDS the lock when this is thrown: the data it protects may be half
 * updated, so repair or check it, then unlock as usual.
 */
export class LockAbandonedError extends Error {
  readonly code = 'ERR_LOCK_ABANDONED';
  /** The id of the dead thread that held the lock. */
  readonly previousOwner: number;

  constructor(what: string, previousOwner: number) {
    super(
      `${what} acquired, but its previous owner (thread ${previousOwner}) died holding it; ` +
        'the caller now holds it and the data it protects may be inconsistent',
    );
    this.name = 'LockAbandonedError';
    this.previousOwner = previousOwner;
  }
}

/** An operation given `timeoutMs` that did not complete in time. */
export class SyncTimeoutError extends Error {
  readonly code = 'ERR_SYNC_TIMEOUT';

  constructor(what: string, timeoutMs: number) {
    super(`${what} timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

export function notOwned(what: string): UsageError {
  return new UsageError('ERR_LOCK_NOT_OWNED', `${what} is not held by this thread`);
}

export function recursion(what: string): UsageError {
  return new UsageError(
    'ERR_LOCK_RECURSION',
    `${what} is already held by this thread and is not recursive; blocking here would deadlock`,
  );
}
