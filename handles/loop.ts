import { binding, type NativeLoop } from './binding.js';
import { kNative, kOnClose, kTimeRenewed, kTimersFiring } from './internal.js';
import { UsageError } from '../errors/usage-error.js';
import { errno } from './uv-error.js';
import { releaseTimersOf, timerById } from './timer-native.js';
import type { Handle } from './handle.js';
import { invalidArgType, validateInteger, validateNumber } from '../errors/validate.js';

export type RunMode = 'default' | 'once' | 'nowait';
const runModes: Record<RunMode, number> = { default: 0, once: 1, nowait: 2 };

/**
 * How much of the loop one turn of Node's loop runs when the loop is
 * embedded (see Loop.setBatchLimits).
 */
export interface BatchLimits {
  /** Non-blocking passes of the loop per turn of Node's loop, at most (1 or more). */
  passes: number;
  /** Milliseconds after the first pass of a turn began past which no further pass starts. */
  budgetMs: number;
}

// Measured in bench/PROFILE.md (the fairness case of bench/fairness.bench.ts).
const defaultBatchLimits: Readonly<BatchLimits> = { passes: 16, budgetMs: 1 };
const kMaxPasses = 2 ** 20;

let defaultLoop: Loop | undefined;

/**
 * A private libuv loop owned by this thread.
 *
 * It runs embedded in Node's loop by default: handles started on it fire
 * without anyone calling run(), their callbacks run on this thread, and the
 * process exits when no referenced handle is active on any loop. run() runs
 * it blocking instead, as uv_run does, for callback-style code and workers.
 */
export class Loop {
  /** @internal */
  readonly [kNative]: NativeLoop;
  /** @internal */
  [kTimersFiring] = 0;
  /** @internal */
  [kTimeRenewed] = false;
  #closed = false;

  constructor() {
    this[kNative] = new binding.Loop();
    this[kNative].owner = this;
    this[kNative].setBatchLimits(defaultBatchLimits.passes, defaultBatchLimits.budgetMs * 1e6);
  }

  /** This thread's shared loop; handle constructors default to it. */
  static default(): Loop {
    if (defaultLoop === undefined || defaultLoop.closed) defaultLoop = new Loop();
    return defaultLoop;
  }

  /**
   * Runs the loop on this thread until it has nothing to do ('default'),
   * for one iteration that may block ('once'), or for one that does not
   * ('nowait'). Returns whether the loop is still alive.
   */
  run(mode: RunMode = 'default'): boolean {
    this.#assertOpen();
    // hasOwn: runModes['constructor'] is Object, which the native run()
    // took as mode 0 and ran the loop instead of rejecting the mode.
    const m = Object.hasOwn(runModes, mode) ? runModes[mode] : undefined;
    if (m === undefined) {
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        `The "mode" argument must be 'default', 'once' or 'nowait'. Received ${String(mode)}`,
      );
    }
    const result = this[kNative].run(m);
    if (result === errno['EBUSY'])
      throw new UsageError('ERR_LOOP_RUNNING', 'This loop is already running');
    return result === 1;
  }

  /** Makes the current run return as soon as possible, as uv_stop. */
  stop(): void {
    this[kNative].stop();
  }

  /**
   * Closes every handle (their close callbacks run), waits for requests in
   * flight, then closes the loop. A second call is a no-op. Closing from a
   * callback of this loop's own run throws ERR_LOOP_RUNNING.
   */
  close(): void {
    if (this.#closed) return;
    if (this[kNative].running())
      throw new UsageError('ERR_LOOP_RUNNING', 'Cannot close a loop from inside its own run');
    this.#closed = true;
    // Each handle's close hook, before they go (their close() is not called).
    const waited = this.handles().filter((h) => h[kOnClose] !== undefined);
    this[kNative].close();
    for (const handle of waited) {
      const hook = handle[kOnClose]!;
      handle[kOnClose] = undefined;
      hook();
    }
    releaseTimersOf(this);
    if (defaultLoop === this) defaultLoop = undefined;
  }

  /**
   * Sets how much of this loop one turn of Node's loop runs when it is
   * embedded: up to `passes` non-blocking passes (uv_run with
   * UV_RUN_NOWAIT), each followed by the microtasks and process.nextTick
   * callbacks it queued, for as long as the loop has work it would do at
   * once (an active Idle, which is how UvEventLoop runs its ready
   * callbacks, a due timer, a pending callback) and `budgetMs` has not
   * passed since the turn's first pass began. More passes run
   * callback-heavy work faster; fewer give Node's own timers and I/O turns
   * sooner. `{ passes: 1 }` is one pass per turn. Blocking run() is not
   * affected. Omitted fields keep their value.
   */
  setBatchLimits(limits: Partial<BatchLimits>): void {
    this.#assertOpen();
    // Both limits are optional, the argument is not: nothing to set is a mistake.
    if (typeof limits !== 'object' || limits === null)
      throw invalidArgType('limits', 'an object', limits);
    const { passes = this.batchLimits.passes, budgetMs = this.batchLimits.budgetMs } = limits;
    validateInteger(passes, 'passes', 1, kMaxPasses);
    validateNumber(budgetMs, 'budgetMs', 0, 60_000);
    this[kNative].setBatchLimits(passes, Math.round(budgetMs * 1e6));
  }

  /** The limits setBatchLimits() set, or the defaults. */
  get batchLimits(): BatchLimits {
    const [passes, budgetNs] = this[kNative].batchLimits();
    return { passes, budgetMs: budgetNs / 1e6 };
  }

  /** The loop's cached time in milliseconds (uv_now). */
  now(): number {
    this.#assertOpen();
    return this[kNative].now();
  }

  updateTime(): void {
    this.#assertOpen();
    this[kNative].updateTime();
  }

  /** True while the loop has referenced active handles or requests. */
  get alive(): boolean {
    return this[kNative].alive();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while a run of this loop is on the stack. */
  get running(): boolean {
    return this[kNative].running();
  }

  /**
   * @internal Drains microtasks as soon as the JS callback in progress
   * returns, before the loop calls any other callback of its batch (an
   * embedded batch otherwise drains them only at its end).
   */
  requestCheckpoint(): void {
    if (!this.#closed) this[kNative].checkpoint();
  }

  /** Live handles that have not started closing. */
  handles(): Handle[] {
    // Timers come as ids (native/timer_lists.h rule 7).
    const handles: Handle[] = [];
    for (const entry of this[kNative].handles()) {
      const handle = typeof entry === 'number' ? timerById(entry) : entry;
      if (handle !== undefined) handles.push(handle as Handle);
    }
    return handles;
  }

  /**
   * Live handles by libuv type name ({ timer: 2 }): every handle from init
   * until libuv's close callback, including ones closed by the GC. Empty
   * when nothing leaked.
   */
  handleCounts(): Record<string, number> {
    return this[kNative].handleCounts();
  }

  /** The backend fd (epoll) that Node's loop watches. */
  fileno(): number {
    this.#assertOpen();
    return this[kNative].fileno();
  }

  #assertOpen(): void {
    if (this.#closed) throw new UsageError('ERR_LOOP_CLOSED', 'This loop is closed');
  }
}
