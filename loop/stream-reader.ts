// StreamReader (asyncio.StreamReader): bytes fed by a protocol, read with
// awaits. One reader at a time may wait for data, as in asyncio.
//
// Every read takes `{ signal }`. A read consumes bytes only when it
// returns, so an aborted read (and one that fails) leaves every byte in the
// buffer for the next read.
//
// Buffer is imported, not Node's global: since Node 20 the global is an
// accessor, and each use of it on the read path was a global load and a
// getter call (bench/PROFILE.md, "Streams layer").
import { Buffer } from 'node:buffer';
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType, validateInteger } from '../errors/validate.js';
import { type AbortOptions, abortable, signalOf, throwIfAborted } from './abort.js';
import { IncompleteReadError, LimitOverrunError } from './errors.js';
import type { ReadTransport } from './transports.js';

/** asyncio's default buffer limit (64 KiB). */
export const DEFAULT_LIMIT = 2 ** 16;

const EMPTY = Buffer.alloc(0);
const NEWLINES: readonly Buffer[] = [Buffer.from('\n')];

function toSeparator(sep: unknown): Buffer {
  let bytes: Buffer;
  if (typeof sep === 'string') bytes = Buffer.from(sep);
  else if (sep instanceof Uint8Array)
    bytes = Buffer.from(sep.buffer, sep.byteOffset, sep.byteLength);
  else throw invalidArgType('separator', 'a Uint8Array, a string or an array of them', sep);
  if (bytes.length === 0)
    throw new UsageError('ERR_INVALID_ARG_VALUE', 'Separator should be at least one-byte string');
  return bytes;
}

/**
 * readuntil's separators, shortest first (asyncio 3.13 takes a tuple of
 * them: of two matches that end at the same byte the shorter, which
 * starts later, wins).
 */
function toSeparators(sep: unknown): Buffer[] {
  if (!Array.isArray(sep)) return [toSeparator(sep)];
  if (sep.length === 0) {
    throw new UsageError('ERR_INVALID_ARG_VALUE', 'Separator should contain at least one element');
  }
  return sep.map(toSeparator).sort((a, b) => a.length - b.length);
}

/** `what` is the read the caller made (readline(), not the readuntil() under it). */
function concurrentRead(what: string): UsageError {
  const message = `${what} called while another read is already waiting for incoming data`;
  return new UsageError('ERR_CONCURRENT_READ', message);
}

type Resolve = (data: Buffer | undefined) => void;
type Reject = (err: Error) => void;

export class StreamReader implements AsyncIterable<Buffer> {
  readonly #limit: number;
  // The unread bytes are #storage[#start, #end). Slices handed out are never
  // written again: appends only go past #end into storage this reader
  // allocated, and an emptied or compacted buffer gets new storage.
  #storage: Buffer = EMPTY;
  #owned = false;
  #start = 0;
  #end = 0;
  #eof = false;
  #exception: Error | null = null;
  #transport: ReadTransport | null = null;
  #paused = false;
  // The read waiting for data, if any: how to settle its promise, and for a
  // read(n) its n (0 for the reads that only wait to look again). A read(n)
  // is completed by the feed that wakes it, with the bytes it takes then, so
  // its caller resumes one microtask later instead of three.
  #resolve: Resolve | null = null;
  #reject: Reject | null = null;
  #want = 0;
  // The executor of a waiting read's promise: made once per reader, so a
  // wait allocates no closure, and its resolve and reject go straight to
  // the reader (each store of a young function into the reader, old after a
  // few reads, is a write-barrier call; a module-level executor storing into
  // module variables made it four per wait instead of two).
  readonly #capture = (resolve: Resolve, reject: Reject): void => {
    this.#resolve = resolve;
    this.#reject = reject;
  };
  // A read(-1) is in progress: it takes nothing before EOF, so pausing the
  // transport would only stall it (EOF would never come).
  #readingToEof = false;

  constructor(opts: { limit?: number } = {}) {
    const limit = opts.limit ?? DEFAULT_LIMIT;
    validateInteger(limit, 'limit', 1);
    this.#limit = limit;
  }

  get limit(): number {
    return this.#limit;
  }

  /** The error set by setException(), if any. */
  exception(): Error | null {
    return this.#exception;
  }

  /** @internal How many bytes are buffered. */
  get bufferedSize(): number {
    return this.#end - this.#start;
  }

  /**
   * Makes the reader pause and resume `transport` for flow control (see
   * `limit`); once only. The stream functions do this for their readers.
   */
  setTransport(transport: ReadTransport): void {
    if (this.#transport !== null)
      throw new UsageError('ERR_INVALID_STATE', 'Transport already set');
    this.#transport = transport;
  }

  /**
   * @internal StreamWriter.startTls: flow control moves to the upgraded
   * transport (the TLS layer drives the old one from now on). A pause in
   * force carries over.
   */
  replaceTransport(transport: ReadTransport): void {
    this.#transport = transport;
    if (this.#paused) transport.pauseReading();
  }

  /** Ends the stream with an error: the waiting read and every later one reject with it. */
  setException(err: Error): void {
    this.#exception = err;
    const reject = this.#reject;
    if (reject !== null) {
      this.#clearWaiter();
      reject(err);
    }
  }

  /** The stream ended: reads return what is buffered, then empty Buffers. */
  feedEof(): void {
    this.#eof = true;
    this.#wakeup();
  }

  /**
   * Appends bytes for the reads to take. The memory becomes the reader's:
   * do not write into it afterwards (it may be returned by a read as is).
   */
  feedData(data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'a Buffer or Uint8Array', data);
    if (this.#eof) throw new UsageError('ERR_INVALID_STATE', 'feedData after feedEof');
    if (data.byteLength === 0) return;
    this.#append(data);
    // Above twice the limit the transport stops reading until a read brings
    // the buffer back down to the limit (asyncio's flow control). Checked
    // before the waiting read takes its bytes, as in asyncio, where the read
    // runs after feed_data.
    const full = this.bufferedSize > 2 * this.#limit;
    if (this.#transport !== null && !this.#paused && !this.#readingToEof && full) {
      try {
        this.#transport.pauseReading();
        this.#paused = true;
      } catch {
        // A transport that cannot pause (closing) just keeps feeding.
      }
    }
    this.#wakeup();
  }

  #append(data: Uint8Array): void {
    const n = data.byteLength;
    const size = this.#end - this.#start;
    if (size === 0) {
      // Adopt the chunk as it is: no copy for the common one-chunk case.
      this.#storage = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, n);
      this.#owned = false;
      this.#start = 0;
      this.#end = n;
      return;
    }
    if (this.#owned && this.#end + n <= this.#storage.length) {
      this.#storage.set(data, this.#end);
      this.#end += n;
      return;
    }
    const storage = Buffer.allocUnsafe(Math.max(2 * (size + n), 4096));
    this.#storage.copy(storage, 0, this.#start, this.#end);
    storage.set(data, size);
    this.#storage = storage;
    this.#owned = true;
    this.#start = 0;
    this.#end = size + n;
  }

  /**
   * Removes and returns the first n buffered bytes (n <= buffered). Taking
   * all of an adopted chunk hands out the chunk itself: it is the reader's
   * (feedData), and no view over it is needed.
   */
  #take(n: number): Buffer {
    const storage = this.#storage;
    const start = this.#start;
    const end = start + n;
    let chunk: Buffer;
    if (end === this.#end) {
      chunk = start === 0 && end === storage.length ? storage : storage.subarray(start, end);
      this.#storage = EMPTY;
      this.#owned = false;
      this.#start = this.#end = 0;
    } else {
      chunk = storage.subarray(start, end);
      this.#start = end;
    }
    this.#maybeResume();
    return chunk;
  }

  #maybeResume(): void {
    if (this.#paused && this.bufferedSize <= this.#limit) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
  }

  #clearWaiter(): void {
    this.#resolve = this.#reject = null;
    this.#want = 0;
  }

  /** Settles the waiting read: a read(n) takes its bytes now (none at EOF). */
  #wakeup(): void {
    const resolve = this.#resolve;
    if (resolve === null) return;
    const want = this.#want;
    this.#clearWaiter();
    if (want === 0) return resolve(undefined);
    const size = this.#end - this.#start;
    resolve(size === 0 ? EMPTY : this.#take(Math.min(want, size)));
  }

  /**
   * Waits for the next feedData, feedEof or setException; a read(n) passes
   * `want` = n and gets its bytes (an empty Buffer at EOF), the others get
   * undefined and look again. `what` names the read the caller made, for
   * the ERR_CONCURRENT_READ message. An abort withdraws the wait at once,
   * so the next read may start right away.
   */
  #waitForData(
    what: string,
    signal: AbortSignal | undefined,
    want = 0,
  ): Promise<Buffer | undefined> {
    if (this.#resolve !== null) return Promise.reject(concurrentRead(what));
    // Paused with a buffer too small for this read: it would wait forever.
    if (this.#paused) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
    if (signal === undefined) {
      const promise = new Promise<Buffer | undefined>(this.#capture);
      this.#want = want;
      return promise;
    }
    let mine: Resolve | null = null;
    return abortable<Buffer | undefined>(
      signal,
      (resolve, reject) => {
        mine = resolve;
        this.#resolve = resolve;
        this.#reject = reject;
        this.#want = want;
      },
      () => {
        if (this.#resolve === mine) this.#clearWaiter();
      },
    );
  }

  #throwIfFailed(): void {
    if (this.#exception !== null) throw this.#exception;
  }

  /** True once EOF was fed and every byte was read. */
  atEof(): boolean {
    return this.#eof && this.#start === this.#end;
  }

  /**
   * Up to n bytes (at least one unless at EOF, then an empty Buffer); with
   * n < 0, everything until EOF.
   */
  read(n = -1, opts?: AbortOptions): Promise<Buffer> {
    // Not an async function: a read that finds bytes buffered returns a
    // resolved promise, and one that waits gets its bytes from the feed
    // (#wakeup) without another promise and turn in between.
    try {
      // An int32 is valid as it is; anything else gets the full check (a
      // call that V8 did not inline: 60-75 instructions per read).
      if (typeof n !== 'number' || (n | 0) !== n) validateInteger(n, 'n', -Infinity);
      const signal = signalOf(opts);
      throwIfAborted(signal);
      this.#throwIfFailed();
      if (n === 0) return Promise.resolve(EMPTY);
      if (n < 0) return this.#readToEof(signal);
      const size = this.#end - this.#start;
      if (size === 0 && !this.#eof) {
        return this.#waitForData('read()', signal, n) as Promise<Buffer>;
      }
      return Promise.resolve(this.#take(Math.min(n, size)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Everything until EOF, taken only then, so that an aborted read(-1) loses nothing. */
  async #readToEof(signal: AbortSignal | undefined): Promise<Buffer> {
    if (this.#resolve !== null) throw concurrentRead('read()');
    this.#readingToEof = true;
    try {
      while (!this.#eof) {
        await this.#waitForData('read()', signal);
        this.#throwIfFailed();
      }
    } finally {
      this.#readingToEof = false;
    }
    return this.#take(this.#end - this.#start);
  }

  /** Exactly n bytes; IncompleteReadError (with what arrived) at an early EOF. */
  async readexactly(n: number, opts?: AbortOptions): Promise<Buffer> {
    validateInteger(n, 'n', -Infinity);
    if (n < 0)
      throw new UsageError('ERR_OUT_OF_RANGE', 'readexactly size can not be less than zero');
    const signal = signalOf(opts);
    throwIfAborted(signal);
    this.#throwIfFailed();
    if (n === 0) return EMPTY;
    // The error is checked before each wait, not after it: bytes fed before
    // setException that complete the read are its own (as in asyncio, and as
    // read(n) takes them), and the error fails the next read.
    while (this.#end - this.#start < n) {
      this.#throwIfFailed();
      if (this.#eof) {
        throw new IncompleteReadError(this.#take(this.#end - this.#start), n);
      }
      await this.#waitForData('readexactly()', signal);
    }
    return this.#take(n);
  }

  /**
   * Bytes up to and including `separator`, or with an array of separators
   * (asyncio 3.13's tuple), up to and including the match that ends first.
   * Throws LimitOverrunError when no separator appears within the limit
   * (the data stays buffered), and IncompleteReadError at EOF (the data is
   * consumed into `partial`).
   */
  async readuntil(
    separator: Uint8Array | string | ReadonlyArray<Uint8Array | string> = '\n',
    opts?: AbortOptions,
  ): Promise<Buffer> {
    return this.#readuntil(toSeparators(separator), signalOf(opts), 'readuntil()');
  }

  async #readuntil(
    seps: readonly Buffer[],
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<Buffer> {
    throwIfAborted(signal);
    this.#throwIfFailed();
    const shortest = seps[0]!.length;
    const longest = seps[seps.length - 1]!.length;
    // Where to resume searching: bytes before it were already searched.
    let offset = 0;
    let start = -1; // the match's first byte
    let end = -1; // the byte after it
    for (;;) {
      const size = this.#end - this.#start;
      if (size - offset >= shortest) {
        const buffered = this.#storage.subarray(this.#start, this.#end);
        for (const sep of seps) {
          const at = buffered.indexOf(sep, offset);
          if (at !== -1 && (end === -1 || at + sep.length < end)) {
            start = at;
            end = at + sep.length;
          }
        }
        if (end !== -1) break;
        offset = Math.max(0, size + 1 - longest);
      }
      // As in readexactly: the error fails the read only if what was fed
      // before it does not complete the read.
      this.#throwIfFailed();
      if (offset > this.#limit) {
        throw new LimitOverrunError('Separator is not found, and chunk exceed the limit', offset);
      }
      if (this.#eof) {
        throw new IncompleteReadError(this.#take(size), null);
      }
      await this.#waitForData(what, signal);
    }
    if (start > this.#limit) {
      throw new LimitOverrunError('Separator is found, but chunk is longer than limit', start);
    }
    return this.#take(end);
  }

  /**
   * One line including its '\n'; at EOF the unterminated rest (or an empty
   * Buffer). An over-long line is discarded and LimitOverrunError thrown
   * (asyncio raises ValueError there).
   */
  async readline(opts?: AbortOptions): Promise<Buffer> {
    return this.#readline(signalOf(opts), 'readline()');
  }

  async #readline(signal: AbortSignal | undefined, what: string): Promise<Buffer> {
    try {
      return await this.#readuntil(NEWLINES, signal, what);
    } catch (err) {
      if (err instanceof IncompleteReadError) return err.partial;
      if (err instanceof LimitOverrunError) {
        const size = this.#end - this.#start;
        // Drop the over-long line through its separator if it is buffered,
        // else everything buffered, so the next readline starts afresh.
        const at = this.#storage.subarray(this.#start, this.#end).indexOf(10, err.consumed);
        this.#take(at === -1 ? size : at + 1);
      }
      throw err;
    }
  }

  /**
   * Lines until EOF, as `for await (const line of reader)` gives them, with
   * a signal: an abort rejects the pending step and leaves the unread bytes
   * buffered.
   */
  lines(opts?: AbortOptions): AsyncGenerator<Buffer, void, undefined> {
    return this.#lines(signalOf(opts), 'lines()');
  }

  /** `for await (const line of reader)`: lines until EOF. */
  [Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    return this.#lines(undefined, 'async iteration');
  }

  async *#lines(signal: AbortSignal | undefined, what: string): AsyncGenerator<Buffer, void> {
    for (;;) {
      const line = await this.#readline(signal, what);
      if (line.length === 0) return;
      yield line;
    }
  }
}
