/** Stable codes of the errors asyncuv throws for misuse. */
export type UsageErrorCode =
  | 'ERR_HANDLE_CLOSED'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_UNKNOWN_SIGNAL'
  | 'ERR_LOOP_CLOSED'
  | 'ERR_LOOP_RUNNING'
  | 'ERR_WRONG_THREAD'
  | (string & {});

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
