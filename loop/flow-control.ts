// Write-side flow control for a StreamWriter (asyncio's FlowControlMixin):
// the protocol under the writer forwards pauseWriting, resumeWriting and
// connectionLost here, and drain() and waitClosed() wait on it. Used by the
// connection streams (StreamReaderProtocol) and by a child's stdin
// (subprocess streams).
import { UvError, errno } from '../handles/uv-error.js';
import { abortable, raceAbort } from './abort.js';

function connectionLostError(): UvError {
  return new UvError(errno['ECONNRESET']!, 'write', '(connection lost)');
}

// What every drain() that need not wait returns: nothing can change a
// settled promise, so one serves them all.
const RESOLVED = Promise.resolve();

interface DrainWaiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class FlowControl {
  #paused = false;
  #connectionLost = false;
  #lostError: Error | null = null;
  #drainWaiters: DrainWaiter[] = [];
  readonly #closed: Promise<void>;
  #settleClosed!: (err: Error | null) => void;

  constructor() {
    this.#closed = new Promise((resolve, reject) => {
      this.#settleClosed = (err) => (err === null ? resolve() : reject(err));
    });
    // Nobody may ever call waitClosed(): an error here is not unhandled.
    this.#closed.catch(() => {});
  }

  pauseWriting(): void {
    this.#paused = true;
  }

  resumeWriting(): void {
    this.#paused = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** The connection is gone: drains settle (rejecting with `err`), and so does `closed`. */
  connectionLost(err: Error | null): void {
    this.#connectionLost = true;
    this.#lostError = err;
    this.#settleClosed(err);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) {
      if (err === null) w.resolve();
      else w.reject(err);
    }
  }

  /** Resolves once writing may go on; rejects if the connection is gone, or on abort. */
  drain(signal?: AbortSignal): Promise<void> {
    if (this.#connectionLost) return Promise.reject(this.#lostError ?? connectionLostError());
    if (!this.#paused) return RESOLVED;
    let mine: DrainWaiter | undefined;
    return abortable<void>(
      signal,
      (resolve, reject) => {
        mine = { resolve, reject };
        this.#drainWaiters.push(mine);
      },
      () => {
        this.#drainWaiters = this.#drainWaiters.filter((w) => w !== mine);
      },
    );
  }

  /** Settles when connectionLost ran (rejecting with its error), or rejects on abort. */
  waitClosed(signal?: AbortSignal): Promise<void> {
    return raceAbort(this.#closed, signal);
  }
}
