/**
 * Stable codes of the errors asyncuv throws for misuse: a closed set, so a
 * `switch` on `err.code` sees them all.
 */
export type UsageErrorCode =
  | 'ERR_ALREADY_REGISTERED'
  | 'ERR_CONCURRENT_READ'
  | 'ERR_DATA_CLONE'
  | 'ERR_HANDLE_CLOSED'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_INVALID_RETURN_VALUE'
  | 'ERR_INVALID_STATE'
  | 'ERR_LOCK_NOT_OWNED'
  | 'ERR_LOCK_RECURSION'
  | 'ERR_LOOP_CLOSED'
  | 'ERR_LOOP_RUNNING'
  | 'ERR_LOOP_STOPPED'
  | 'ERR_NOT_SUPPORTED'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_QUEUE_CORRUPT'
  | 'ERR_QUEUE_ITEM_TOO_LARGE'
  | 'ERR_SEMAPHORE_OVERFLOW'
  | 'ERR_SHUTDOWN_PENDING'
  | 'ERR_SYNC_UNAVAILABLE'
  | 'ERR_TLS_UNAVAILABLE'
  | 'ERR_TRANSPORT_CLOSED'
  | 'ERR_TRANSPORT_EOF'
  | 'ERR_TRANSPORT_NOT_WRITABLE'
  | 'ERR_TTY_BLOCKING'
  | 'ERR_UNKNOWN_SIGNAL';

// Every code once: the Record type makes the compiler refuse a missing or
// an extra key. test/errors/usage-error-codes.test.ts checks that each
// code thrown in the sources is here and each code here is thrown.
const kCodes: Record<UsageErrorCode, true> = {
  ERR_ALREADY_REGISTERED: true,
  ERR_CONCURRENT_READ: true,
  ERR_DATA_CLONE: true,
  ERR_HANDLE_CLOSED: true,
  ERR_INVALID_ARG_TYPE: true,
  ERR_INVALID_ARG_VALUE: true,
  ERR_INVALID_RETURN_VALUE: true,
  ERR_INVALID_STATE: true,
  ERR_LOCK_NOT_OWNED: true,
  ERR_LOCK_RECURSION: true,
  ERR_LOOP_CLOSED: true,
  ERR_LOOP_RUNNING: true,
  ERR_LOOP_STOPPED: true,
  ERR_NOT_SUPPORTED: true,
  ERR_OUT_OF_RANGE: true,
  ERR_QUEUE_CORRUPT: true,
  ERR_QUEUE_ITEM_TOO_LARGE: true,
  ERR_SEMAPHORE_OVERFLOW: true,
  ERR_SHUTDOWN_PENDING: true,
  ERR_SYNC_UNAVAILABLE: true,
  ERR_TLS_UNAVAILABLE: true,
  ERR_TRANSPORT_CLOSED: true,
  ERR_TRANSPORT_EOF: true,
  ERR_TRANSPORT_NOT_WRITABLE: true,
  ERR_TTY_BLOCKING: true,
  ERR_UNKNOWN_SIGNAL: true,
};

/** @internal Every UsageErrorCode. */
export const USAGE_ERROR_CODES = Object.keys(kCodes) as readonly UsageErrorCode[];

/** @internal True when `code` is a UsageErrorCode. */
export function isUsageErrorCode(code: unknown): code is UsageErrorCode {
  return typeof code === 'string' && Object.hasOwn(kCodes, code);
}

/**
 * Misuse of the API: a closed handle, a bad argument, a loop in the wrong
 * state. libuv aborts the process on such misuse; asyncuv throws this.
 */
export class UsageError extends Error {
  readonly code: UsageErrorCode;

  constructor(code: UsageErrorCode, message: string) {
    super(message);
    this.name = 'UsageError';
    this.code = code;
  }
}
