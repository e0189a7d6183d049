import { Buffer } from 'node:buffer';
import { type AsyncContext, bindToContext, captureContext } from './async-context.js';
import { binding, type NativeHandle, type NativeLoop, type WriteStatus } from './binding.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { UsageError } from '../errors/usage-error.js';
import { UvError, check, errno, errorOf } from './uv-error.js';
import { invalidArgType, validateFunction } from '../errors/validate.js';

/** The native side of every stream (native/stream_wrap.h). */
export interface NativeStream extends NativeHandle {
  onread?: (nread: number, slab?: ArrayBuffer, offset?: number) => void;
  onwrite?: (status: number) => void;
  onshutdown?: (status: number) => void;
  onconnection?: (status: number) => void;
  onconnect?: (status: number) => void;
  readStart(): number;
  readStop(): number;
  setReadBuffer(view: Uint8Array | null): number;
  writeBuffer(view: ArrayBufferView, sendHandle?: unknown): number;
  writeString(data: string, sendHandle?: unknown): number;
  tryWrite(view: ArrayBufferView): number;
  shutdown(): number;
  listen(backlog: number): number;
  accept(client: unknown): number;
  writeQueueSize(): number;
  isReadable(): boolean;
  isWritable(): boolean;
  /** The stream's number for binding.streamWrite/streamWritev; 0 once closing. */
  id(): number;
  /** Queues `onread(0)`: deliver the reads held back while not reading. */
  readResume(): number;
}

const { streamWrite, streamWritev } = binding;

// Reads reach streams in batches (native/loop_wrap.h rule 10): one call per
// batch, the reads as (slot, nread, offset) triples after a header of
// count, cursor and stop. The cursor is advanced before each read's
// callback, so that after a throw the native side knows which read threw
// and calls again for the rest; stop is set when a checkpoint was asked for
// (asyncio's loop.stop()), which must run before the next read's callback.
const kCount = 0;
const kCursor = 1;
const kStop = 2;
const kHeader = 4;

function dispatchReads(
  batch: Float64Array,
  slab: ArrayBuffer | undefined,
  registry: Array<NativeStream | undefined>,
): void {
  const count = batch[kCount]!;
  for (let i = batch[kCursor]!; i < count; i++) {
    batch[kCursor] = i + 1;
    const at = kHeader + 3 * i;
    // Empty once the stream closed (its slot is not reused during a batch).
    registry[batch[at]!]?.onread?.(batch[at + 1]!, slab, batch[at + 2]!);
    if (batch[kStop] !== 0) return;
  }
}

if (binding.setReadDispatcher(dispatchReads) !== 0) {
  throw new Error('asyncuv: the native addon refused its read dispatcher');
}

// A read's bytes as a Buffer over the slab, made by the class Buffer.from
// makes (Buffer[Symbol.species], Node's FastBuffer): the same object, without
// Buffer.from's checks of its argument, one of them a call into C++
// (isAnyArrayBuffer), on every read. Buffer.from where the species makes
// something else.
type ViewClass = new (slab: ArrayBuffer, offset: number, length: number) => Buffer;
const Species = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species] as ViewClass;
const slabView: (slab: ArrayBuffer, offset: number, length: number) => Buffer =
  typeof Species === 'function' &&
  Object.getPrototypeOf(new Species(new ArrayBuffer(8), 0, 1)) === Buffer.prototype
    ? (slab, offset, length) => new Species(slab, offset, length)
    : (slab, offset, length) => Buffer.from(slab, offset, length);

// Small parts are joined in JS and written as one buffer: a Buffer.concat
// of parts of up to 1 KiB on average costs less than the Node-API calls the
// writev entry makes per part (a pipelined RESP reply is dozens of parts of
// a few bytes: -11% CPU per request, bench/PROFILE.md). Up to 16 KiB.
const kJoinPerPart = 1024;
const kJoinMax = 16 * 1024;

function writeParts(id: number, parts: Uint8Array[]): WriteStatus {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  return total <= kJoinMax && total <= kJoinPerPart * parts.length
    ? streamWrite(id, Buffer.concat(parts, total))
    : streamWritev(id, parts);
}

export type ReadCallback = (err: UvError | null, data: Buffer | null) => void;
export type ReadIntoCallback = (err: UvError | null, nread: number) => void;
export type WriteCallback = (err: UvError | null) => void;
export type WriteData = Uint8Array | string | ReadonlyArray<Uint8Array>;
// A read held back while the stream was not reading: its bytes, or a
// negative code (EOF or an error).
type HeldRead = Buffer | number;

const EOF = errno['EOF']!;
const EAGAIN = errno['EAGAIN']!;
const EALREADY_READING = errno['EALREADY']!;

/**
 * A duplex byte stream (uv_stream_t): TCP, Pipe and TTY.
 *
 * Reads: readStart(cb) delivers Buffers that are the receiver's to keep, and
 * `null` at EOF. readStartInto(buffer, cb) reads into one caller-supplied
 * buffer instead (no allocation per read; the bytes are only valid until
 * the callback returns). Writes: write() sends what it can at once and
 * queues a copy of the rest, so the caller may reuse its buffer as soon as
 * write() returns; its callback always runs later, never inside write().
 */
export abstract class Stream<N extends NativeStream = NativeStream> extends Handle<N> {
  #readCb: ReadCallback | undefined;
  #readIntoCb: ReadIntoCallback | undefined;
  // The async context of the last readStart / readStartInto: reads are
  // delivered in it (async-context.ts).
  #readContext: AsyncContext | undefined;
  #readBuffer: Uint8Array | undefined;
  // Callbacks of queued writes, completed in order (a deque: head index).
  #writeCbs: Array<WriteCallback | undefined> = [];
  #writeHead = 0;
  // A shutdown is pending, and its callback if one was given: without one,
  // no error is built when the shutdown ends, since a handle closed with
  // its shutdown pending (node:http's Connection: close closes so) ends it
  // with ECANCELED, and an error's stack is the dearest part of a close.
  #shuttingDown = false;
  #shutdownCb: WriteCallback | undefined;
  // The native id for the write entry, taken on the first write (0: not yet).
  #id = 0;
  // Reads arrive in batches taken from the sockets before any callback of
  // the batch ran: a read for a stream that an earlier callback stopped
  // (readStop) waits here until readStart, as it would have waited in the
  // socket; the native side then queues onread(0) to deliver it.
  #reading = false;
  #held: HeldRead[] | undefined;

  protected constructor(
    loop: Loop | undefined,
    native: N,
    syscall: string,
    init: (loop: NativeLoop) => number,
  ) {
    super(loop, native, syscall, init);
    native.onread = (nread, slab, offset) => {
      const context = this.#readContext;
      if (context === undefined) this.#onRead(nread, slab, offset);
      else context.runInAsyncScope(this.#onRead, this, nread, slab, offset);
    };
    native.onwrite = (status) => this.#onWrite(status);
    native.onshutdown = (status) => {
      const cb = this.#shutdownCb;
      this.#shuttingDown = false;
      this.#shutdownCb = undefined;
      cb?.(errorOf(status, 'shutdown'));
    };
  }

  #onRead(nread: number, slab: ArrayBuffer | undefined, offset: number | undefined): void {
    if (nread === 0 || !this.#reading || this.#held !== undefined) {
      return this.#holdOrDrain(nread, slab, offset);
    }
    if (nread < 0) return this.#onReadFailed(nread);
    if (this.#readIntoCb !== undefined) {
      // Slab bytes in readInto mode: a read queued before the switch.
      if (slab !== undefined) this.#deliverBytes(slabView(slab, offset!, nread));
      else this.#readIntoCb(null, nread);
      return;
    }
    // No slab: the read landed in the setReadBuffer() buffer (set while
    // reading with readStart); hand out a copy, the caller's to keep.
    this.#readCb?.(null, this.#bytesOf(nread, slab, offset));
  }

  /** The `nread` bytes of a read: a view of the slab, or a copy of the read buffer's. */
  #bytesOf(nread: number, slab: ArrayBuffer | undefined, offset: number | undefined): Buffer {
    return slab !== undefined
      ? slabView(slab, offset!, nread)
      : Buffer.from(this.#readBuffer!.subarray(0, nread));
  }

  /** A read while not reading or behind held reads (kept), or a resume (nread 0). */
  #holdOrDrain(nread: number, slab: ArrayBuffer | undefined, offset: number | undefined): void {
    if (this.closed) return;
    if (nread !== 0) {
      (this.#held ??= []).push(nread < 0 ? nread : this.#bytesOf(nread, slab, offset));
    }
    let held = this.#held;
    while (held !== undefined && held.length > 0 && this.#reading && !this.closed) {
      const read = held.shift()!;
      if (typeof read === 'number') this.#onReadFailed(read);
      else this.#deliverBytes(read);
      held = this.#held;
    }
    if (held !== undefined && held.length === 0) this.#held = undefined;
  }

  #onReadFailed(nread: number): void {
    const err = nread === EOF ? null : new UvError(nread, 'read');
    if (this.#readIntoCb !== undefined) this.#readIntoCb(err, 0);
    else this.#readCb?.(err, null);
  }

  /** Bytes read earlier: as they are, or copied into the readStartInto buffer. */
  #deliverBytes(data: Buffer): void {
    let at = 0;
    while (at < data.byteLength) {
      const into = this.#readIntoCb;
      const buffer = this.#readBuffer;
      if (into === undefined || buffer === undefined) {
        this.#readCb?.(null, at === 0 ? data : data.subarray(at));
        return;
      }
      const n = Math.min(buffer.byteLength, data.byteLength - at);
      buffer.set(data.subarray(at, at + n));
      at += n;
      into(null, n);
      // What the callback did not take in time waits, in front.
      if (at < data.byteLength && (!this.#reading || this.closed)) {
        if (!this.closed) (this.#held ??= []).unshift(data.subarray(at));
        return;
      }
    }
  }

  #onWrite(status: number): void {
    const cbs = this.#writeCbs;
    const cb = cbs[this.#writeHead];
    cbs[this.#writeHead++] = undefined;
    if (this.#writeHead === cbs.length) {
      cbs.length = 0;
      this.#writeHead = 0;
    } else if (this.#writeHead >= 1024 && this.#writeHead * 2 >= cbs.length) {
      cbs.splice(0, this.#writeHead);
      this.#writeHead = 0;
    }
    cb?.(errorOf(status, 'write'));
  }

  /** Starts reading; `data` is null at EOF. */
  readStart(cb: ReadCallback): void {
    this.assertOpen();
    validateFunction(cb, 'cb');
    // A buffer from setReadBuffer() alone (no readStartInto) counts too: the
    // native side read into it and delivered no slab, and Buffer.from(undefined)
    // threw from the read callback, an uncaught exception.
    if (this.#readIntoCb !== undefined || this.#readBuffer !== undefined) {
      this.#readIntoCb = undefined;
      this.#readBuffer = undefined;
      this[kNative].setReadBuffer(null);
    }
    this.#readCb = cb;
    this.#readContext = captureContext('asyncuv.StreamRead');
    this.#startReading();
  }

  /**
   * Starts reading into `buffer`: each read overwrites it from offset 0 and
   * the callback gets the count (0 with err null at EOF). setReadBuffer()
   * swaps the buffer while reading.
   */
  readStartInto(buffer: Uint8Array, cb: ReadIntoCallback): void {
    this.assertOpen();
    validateFunction(cb, 'cb');
    this.setReadBuffer(buffer);
    this.#readCb = undefined;
    this.#readIntoCb = cb;
    this.#readContext = captureContext('asyncuv.StreamRead');
    this.#startReading();
  }

  /**
   * Calling readStart/readStartInto while reading switches the callback (and
   * the mode) as UDP's recvStart does. libuv answers EALREADY then, after
   * the switch has taken effect: EALREADY is not an error here, since a
   * call that took effect must not throw.
   */
  #startReading(): void {
    const held = this.#held;
    // After a held EOF or error the socket has nothing more to give.
    if (held === undefined || typeof held[held.length - 1] !== 'number') {
      const status = this[kNative].readStart();
      if (status !== EALREADY_READING) check(status, 'read_start');
    }
    this.#reading = true;
    if (held !== undefined) check(this[kNative].readResume(), 'read_start');
  }

  /** The buffer readStartInto reads land in from the next read on. */
  setReadBuffer(buffer: Uint8Array): void {
    this.assertOpen();
    if (!(buffer instanceof Uint8Array) || buffer.byteLength === 0) {
      throw invalidArgType('buffer', 'a non-empty Uint8Array', buffer);
    }
    check(this[kNative].setReadBuffer(buffer), 'read_start');
    this.#readBuffer = buffer;
  }

  /** The buffer readStartInto reads land in, if any. */
  get readBuffer(): Uint8Array | undefined {
    return this.#readBuffer;
  }

  readStop(): void {
    this.assertOpen();
    this.#reading = false;
    this[kNative].readStop();
  }

  /**
   * @internal Puts bytes a reader took and did not use back in front of the
   * reads held for the next reader, while not reading: the next readStart
   * (of whoever reads next) delivers them first. How the loop layer's
   * sockRecv keeps what a read brought beyond the bytes asked for.
   */
  unread(data: Buffer): void {
    if (this.closed || this.#reading || data.byteLength === 0) return;
    (this.#held ??= []).unshift(data);
  }

  /**
   * @internal Takes the bytes held for the next reader (unread ones, and
   * reads that came while not reading), for a reader that is not this
   * handle: NodeEventLoop's transport over a duplicate of its fd. A held
   * EOF is dropped: the socket reports it again.
   */
  takeUnread(): Buffer[] {
    const held = this.#held;
    this.#held = undefined;
    return held?.filter((read): read is Buffer => typeof read !== 'number') ?? [];
  }

  override close(cb?: () => void): void {
    this.#reading = false;
    this.#held = undefined;
    super.close(cb);
  }

  /**
   * Writes bytes, a string (UTF-8) or a list of buffers (one writev). The
   * callback runs once the bytes are written or failed: with ECANCELED if
   * the stream closes first.
   */
  write(data: WriteData, cb?: WriteCallback): void {
    this.writeWith(data, cb, undefined);
  }

  /** @internal write() with an optional handle to pass (IPC pipes). */
  protected writeWith(data: WriteData, cb: WriteCallback | undefined, sendHandle: unknown): void {
    this.assertOpen();
    if (cb !== undefined) validateFunction(cb, 'cb');
    const native = this[kNative];
    let status: WriteStatus;
    if (data instanceof Uint8Array) {
      status =
        sendHandle === undefined
          ? streamWrite(this.#writeId(), data)
          : native.writeBuffer(data, sendHandle);
    } else if (typeof data === 'string') status = native.writeString(data, sendHandle);
    else if (Array.isArray(data)) {
      for (const item of data)
        if (!(item instanceof Uint8Array))
          throw invalidArgType('data', 'a Uint8Array, a string or an array of Uint8Array', item);
      if (sendHandle !== undefined) status = native.writeBuffer(Buffer.concat(data), sendHandle);
      else status = writeParts(this.#writeId(), data as Uint8Array[]);
    } else throw invalidArgType('data', 'a Uint8Array, a string or an array of Uint8Array', data);
    if (status === 1) {
      this.#writeCbs.push(bindToContext(cb, 'asyncuv.StreamWrite'));
      return;
    }
    if (status !== undefined) check(status, 'write');
    if (cb !== undefined) queueMicrotask(() => cb(null));
  }

  /**
   * @internal The transports' write: returns true when everything was
   * written now, in which case `onQueued` is never called; otherwise it is
   * the write's callback, run in `context` (the transport's).
   */
  writeNow(
    data: Uint8Array | Uint8Array[],
    onQueued: WriteCallback,
    context: AsyncContext,
  ): boolean {
    this.assertOpen();
    const id = this.#writeId();
    const status = Array.isArray(data) ? writeParts(id, data) : streamWrite(id, data);
    if (status === undefined) return true;
    if (status === 1) {
      this.#writeCbs.push((err) => context.runInAsyncScope(onQueued, undefined, err));
      return false;
    }
    check(status, 'write');
    return true;
  }

  #writeId(): number {
    return this.#id !== 0 ? this.#id : (this.#id = this[kNative].id());
  }

  /** Writes what can be written without blocking; returns the byte count. */
  tryWrite(data: Uint8Array | string): number {
    this.assertOpen();
    const view = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(view instanceof Uint8Array))
      throw invalidArgType('data', 'a Uint8Array or a string', data);
    const status = this[kNative].tryWrite(view);
    if (status === EAGAIN) return 0;
    return check(status, 'try_write');
  }

  /** Half-closes the writing side once queued writes are done. */
  shutdown(cb?: WriteCallback): void {
    this.assertOpen();
    if (cb !== undefined) validateFunction(cb, 'cb');
    if (this.#shuttingDown)
      throw new UsageError('ERR_SHUTDOWN_PENDING', 'A shutdown is already pending');
    check(this[kNative].shutdown(), 'shutdown');
    this.#shuttingDown = true;
    this.#shutdownCb = bindToContext(cb, 'asyncuv.StreamShutdown');
  }

  /** Bytes queued and not yet written. */
  get writeQueueSize(): number {
    return this.closed ? 0 : this[kNative].writeQueueSize();
  }

  get readable(): boolean {
    return !this.closed && this[kNative].isReadable();
  }

  get writable(): boolean {
    return !this.closed && this[kNative].isWritable();
  }

  fileno(): number {
    this.assertOpen();
    return check(this[kNative].fileno(), 'fileno');
  }

  /** @internal listen() for the subclasses that have it. */
  protected listenWith(backlog: number, cb: (err: UvError | null) => void): void {
    this.assertOpen();
    validateFunction(cb, 'cb');
    const onConnection = bindToContext(cb, 'asyncuv.StreamListen')!;
    this[kNative].onconnection = (status) => onConnection(errorOf(status, 'listen'));
    check(this[kNative].listen(backlog), 'listen');
  }

  /** @internal accept() for the subclasses that have it. */
  protected acceptInto(client: Stream | Handle): void {
    this.assertOpen();
    if (!(client instanceof Handle)) throw invalidArgType('client', 'a handle', client);
    if (client.closed) throw new UsageError('ERR_HANDLE_CLOSED', 'The client handle is closed');
    check(this[kNative].accept(client[kNative]), 'accept');
  }
}
