// Condition: a condition variable used with a Mutex, across threads.
//
// State: a sequence word that every notify bumps, and a count of waiters so
// that a notify with nobody waiting costs one load. A waiter reads the
// sequence while it still holds the mutex, unlocks, and sleeps only while
// the sequence is unchanged, so a notify issued after its unlock is never
// lost. Wake-ups may be spurious (a notifyOne can wake a waiter that was
// between its unlock and its sleep as well as a sleeping one): always wait
// in a loop that re-checks the predicate, as with pthreads.
import { invalidArgType } from '../errors/validate.js';
import { notOwned } from './errors.js';
import { Mutex } from './mutex.js';
import {
  abortReason,
  asyncOptions,
  park,
  parkAsync,
  timeoutArg,
  type AsyncWaitOptions,
} from './park.js';
import { adopt, Adopted, newState, type SyncHandle } from './shared-state.js';

export type ConditionHandle = SyncHandle<'Condition'>;

const kSeq = 0;
const kWaiting = 1;
const kWords = 16;

export class Condition {
  readonly #buffer: SharedArrayBuffer;
  readonly #s: Int32Array;

  constructor();
  /** @internal */
  constructor(adopted: Adopted);
  constructor(adopted?: Adopted) {
    this.#buffer = adopted instanceof Adopted ? adopted.buffer : newState(kWords);
    this.#s = new Int32Array(this.#buffer, 0, 2);
  }

  static from(handle: ConditionHandle): Condition {
    return new Condition(adopt(handle, 'Condition', 2));
  }

  get handle(): ConditionHandle {
    return { asyncuvSync: 'Condition', buffer: this.#buffer };
  }

  /**
   * Atomically unlocks `mutex` (which this thread must hold) and blocks
   * until notified, then relocks it. False if `timeoutMs` passed first;
   * the mutex is held again either way. May wake spuriously.
   */
  wait(mutex: Mutex, timeoutMs?: number): boolean {
    const timeout = this.#checkWait(mutex, timeoutMs);
    const seq = this.#enter();
    mutex.unlock();
    let result: string;
    try {
      result = park(this.#s, kSeq, seq, timeout);
    } finally {
      Atomics.sub(this.#s, kWaiting, 1);
      mutex.lock();
    }
    return result !== 'timed-out';
  }

  /**
   * The async wait: never blocks the thread. Resolves true when notified,
   * false after `timeoutMs`; rejects with `signal.reason` on abort. In every
   * case the mutex is held again (relocked with lockAsync) before it settles.
   */
  async waitAsync(mutex: Mutex, opts?: AsyncWaitOptions): Promise<boolean> {
    const { signal, timeoutMs } = asyncOptions(opts);
    this.#checkWait(mutex, undefined);
    if (signal?.aborted) throw abortReason(signal);
    const seq = this.#enter();
    mutex.unlock();
    let result: string;
    try {
      result = await parkAsync(this.#s, kSeq, seq, timeoutMs, signal);
    } finally {
      Atomics.sub(this.#s, kWaiting, 1);
      await mutex.lockAsync();
    }
    if (result === 'aborted') throw abortReason(signal);
    return result !== 'timed-out';
  }

  /** Wakes one waiter (at least one, see the note on spurious wake-ups). */
  notifyOne(): void {
    if (Atomics.load(this.#s, kWaiting) === 0) return;
    Atomics.add(this.#s, kSeq, 1);
    Atomics.notify(this.#s, kSeq, 1);
  }

  /** Wakes every waiter. */
  notifyAll(): void {
    if (Atomics.load(this.#s, kWaiting) === 0) return;
    Atomics.add(this.#s, kSeq, 1);
    Atomics.notify(this.#s, kSeq);
  }

  #checkWait(mutex: unknown, timeoutMs: unknown): number {
    if (!(mutex instanceof Mutex)) throw invalidArgType('mutex', 'a Mutex', mutex);
    const timeout = timeoutArg(timeoutMs);
    if (!mutex.owned) throw notOwned('The Mutex passed to Condition.wait');
    return timeout;
  }

  // Registers a waiter, then reads the sequence (in that order: a notifier
  // that sees no waiter cannot have bumped the sequence we are about to read).
  #enter(): number {
    Atomics.add(this.#s, kWaiting, 1);
    return Atomics.load(this.#s, kSeq);
  }
}
