// What the supervisor of a threaded server and its threads tell each other:
// the workerData a thread starts with and the messages on its parentPort.
import type { TlsOptions } from '../loop/events.js';
import { isUsageErrorCode, UsageError } from '../errors/usage-error.js';
import { UvError } from '../handles/uv-error.js';

/** How connections are spread over the threads. */
export type Balance = 'reuseport' | 'shared-socket';

/** A thread's workerData. */
export interface ThreadData {
  /** The served module (a file: or data: URL). */
  moduleUrl: string;
  /** The thread's slot, 0..threads-1; a restarted thread takes its predecessor's. */
  index: number;
  /** An IP address (the supervisor resolved the host) and the port (never 0). */
  address: string;
  port: number;
  backlog: number | undefined;
  ssl: TlsOptions | undefined;
  shared: unknown;
  balance: Balance;
  /** shared-socket: the supervisor's listening socket, which the thread duplicates. */
  fd: number | undefined;
  /** The ConnectionCounters' buffer. */
  counters: SharedArrayBuffer;
}

/** Thread -> supervisor: the thread accepts connections now. */
export interface ServingMessage {
  type: 'serving';
}

/** Thread -> supervisor: it no longer accepts (its listening fd is closed); connections drain. */
export interface StoppedMessage {
  type: 'stopped';
}

/**
 * Supervisor -> thread: stop accepting, let the connections finish (abort
 * them after deadlineMs), exit. It may come again with a closer deadline.
 */
export interface CloseMessage {
  type: 'close';
  deadlineMs: number | undefined;
}

/** Thread -> supervisor: starting failed (the module, setup(), listening); the thread exits. */
export interface FailedMessage {
  type: 'failed';
  error: ThreadError;
}

/** An error as a plain object, so that it crosses threads with its class and code. */
export interface ThreadError {
  kind: 'UsageError' | 'UvError' | 'Error';
  name: string;
  message: string;
  stack: string | undefined;
  code: string | undefined;
  errno: number | undefined;
  syscall: string | undefined;
}

export function serializeError(err: unknown): ThreadError {
  const e: Error & { code?: unknown; errno?: unknown; syscall?: unknown } =
    err instanceof Error ? err : new Error(String(err));
  return {
    kind: err instanceof UsageError ? 'UsageError' : err instanceof UvError ? 'UvError' : 'Error',
    name: e.name,
    message: e.message,
    stack: e.stack,
    code: typeof e.code === 'string' ? e.code : undefined,
    errno: typeof e.errno === 'number' ? e.errno : undefined,
    syscall: typeof e.syscall === 'string' ? e.syscall : undefined,
  };
}

/** The error serializeError() described, of the same asyncuv class where it was one. */
export function reviveError(e: ThreadError): Error {
  let err: Error;
  if (e.kind === 'UvError' && e.errno !== undefined && e.syscall !== undefined) {
    err = new UvError(e.errno, e.syscall);
  } else if (e.kind === 'UsageError' && isUsageErrorCode(e.code)) {
    err = new UsageError(e.code, e.message);
  } else {
    err = new Error(e.message);
    err.name = e.name;
    if (e.code !== undefined) Object.assign(err, { code: e.code });
  }
  err.message = e.message;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}
