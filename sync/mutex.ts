// Mutex: a non-recursive lock shared across worker_threads. The state is one
// lock word (word-lock.ts) in a SharedArrayBuffer, so the uncontended path
// is one Atomics.compareExchange to lock and one to unlock.
import { LockAbandonedError, notOwned, recursion, SyncTimeoutError } from './errors.js';
import { LockGuard } from './guard.js';
import {
  abortReason,
  asyncOptions,
  deadlineOf,
  timeoutArg,
  type AsyncWaitOptions,
} from './park.js';
import { adopt, Adopted, newState, type SyncHandle } from './shared-state.js';
import { selfId } from './thread.js';
import {
  kAborted,
  kAcquired,
  kIdMask,
  kRecursion,
  kTimedOut,
  lockWordAsync,
  lockWordSlow,
  unlockContended,
} from './word-lock.js';

export type MutexHandle = SyncHandle<'Mutex'>;

// 16 words: one cache line per mutex, so two mutexes never share one.
const kWords = 16;

/**
 * A mutual-exclusion lock for threads. Owned by a thread (not by an async
 * task): unlocking it from a thread that does not hold it throws
 * ERR_LOCK_NOT_OWNED, and a blocking relock on the owning thread throws
 * ERR_LOCK_RECURSION instead of deadlocking. lockAsync() on the owning
 * thread waits for that thread to unlock, so async tasks of one thread can
 * take turns. If the owner thread dies holding it, the next locker gets it
 * with a LockAbandonedError (see errors.ts).
 */
export class Mutex {
  readonly #buffer: SharedArrayBuffer;
  readonly #s: Int32Array;
  // This thread's id, held by each Mutex: a Mutex object never leaves its
  // thread (other threads rebuild their own from the handle). A constant
  // field is one load that TurboFan keeps across the Atomics calls, where
  // the imported binding is a module-cell load and a hole check per use.
  readonly #me = selfId;

  constructor();
  /** @internal */
  constructor(adopted: Adopted);
  constructor(adopted?: Adopted) {
    this.#buffer = adopted instanceof Adopted ? adopted.buffer : newState(kWords);
    this.#s = new Int32Array(this.#buffer, 0, 1);
  }

  /** Rebuilds, in any thread, the Mutex behind `handle`. */
  static from(handle: MutexHandle): Mutex {
    return new Mutex(adopt(handle, 'Mutex', 1));
  }

  /** A value for postMessage/workerData; Mutex.from() rebuilds the Mutex. */
  get handle(): MutexHandle {
    return { asyncuvSync: 'Mutex', buffer: this.#buffer };
  }

  /**
   * Blocks until the lock is held; true, or false if `timeoutMs` passed
   * first. Blocking: use it in workers; on a loop thread use lockAsync().
   */
  lock(timeoutMs?: number): boolean {
    if (timeoutMs === undefined) {
      if (Atomics.compareExchange(this.#s, 0, 0, this.#me) === 0) return true;
      return this.#settle(lockWordSlow(this.#s, 0, this.#me, Infinity));
    }
    const timeout = timeoutArg(timeoutMs);
    if (Atomics.compareExchange(this.#s, 0, 0, this.#me) === 0) return true;
    return this.#settle(lockWordSlow(this.#s, 0, this.#me, deadlineOf(timeout)));
  }

  /** Takes the lock if it is free; never waits. */
  tryLock(): boolean {
    const me = this.#me;
    const c = Atomics.compareExchange(this.#s, 0, 0, me);
    if (c === 0) return true;
    if ((c & kIdMask) === me) throw recursion('This Mutex');
    return false;
  }

  /** Releases the lock; throws ERR_LOCK_NOT_OWNED unless this thread holds it. */
  unlock(): void {
    const me = this.#me;
    const c = Atomics.compareExchange(this.#s, 0, me, 0);
    if (c === me) return;
    if (!unlockContended(this.#s, 0, me, c)) throw notOwned('This Mutex');
  }

  /**
   * Resolves once the lock is held, without blocking the thread or using a
   * threadpool thread; the process stays alive while it is pending. Rejects
   * with `signal.reason` on abort and a SyncTimeoutError after `timeoutMs`.
   */
  async lockAsync(opts?: AsyncWaitOptions): Promise<void> {
    const { signal, timeoutMs } = asyncOptions(opts);
    if (signal?.aborted) throw abortReason(signal);
    if (Atomics.compareExchange(this.#s, 0, 0, selfId) === 0) return;
    const deadline = deadlineOf(timeoutMs);
    const r = await lockWordAsync(this.#s, 0, selfId, deadline, signal);
    if (r === kAborted) throw abortReason(signal);
    if (r === kTimedOut) throw new SyncTimeoutError('Mutex.lockAsync', timeoutMs);
    this.#settle(r);
  }

  /** lock() that returns a guard for `using`; throws SyncTimeoutError on timeout. */
  guard(timeoutMs?: number): LockGuard {
    if (!this.lock(timeoutMs)) throw new SyncTimeoutError('Mutex.guard', timeoutMs ?? Infinity);
    return new LockGuard(() => this.unlock());
  }

  /** lockAsync() that resolves to a guard for `await using`. */
  async guardAsync(opts?: AsyncWaitOptions): Promise<LockGuard> {
    await this.lockAsync(opts);
    return new LockGuard(() => this.unlock());
  }

  /** True if some thread holds the lock (a snapshot). */
  get locked(): boolean {
    return Atomics.load(this.#s, 0) !== 0;
  }

  /** True if this thread holds the lock. */
  get owned(): boolean {
    return (Atomics.load(this.#s, 0) & kIdMask) === selfId;
  }

  #settle(r: number): boolean {
    if (r === kAcquired) return true;
    if (r === kTimedOut) return false;
    if (r === kRecursion) throw recursion('This Mutex');
    throw new LockAbandonedError('Mutex', r);
  }
}
