// RWLock: many readers or one writer, across threads, preferring writers.
//
// State word: the writer bit plus the writing thread's id, or the number of
// readers. A second word counts writers waiting; while it is non-zero, new
// readers wait (a thread that already reads may read again, or it would
// deadlock against the writer waiting on it), so a stream of readers cannot
// starve a writer. Everyone parks on one sequence word that each release
// bumps when a third word says somebody sleeps (sleepers register before they
// read the sequence, so no wake-up is lost); a release wakes all sleepers
// and the ones that cannot go on park again.
//
// Ownership: a writer is known by its id in the state word, so writeUnlock
// from another thread is ERR_LOCK_NOT_OWNED, and a writer that dies holding
// the lock is detected: the next locker gets it with LockAbandonedError.
// The state counts reading threads, not read locks: a thread's nested read
// locks are counted by this object alone, and only its first one touches
// shared memory. Each reading thread also writes its id in a reader slot,
// and each waiting writer in a writer slot, so that a waiter whose sleep
// slice expired can find threads that died reading (their read lock is
// released: a reader cannot have left the data half-written) or died
// waiting to write (they no longer hold readers back). Beyond the number of
// slots, further readers and writers still work but are not tracked.
import { LockAbandonedError, notOwned, recursion, SyncTimeoutError } from './errors.js';
import { LockGuard } from './guard.js';
import {
  abortReason,
  asyncOptions,
  deadlineOf,
  kOwnerCheckMs,
  park,
  parkAsync,
  remainingUntil,
  timeoutArg,
  type AsyncWaitOptions,
} from './park.js';
import { adopt, Adopted, newState, type SyncHandle } from './shared-state.js';
import { isThreadAlive, selfId } from './thread.js';
import { kIdMask } from './word-lock.js';

export type RWLockHandle = SyncHandle<'RWLock'>;

const kState = 0;
const kWritersWaiting = 1;
const kSeq = 2;
const kSleepers = 3;
const kReaderSlots = 4;
const kReaderSlotCount = 64;
const kWriterSlots = kReaderSlots + kReaderSlotCount;
const kWriterSlotCount = 32;
const kWords = kWriterSlots + kWriterSlotCount;
const kWriter = 1 << 30;

const kAcquired = 0;
const kTimedOut = -1;
const kAborted = -3;

export class RWLock {
  readonly #buffer: SharedArrayBuffer;
  readonly #s: Int32Array;
  // Read locks this thread holds through this object.
  #reads = 0;
  // The reader slot this thread's id is in while it reads, or -1.
  #readerSlot = -1;

  constructor();
  /** @internal */
  constructor(adopted: Adopted);
  constructor(adopted?: Adopted) {
    this.#buffer = adopted instanceof Adopted ? adopted.buffer : newState(kWords);
    this.#s = new Int32Array(this.#buffer, 0, kWords);
  }

  static from(handle: RWLockHandle): RWLock {
    return new RWLock(adopt(handle, 'RWLock', kWords));
  }

  get handle(): RWLockHandle {
    return { asyncuvSync: 'RWLock', buffer: this.#buffer };
  }

  /** Takes a read lock if no writer holds or waits for the lock; never waits. */
  tryReadLock(): boolean {
    return this.#attempt(false, false);
  }

  /** Takes the write lock if the lock is free; never waits. */
  tryWriteLock(): boolean {
    return this.#attempt(true, false);
  }

  /** Blocks until a read lock is held; false if `timeoutMs` passed first. */
  readLock(timeoutMs?: number): boolean {
    const timeout = timeoutArg(timeoutMs);
    if (this.#attempt(false, false)) return true;
    return this.#settle(false, this.#lockSlow(false, deadlineOf(timeout)));
  }

  /** Blocks until the write lock is held; false if `timeoutMs` passed first. */
  writeLock(timeoutMs?: number): boolean {
    const timeout = timeoutArg(timeoutMs);
    this.#checkWriteRecursion();
    if (this.#attempt(true, false)) return true;
    const slot = this.#writerWaits();
    let r = kTimedOut;
    try {
      r = this.#lockSlow(true, deadlineOf(timeout));
    } finally {
      this.#writerDone(slot, r);
    }
    return this.#settle(true, r);
  }

  /** The async read lock; see Mutex.lockAsync for the options. */
  async readLockAsync(opts?: AsyncWaitOptions): Promise<void> {
    const { signal, timeoutMs } = asyncOptions(opts);
    if (signal?.aborted) throw abortReason(signal);
    if (this.#attempt(false, true)) return;
    const r = await this.#lockAsync(false, deadlineOf(timeoutMs), signal);
    this.#settleAsync(false, r, signal, timeoutMs);
  }

  /** The async write lock; see Mutex.lockAsync for the options. */
  async writeLockAsync(opts?: AsyncWaitOptions): Promise<void> {
    const { signal, timeoutMs } = asyncOptions(opts);
    if (signal?.aborted) throw abortReason(signal);
    if (this.#attempt(true, true)) return;
    const slot = this.#writerWaits();
    let r = kTimedOut;
    try {
      r = await this.#lockAsync(true, deadlineOf(timeoutMs), signal);
    } finally {
      this.#writerDone(slot, r);
    }
    this.#settleAsync(true, r, signal, timeoutMs);
  }

  /** Releases a read lock this thread took through this object. */
  readUnlock(): void {
    if (this.#reads === 0) throw notOwned('A read lock of this RWLock');
    if (--this.#reads > 0) return;
    // The slot goes first: dying between the two steps can leave a reader
    // counted (a stuck lock) but never a dead id for the reaper to subtract twice.
    if (this.#readerSlot >= 0) Atomics.store(this.#s, kReaderSlots + this.#readerSlot, 0);
    this.#readerSlot = -1;
    if (Atomics.sub(this.#s, kState, 1) === 1) this.#wakeAll();
  }

  /** Releases the write lock; throws ERR_LOCK_NOT_OWNED unless this thread holds it. */
  writeUnlock(): void {
    const mine = kWriter | selfId;
    if (Atomics.compareExchange(this.#s, kState, mine, 0) !== mine) {
      throw notOwned('The write lock of this RWLock');
    }
    this.#wakeAll();
  }

  readGuard(timeoutMs?: number): LockGuard {
    if (!this.readLock(timeoutMs))
      throw new SyncTimeoutError('RWLock.readGuard', timeoutMs ?? Infinity);
    return new LockGuard(() => this.readUnlock());
  }

  writeGuard(timeoutMs?: number): LockGuard {
    if (!this.writeLock(timeoutMs))
      throw new SyncTimeoutError('RWLock.writeGuard', timeoutMs ?? Infinity);
    return new LockGuard(() => this.writeUnlock());
  }

  async readGuardAsync(opts?: AsyncWaitOptions): Promise<LockGuard> {
    await this.readLockAsync(opts);
    return new LockGuard(() => this.readUnlock());
  }

  async writeGuardAsync(opts?: AsyncWaitOptions): Promise<LockGuard> {
    await this.writeLockAsync(opts);
    return new LockGuard(() => this.writeUnlock());
  }

  // One try. `async` callers may find their own thread holding the lock
  // (another task): that is a wait, not a recursion error.
  #attempt(write: boolean, async: boolean): boolean {
    const s = this.#s;
    for (;;) {
      const c = Atomics.load(s, kState);
      if ((c & kWriter) !== 0) {
        if (!async && (c & kIdMask) === selfId) throw recursion('This RWLock (held for writing)');
        return false;
      }
      if (write) return Atomics.compareExchange(s, kState, 0, kWriter | selfId) === 0;
      if (this.#reads > 0) {
        // This thread already counts as a reader (and a writer waiting for
        // it must not hold it back, or both would wait forever).
        this.#reads++;
        return true;
      }
      if (Atomics.load(s, kWritersWaiting) > 0) return false;
      if (Atomics.compareExchange(s, kState, c, c + 1) === c) {
        this.#reads = 1;
        this.#readerSlot = this.#claimSlot(kReaderSlots, kReaderSlotCount);
        return true;
      }
    }
  }

  #checkWriteRecursion(): void {
    // Waiting for the write lock while reading would wait for ourselves.
    if (this.#reads > 0) throw recursion('This RWLock (held for reading; upgrading)');
  }

  #lockSlow(write: boolean, deadline: number): number {
    const s = this.#s;
    Atomics.add(s, kSleepers, 1);
    try {
      for (;;) {
        const seq = Atomics.load(s, kSeq);
        if (this.#attempt(write, false)) return kAcquired;
        const remaining = remainingUntil(deadline);
        if (remaining <= 0) return kTimedOut;
        if (park(s, kSeq, seq, Math.min(remaining, kOwnerCheckMs)) === 'timed-out') {
          const dead = this.#recoverFromDeadThreads(write);
          if (dead !== 0) return dead;
        }
      }
    } finally {
      Atomics.sub(s, kSleepers, 1);
    }
  }

  async #lockAsync(
    write: boolean,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const s = this.#s;
    Atomics.add(s, kSleepers, 1);
    try {
      for (;;) {
        const seq = Atomics.load(s, kSeq);
        if (this.#attempt(write, true)) return kAcquired;
        const remaining = remainingUntil(deadline);
        if (remaining <= 0) return kTimedOut;
        const r = await parkAsync(s, kSeq, seq, Math.min(remaining, kOwnerCheckMs), signal);
        if (r === 'aborted') return kAborted;
        if (r === 'timed-out') {
          const dead = this.#recoverFromDeadThreads(write);
          if (dead !== 0) return dead;
        }
      }
    } finally {
      Atomics.sub(s, kSleepers, 1);
    }
  }

  // Writes this thread's id into a free slot of the range; its index, or -1
  // if all are taken.
  #claimSlot(first: number, count: number): number {
    for (let i = 0; i < count; i++) {
      if (Atomics.compareExchange(this.#s, first + i, 0, selfId) === 0) return i;
    }
    return -1;
  }

  // Runs when a waiter's sleep slice expired, the only time anybody checks
  // for dead threads. If a dead thread holds the write lock, takes it over
  // (as a writer, or as a reader) and returns the dead thread's id. Else
  // releases the read locks of dead readers and forgets dead waiting
  // writers, and returns 0; the caller then simply tries again.
  #recoverFromDeadThreads(write: boolean): number {
    const s = this.#s;
    const c = Atomics.load(s, kState);
    const owner = c & kIdMask;
    if ((c & kWriter) !== 0) {
      if (owner === 0 || isThreadAlive(owner)) return 0;
      if (Atomics.compareExchange(s, kState, c, write ? kWriter | selfId : 1) !== c) return 0;
      if (!write) {
        this.#reads = 1;
        this.#readerSlot = this.#claimSlot(kReaderSlots, kReaderSlotCount);
      }
      return owner;
    }
    let changed = false;
    if (c > 0) changed = this.#reapSlots(kReaderSlots, kReaderSlotCount, kState);
    if (!write && Atomics.load(s, kWritersWaiting) > 0) {
      changed = this.#reapSlots(kWriterSlots, kWriterSlotCount, kWritersWaiting) || changed;
    }
    if (changed) this.#wakeAll();
    return 0;
  }

  // Clears the slots of dead threads in a range, taking each one off the
  // counter word it was counted in. True if any was found.
  #reapSlots(first: number, count: number, counter: number): boolean {
    const s = this.#s;
    let reaped = false;
    for (let i = first; i < first + count; i++) {
      const id = Atomics.load(s, i);
      if (id === 0 || id === selfId || isThreadAlive(id)) continue;
      if (Atomics.compareExchange(s, i, id, 0) === id) {
        Atomics.sub(s, counter, 1);
        reaped = true;
      }
    }
    return reaped;
  }

  // A writer starts waiting: its slot is claimed before it is counted, so
  // that dying in between can only weaken writer preference, never leave a
  // count that nobody will take back.
  #writerWaits(): number {
    const slot = this.#claimSlot(kWriterSlots, kWriterSlotCount);
    Atomics.add(this.#s, kWritersWaiting, 1);
    return slot;
  }

  // A waiting writer leaves the queue; if it was the last one and did not get
  // the lock, the readers it was holding back may go.
  #writerDone(slot: number, r: number): void {
    const last = Atomics.sub(this.#s, kWritersWaiting, 1) === 1;
    if (slot >= 0) Atomics.store(this.#s, kWriterSlots + slot, 0);
    if (last && (r === kTimedOut || r === kAborted)) this.#wakeAll();
  }

  #wakeAll(): void {
    if (Atomics.load(this.#s, kSleepers) === 0) return;
    Atomics.add(this.#s, kSeq, 1);
    Atomics.notify(this.#s, kSeq);
  }

  #settle(write: boolean, r: number): boolean {
    if (r === kAcquired) return true;
    if (r === kTimedOut) return false;
    throw new LockAbandonedError(write ? 'RWLock write lock' : 'RWLock read lock', r);
  }

  #settleAsync(
    write: boolean,
    r: number,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): void {
    if (r === kAborted) throw abortReason(signal);
    if (r === kTimedOut)
      throw new SyncTimeoutError(
        write ? 'RWLock.writeLockAsync' : 'RWLock.readLockAsync',
        timeoutMs,
      );
    this.#settle(write, r);
  }
}
