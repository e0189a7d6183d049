// asyncio's write flow control, shared by every transport: the buffer
// limits (default high 64 KiB, low = high / 4), pauseWriting() once the
// buffer is strictly above high and resumeWriting() once it is at or below
// low, each called once per crossing, their exceptions reported to the loop.
import type { AsyncContext } from '../handles/async-context.js';
import { UsageError } from '../errors/usage-error.js';
import { validateInteger } from '../errors/validate.js';
import type { ExceptionContext } from './events.js';
import type { WriteBufferLimits } from './transports.js';

export const DEFAULT_HIGH_WATER = 64 * 1024;

interface FlowProtocol {
  pauseWriting?(): void;
  resumeWriting?(): void;
}

export class WriteFlow {
  #high = DEFAULT_HIGH_WATER;
  #low = DEFAULT_HIGH_WATER / 4;
  #paused = false;

  /** `size` is the transport's buffered bytes; `protocol` its current protocol. */
  constructor(
    private readonly loop: {
      callExceptionHandler(context: ExceptionContext): void;
      isClosed(): boolean;
    },
    private readonly transport: object,
    private readonly size: () => number,
    private readonly protocol: () => FlowProtocol,
    // The transport's: pauseWriting runs inside the caller's write(),
    // resumeWriting inside a write's completion, both in the transport's.
    private readonly context: AsyncContext,
  ) {}

  get paused(): boolean {
    return this.#paused;
  }

  /** After a write: pause the protocol if the buffer went above high. */
  maybePause(): void {
    if (this.#paused || this.size() <= this.#high) return;
    this.#paused = true;
    this.#call('pauseWriting');
  }

  /** After bytes left the buffer: resume the protocol at or below low. */
  maybeResume(): void {
    if (!this.#paused || this.size() > this.#low) return;
    this.#paused = false;
    this.#call('resumeWriting');
  }

  setLimits(limits: WriteBufferLimits = {}): void {
    let { high, low } = limits;
    if (high !== undefined) validateInteger(high, 'high');
    if (low !== undefined) validateInteger(low, 'low');
    if (high === undefined) high = low === undefined ? DEFAULT_HIGH_WATER : 4 * low;
    if (low === undefined) low = Math.floor(high / 4);
    if (!(high >= low && low >= 0)) {
      throw new UsageError(
        'ERR_OUT_OF_RANGE',
        `high (${high}) must be >= low (${low}) must be >= 0`,
      );
    }
    this.#high = high;
    this.#low = low;
    this.maybePause();
    this.maybeResume();
  }

  limits(): [low: number, high: number] {
    return [this.#low, this.#high];
  }

  #call(method: 'pauseWriting' | 'resumeWriting'): void {
    // Nothing of a closed loop runs: libuv still completes, at the handle's
    // close, the writes that finished before the loop closed.
    if (this.loop.isClosed()) return;
    const protocol = this.protocol();
    try {
      this.context.runInAsyncScope(() => protocol[method]?.());
    } catch (exception) {
      this.loop.callExceptionHandler({
        message: `protocol.${method}() failed`,
        exception,
        transport: this.transport,
        protocol,
      });
    }
  }
}
