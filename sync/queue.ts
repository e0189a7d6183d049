// Queue<T>: a bounded FIFO of structured-cloned values between threads.
//
// Values are encoded as structured clones (codec.ts) outside the lock, and
// copied into a ring of bytes in a
// SharedArrayBuffer under a short internal lock (word-lock.ts). Each record
// is a 4-byte length and the payload, padded to 4 bytes; a record that does
// not fit before the end of the ring starts again at offset 0, leaving a -1
// marker (or fewer than 4 bytes) that readers skip. Getters and putters
// sleep on two sequence words, registering under the lock before they read
// the sequence, so an item put (or space freed) after they looked always
// wakes them. The queue is bounded by `maxSize` items and by `bytes` bytes.
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType, validateInteger } from '../errors/validate.js';
import { corrupt, decode, decodeBuffer, encode, ownCopy } from './codec.js';
import { SyncTimeoutError } from './errors.js';
import {
  abortReason,
  asyncOptions,
  deadlineOf,
  now,
  park,
  parkAsync,
  remainingUntil,
  timeoutArg,
  type AsyncWaitOptions,
} from './park.js';
import { adopt, Adopted, threadIdOrThrow, type SyncHandle } from './shared-state.js';
import { selfId } from './thread.js';
import { copyFromRing, copyToRing, WordView } from './ring-copy.js';
import { kAborted, lockWordAsync, lockWordSlow, tryLockWord, unlockWord } from './word-lock.js';

export type QueueHandle = SyncHandle<'Queue'>;

export interface QueueOptions {
  /** At most this many items (default 0: bounded by `bytes` only, as asyncio's maxsize=0). */
  maxSize?: number;
  /** Size of the shared ring in bytes (default 1 MiB); one serialized item must fit. */
  bytes?: number;
}

const kLock = 0;
const kCount = 1;
const kMaxSize = 2;
const kHead = 3;
const kTail = 4;
const kUsed = 5;
const kNotEmpty = 6;
const kNotFull = 7;
const kGetters = 8;
const kPutters = 9;
const kCapacity = 10;
const kHeaderBytes = 64;
const kWrapMarker = -1;

const kGetSpinMs = 0.05;

const align4 = (n: number): number => (n + 3) & ~3;

// Word views of this thread's encoded bytes and decode buffer (ring-copy.ts).
const sourceWords = new WordView();
const targetWords = new WordView();

export class Queue<T = unknown> {
  readonly #buffer: SharedArrayBuffer;
  readonly #s: Int32Array;
  readonly #data: Buffer;
  readonly #words: Int32Array;
  readonly #capacity: number;
  // The sequence #tryGet saw when it found the queue empty.
  #seq = 0;

  constructor(opts?: QueueOptions);
  /** @internal */
  constructor(adopted: Adopted);
  constructor(arg?: QueueOptions | Adopted) {
    if (arg instanceof Adopted) {
      this.#buffer = arg.buffer;
      this.#s = new Int32Array(this.#buffer, 0, kHeaderBytes / 4);
      this.#capacity = Atomics.load(this.#s, kCapacity);
      if (this.#buffer.byteLength !== kHeaderBytes + this.#capacity) {
        throw invalidArgType('handle', 'a Queue handle', arg);
      }
    } else {
      if (arg !== undefined && (typeof arg !== 'object' || arg === null)) {
        throw invalidArgType('options', 'an object', arg);
      }
      const maxSize = arg?.maxSize ?? 0;
      const bytes = arg?.bytes ?? 1 << 20;
      validateInteger(maxSize, 'options.maxSize', 0, 2 ** 31 - 1);
      validateInteger(bytes, 'options.bytes', 64, 2 ** 30);
      threadIdOrThrow();
      this.#capacity = align4(bytes);
      this.#buffer = new SharedArrayBuffer(kHeaderBytes + this.#capacity);
      this.#s = new Int32Array(this.#buffer, 0, kHeaderBytes / 4);
      Atomics.store(this.#s, kMaxSize, maxSize);
      Atomics.store(this.#s, kCapacity, this.#capacity);
    }
    this.#data = Buffer.from(this.#buffer, kHeaderBytes, this.#capacity);
    this.#words = new Int32Array(this.#buffer, kHeaderBytes, this.#capacity / 4);
  }

  static from<T = unknown>(handle: QueueHandle): Queue<T> {
    return new Queue<T>(adopt(handle, 'Queue', kHeaderBytes / 4 + 16));
  }

  get handle(): QueueHandle {
    return { asyncuvSync: 'Queue', buffer: this.#buffer };
  }

  /** Items in the queue now (a snapshot). */
  get size(): number {
    return Atomics.load(this.#s, kCount);
  }

  /** The `maxSize` it was created with (0: no item limit). */
  get maxSize(): number {
    return Atomics.load(this.#s, kMaxSize);
  }

  /**
   * Appends a structured clone of `value`, blocking while the queue is full;
   * throws SyncTimeoutError if `timeoutMs` passes first (0: never waits).
   */
  put(value: T, timeoutMs?: number): void {
    const timeout = timeoutArg(timeoutMs);
    const { bytes, length } = this.#encode(value);
    const deadline = deadlineOf(timeout);
    for (;;) {
      this.#lock();
      const seq = this.#tryPut(bytes, length);
      if (seq === undefined) return;
      const remaining = remainingUntil(deadline);
      if (remaining <= 0) {
        Atomics.sub(this.#s, kPutters, 1);
        throw new SyncTimeoutError('Queue.put', timeout);
      }
      park(this.#s, kNotFull, seq, remaining);
      Atomics.sub(this.#s, kPutters, 1);
    }
  }

  /**
   * Removes and returns the oldest value, blocking while the queue is empty;
   * throws SyncTimeoutError if `timeoutMs` passes first (0: never waits).
   */
  get(timeoutMs?: number): T {
    const timeout = timeoutArg(timeoutMs);
    const deadline = deadlineOf(timeout);
    for (;;) {
      if (timeout !== 0 && Atomics.load(this.#s, kCount) === 0) this.#spinWhileEmpty();
      this.#lock();
      const r = this.#tryGet();
      if (r >= 0) return decode(decodeBuffer(0), r) as T;
      const seq = this.#seq;
      const remaining = remainingUntil(deadline);
      if (remaining <= 0) {
        Atomics.sub(this.#s, kGetters, 1);
        throw new SyncTimeoutError('Queue.get', timeout);
      }
      park(this.#s, kNotEmpty, seq, remaining);
      Atomics.sub(this.#s, kGetters, 1);
    }
  }

  /** The async put: never blocks the thread; options as Mutex.lockAsync. */
  async putAsync(value: T, opts?: AsyncWaitOptions): Promise<void> {
    const { signal, timeoutMs } = asyncOptions(opts);
    const encoded = this.#encode(value);
    if (signal?.aborted) throw abortReason(signal);
    // encode()'s bytes live in this thread's scratch buffer, which the next
    // put of any task overwrites while this one awaits: keep a copy of our own.
    const length = encoded.length;
    const bytes = ownCopy(encoded.bytes, length);
    const deadline = deadlineOf(timeoutMs);
    for (;;) {
      if (!this.#tryLock() && !(await this.#lockAsync(signal))) throw abortReason(signal);
      const seq = this.#tryPut(bytes, length);
      if (seq === undefined) return;
      try {
        const remaining = remainingUntil(deadline);
        if (remaining <= 0) throw new SyncTimeoutError('Queue.putAsync', timeoutMs);
        if ((await parkAsync(this.#s, kNotFull, seq, remaining, signal)) === 'aborted')
          throw abortReason(signal);
      } finally {
        Atomics.sub(this.#s, kPutters, 1);
      }
    }
  }

  /** The async get: never blocks the thread; options as Mutex.lockAsync. */
  async getAsync(opts?: AsyncWaitOptions): Promise<T> {
    const { signal, timeoutMs } = asyncOptions(opts);
    if (signal?.aborted) throw abortReason(signal);
    const deadline = deadlineOf(timeoutMs);
    for (;;) {
      if (!this.#tryLock() && !(await this.#lockAsync(signal))) throw abortReason(signal);
      const r = this.#tryGet();
      if (r >= 0) return decode(decodeBuffer(0), r) as T;
      const seq = this.#seq;
      try {
        const remaining = remainingUntil(deadline);
        if (remaining <= 0) throw new SyncTimeoutError('Queue.getAsync', timeoutMs);
        if ((await parkAsync(this.#s, kNotEmpty, seq, remaining, signal)) === 'aborted')
          throw abortReason(signal);
      } finally {
        Atomics.sub(this.#s, kGetters, 1);
      }
    }
  }

  // A blocking getter that finds the queue empty watches the count for up
  // to kGetSpinMs before it registers and parks. When a producer is putting
  // items a few microseconds apart, the next one nearly always arrives in
  // that time, and both the getter's futex sleep and the putter's wake-up
  // (a syscall per item, which more than doubled the cost of a put) are
  // saved. Async getters never spin: they must not hold their thread.
  #spinWhileEmpty(): void {
    const until = now() + kGetSpinMs;
    for (let i = 1; Atomics.load(this.#s, kCount) === 0; i++) {
      if ((i & 63) === 0 && now() >= until) return;
    }
  }

  #encode(value: T): { bytes: Buffer; length: number } {
    const encoded = encode(value);
    if (align4(4 + encoded.length) > this.#capacity) {
      throw new UsageError(
        'ERR_QUEUE_ITEM_TOO_LARGE',
        `A queued value encodes to ${encoded.length} bytes; this Queue's ring holds ${this.#capacity - 4}`,
      );
    }
    return encoded;
  }

  // The internal lock guards a few loads, stores and one copy. A dead owner
  // can only have stopped between two of them in straight-line code, so its
  // abandonment is not reported: the lock is simply taken over.
  #lock(): void {
    if (!tryLockWord(this.#s, kLock, selfId)) lockWordSlow(this.#s, kLock, selfId, Infinity);
  }

  #tryLock(): boolean {
    return tryLockWord(this.#s, kLock, selfId);
  }

  async #lockAsync(signal: AbortSignal | undefined): Promise<boolean> {
    if (tryLockWord(this.#s, kLock, selfId)) return true;
    return (await lockWordAsync(this.#s, kLock, selfId, Infinity, signal)) !== kAborted;
  }

  #unlock(): void {
    unlockWord(this.#s, kLock, selfId);
  }

  // Under the lock: appends the record and unlocks, returning undefined; or,
  // when it does not fit, registers a sleeping putter, unlocks and returns
  // the notFull sequence to park on.
  #tryPut(bytes: Buffer, length: number): number | undefined {
    const s = this.#s;
    const need = align4(4 + length);
    const count = s[kCount]!;
    const maxSize = s[kMaxSize]!;
    let offset = -1;
    if (maxSize === 0 || count < maxSize) offset = this.#reserve(need);
    if (offset < 0) {
      Atomics.add(s, kPutters, 1);
      const seq = Atomics.load(s, kNotFull);
      this.#unlock();
      return seq;
    }
    this.#words[offset >> 2] = length;
    copyToRing(bytes, sourceWords.of(bytes), length, this.#data, this.#words, offset + 4);
    s[kCount] = count + 1;
    // Getters register under the lock, so a plain read sees every one that
    // registered before; one that has left since only costs a spare notify.
    const wake = s[kGetters]! > 0;
    if (wake) Atomics.add(s, kNotEmpty, 1);
    this.#unlock();
    if (wake) Atomics.notify(s, kNotEmpty, 1);
    return undefined;
  }

  // Under the lock: the offset for a record of `need` bytes (moving the tail
  // and accounting the space), or -1 if the ring has no room.
  #reserve(need: number): number {
    const s = this.#s;
    const cap = this.#capacity;
    const used = s[kUsed]!;
    let tail = s[kTail]!;
    const head = s[kHead]!;
    if (used === 0) {
      s[kHead] = 0;
      tail = 0;
    } else if (tail <= head) {
      // Wrapped: the free space is [tail, head).
      if (head - tail < need) return -1;
      s[kTail] = tail + need;
      s[kUsed] = used + need;
      return tail;
    }
    if (cap - tail >= need) {
      s[kTail] = tail + need;
      s[kUsed] = used + need;
      return tail;
    }
    // Not enough room before the end: skip to offset 0 if the start is free.
    const start = used === 0 ? 0 : head;
    if (start < need) return -1;
    if (cap - tail >= 4) this.#words[tail >> 2] = kWrapMarker;
    s[kTail] = need;
    s[kUsed] = used + (cap - tail) + need;
    return 0;
  }

  // Under the lock: copies the oldest record into decodeBuffer(), unlocks
  // and returns its length; or, when empty, registers a sleeping getter,
  // stores the notEmpty sequence to park on in #seq, unlocks and returns -1.
  #tryGet(): number {
    const s = this.#s;
    const count = s[kCount]!;
    if (count === 0) {
      Atomics.add(s, kGetters, 1);
      this.#seq = Atomics.load(s, kNotEmpty);
      this.#unlock();
      return -1;
    }
    const cap = this.#capacity;
    let head = s[kHead]!;
    let used = s[kUsed]!;
    if (cap - head < 4 || this.#words[head >> 2] === kWrapMarker) {
      used -= cap - head;
      head = 0;
    }
    const length = this.#words[head >> 2]!;
    if (length < 1 || length > cap - head - 4) {
      this.#unlock();
      throw corrupt(`a length of ${length} at offset ${head}`);
    }
    const to = decodeBuffer(align4(length));
    copyFromRing(this.#data, this.#words, head + 4, length, to, targetWords.of(to));
    const need = align4(4 + length);
    used -= need;
    s[kHead] = used === 0 ? 0 : head + need;
    if (used === 0) s[kTail] = 0;
    s[kUsed] = used;
    s[kCount] = count - 1;
    const wake = s[kPutters]! > 0; // as kGetters in #tryPut
    if (wake) Atomics.add(s, kNotFull, 1);
    this.#unlock();
    if (wake) Atomics.notify(s, kNotFull, 1);
    return length;
  }
}
