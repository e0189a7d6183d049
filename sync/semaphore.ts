// Semaphore: a counter of permits shared across threads.
//
// State: the permit count (waiters sleep on it while it is 0), the number of
// sleepers (so release() only notifies when someone sleeps), and an optional
// maximum. A sleeper registers before it reads the count, so a release that
// sees no sleeper happened before that read and the sleeper sees its permit.
// Permits have no owner, so a thread that dies holding one does not give it
// back: a Semaphore has no abandonment detection (a Mutex does).
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType, validateInteger } from '../errors/validate.js';
import { SyncTimeoutError } from './errors.js';
import { LockGuard } from './guard.js';
import {
  abortReason,
  asyncOptions,
  deadlineOf,
  park,
  parkAsync,
  remainingUntil,
  timeoutArg,
  type AsyncWaitOptions,
} from './park.js';
import { adopt, Adopted, newState, type SyncHandle } from './shared-state.js';

export type SemaphoreHandle = SyncHandle<'Semaphore'>;

const kCount = 0;
const kSleepers = 1;
const kMax = 2; // 0: unbounded
const kWords = 16;
const kLimit = 2 ** 31 - 1;

export interface SemaphoreOptions {
  /** release() beyond this many permits throws ERR_SEMAPHORE_OVERFLOW. */
  max?: number;
}

export class Semaphore {
  readonly #buffer: SharedArrayBuffer;
  readonly #s: Int32Array;

  constructor(initial: number, opts?: SemaphoreOptions);
  /** @internal */
  constructor(adopted: Adopted);
  constructor(arg: number | Adopted, opts?: SemaphoreOptions) {
    if (arg instanceof Adopted) {
      this.#buffer = arg.buffer;
      this.#s = new Int32Array(this.#buffer, 0, 3);
      return;
    }
    validateInteger(arg, 'initial', 0, kLimit);
    let max = 0;
    if (opts !== undefined) {
      if (typeof opts !== 'object' || opts === null)
        throw invalidArgType('options', 'an object', opts);
      if (opts.max !== undefined) {
        validateInteger(opts.max, 'options.max', Math.max(1, arg), kLimit);
        max = opts.max;
      }
    }
    this.#buffer = newState(kWords);
    this.#s = new Int32Array(this.#buffer, 0, 3);
    Atomics.store(this.#s, kCount, arg);
    Atomics.store(this.#s, kMax, max);
  }

  static from(handle: SemaphoreHandle): Semaphore {
    return new Semaphore(adopt(handle, 'Semaphore', 3));
  }

  get handle(): SemaphoreHandle {
    return { asyncuvSync: 'Semaphore', buffer: this.#buffer };
  }

  /** Permits available now (a snapshot). */
  get value(): number {
    return Atomics.load(this.#s, kCount);
  }

  /** Takes a permit if one is free; never waits. */
  tryAcquire(): boolean {
    const s = this.#s;
    for (let c = Atomics.load(s, kCount); c > 0; c = Atomics.load(s, kCount)) {
      if (Atomics.compareExchange(s, kCount, c, c - 1) === c) return true;
    }
    return false;
  }

  /** Blocks until a permit is taken; false if `timeoutMs` passed first. */
  acquire(timeoutMs?: number): boolean {
    const timeout = timeoutArg(timeoutMs);
    if (this.tryAcquire()) return true;
    const deadline = deadlineOf(timeout);
    const s = this.#s;
    Atomics.add(s, kSleepers, 1);
    try {
      for (;;) {
        if (this.tryAcquire()) return true;
        const remaining = remainingUntil(deadline);
        if (remaining <= 0) return false;
        park(s, kCount, 0, remaining);
      }
    } finally {
      Atomics.sub(s, kSleepers, 1);
    }
  }

  /**
   * The async acquire: never blocks the thread. Rejects with `signal.reason`
   * on abort and a SyncTimeoutError after `timeoutMs`.
   */
  async acquireAsync(opts?: AsyncWaitOptions): Promise<void> {
    const { signal, timeoutMs } = asyncOptions(opts);
    if (signal?.aborted) throw abortReason(signal);
    if (this.tryAcquire()) return;
    const deadline = deadlineOf(timeoutMs);
    const s = this.#s;
    Atomics.add(s, kSleepers, 1);
    try {
      for (;;) {
        if (this.tryAcquire()) return;
        const remaining = remainingUntil(deadline);
        if (remaining <= 0) throw new SyncTimeoutError('Semaphore.acquireAsync', timeoutMs);
        if ((await parkAsync(s, kCount, 0, remaining, signal)) === 'aborted')
          throw abortReason(signal);
      }
    } finally {
      Atomics.sub(s, kSleepers, 1);
    }
  }

  /**
   * Returns `n` permits. With a `max`, a release that would exceed it throws
   * ERR_SEMAPHORE_OVERFLOW and returns none.
   */
  release(n = 1): void {
    validateInteger(n, 'n', 1, kLimit);
    const s = this.#s;
    const max = Atomics.load(s, kMax) || kLimit;
    for (;;) {
      const c = Atomics.load(s, kCount);
      if (c + n > max) {
        throw new UsageError(
          'ERR_SEMAPHORE_OVERFLOW',
          `Semaphore.release(${n}) would raise the count to ${c + n}, above its max of ${max}`,
        );
      }
      if (Atomics.compareExchange(s, kCount, c, c + n) === c) break;
    }
    if (Atomics.load(s, kSleepers) > 0) Atomics.notify(s, kCount, n);
  }

  /** acquire() that returns a guard releasing the permit on scope exit. */
  guard(timeoutMs?: number): LockGuard {
    if (!this.acquire(timeoutMs))
      throw new SyncTimeoutError('Semaphore.guard', timeoutMs ?? Infinity);
    return new LockGuard(() => this.release());
  }

  /** acquireAsync() that resolves to a guard for `await using`. */
  async guardAsync(opts?: AsyncWaitOptions): Promise<LockGuard> {
    await this.acquireAsync(opts);
    return new LockGuard(() => this.release());
  }
}
