/**
 * Every code a UsageError carries: a closed set, so a user's `switch` on
 * `err.code` sees them all. test/errors/usage-error-codes.test.ts checks
 * that each code thrown in the sources is here and each code here is thrown.
 */
export const USAGE_ERROR_CODES = [
  'ERR_ALREADY_REGISTERED',
  'ERR_CONCURRENT_READ',
  'ERR_DATA_CLONE',
  'ERR_HANDLE_CLOSED',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_INVALID_RETURN_VALUE',
  'ERR_INVALID_STATE',
  'ERR_LOCK_NOT_OWNED',
  'ERR_LOCK_RECURSION',
  'ERR_LOOP_CLOSED',
  'ERR_LOOP_RUNNING',
  'ERR_LOOP_STOPPED',
  'ERR_NOT_SUPPORTED',
  'ERR_OUT_OF_RANGE',
  'ERR_QUEUE_ITEM_TOO_LARGE',
  'ERR_SEMAPHORE_OVERFLOW',
  'ERR_SHUTDOWN_PENDING',
  'ERR_SYNC_UNAVAILABLE',
  'ERR_TLS_UNAVAILABLE',
  'ERR_TRANSPORT_CLOSED',
  'ERR_TRANSPORT_EOF',
  'ERR_TRANSPORT_NOT_WRITABLE',
  'ERR_TTY_BLOCKING',
  'ERR_UNKNOWN_SIGNAL',
] as const;

/** Stable codes of the errors asyncuv throws for misuse. */
export type UsageErrorCode = (typeof USAGE_ERROR_CODES)[number];

const kCodes: ReadonlySet<string> = new Set(USAGE_ERROR_CODES);

/** True when `code` is one of USAGE_ERROR_CODES. */
export function isUsageErrorCode(code: unknown): code is UsageErrorCode {
  return typeof code === 'string' && kCodes.has(code);
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
