// NodeTransport: an asyncio Transport over any Node Duplex (a net.Socket, a
// tls.TLSSocket, a pipe, or any other stream.Duplex). What every transport
// shares is in loop/transport-base.ts; this is the mechanics: reads paused
// and resumed on the stream, write-buffer limits measured on its
// writableLength, EOF by end(), close by destroy() (after end() for
// streams with a shutdown of their own, such as TLS).
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { UsageError } from '../errors/usage-error.js';
import { UvError, errno } from '../handles/uv-error.js';
import {
  type AnyProtocol,
  type BufferedProtocol,
  type Protocol,
  isBufferedProtocol,
} from '../loop/protocols.js';
import { type TransportOptions, WriteTransportBase } from '../loop/transport-base.js';
import type { Transport } from '../loop/transports.js';
import { TimeoutError } from '../loop/errors.js';
import type { TimerHandle } from '../loop/events.js';
import { toUvError } from './node-errors.js';

export interface NodeTransportOptions extends TransportOptions<AnyProtocol> {
  stream: Duplex;
  /** Set when the socket was made with `onread` from this slot. */
  readInto?: ReadIntoSlot | undefined;
  /** false for read-only pipes. */
  writable?: boolean | undefined;
  /** false for write-only pipes (their writeEof() closes them, as asyncio's). */
  readable?: boolean | undefined;
  /**
   * TLS streams: seconds close() waits for the peer's close_notify once
   * ours is out (asyncio's ssl_shutdown_timeout); default 30.
   */
  shutdownTimeout?: number | undefined;
}

/** asyncio's default ssl_shutdown_timeout, in seconds. */
const DEFAULT_SHUTDOWN_TIMEOUT = 30;

const STAGING_SIZE = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Where writes to Node's sockets copy the caller's bytes (#sendIdle): one
 * slab for every transport of the thread, reused from its start while
 * each write completes at once (a ping-pong protocol's case), so that a
 * write costs a memcpy instead of a new Buffer (and, every few writes, a
 * new pool ArrayBuffer for the collector). A write that stays queued
 * keeps its bytes: later copies go after them, and a full slab is left to
 * the writes that still use it and replaced.
 */
class WriteSlab {
  static readonly SIZE = 64 * 1024;
  /** Larger writes get a Buffer of their own: the allocation is small beside the copy. */
  static readonly MAX_COPY = 16 * 1024;
  #buffer: Buffer | undefined;
  #offset = 0;
  #view: Buffer | undefined;
  #viewOf: Buffer | undefined;
  #viewAt = 0;

  /** `bytes` copied into the slab's free part, or undefined when too large. */
  copy(bytes: Uint8Array): Buffer | undefined {
    const n = bytes.byteLength;
    if (n > WriteSlab.MAX_COPY) return undefined;
    let buffer = this.#buffer;
    if (buffer === undefined || this.#offset + n > WriteSlab.SIZE) {
      buffer = this.#buffer = Buffer.allocUnsafe(WriteSlab.SIZE);
      this.#offset = 0;
    }
    buffer.set(bytes, this.#offset);
    // The last view again when it covers the same bytes (a ping-pong's
    // writes have one size): a view is never changed, and a write that
    // completed at once holds none.
    // (Compared by the slab and offset it was made from: a view's `buffer`
    // getter is a call into the runtime.)
    const last = this.#view;
    if (last !== undefined && this.#viewAt === this.#offset && last.byteLength === n) {
      if (this.#viewOf === buffer) return last;
    }
    this.#viewOf = buffer;
    this.#viewAt = this.#offset;
    return (this.#view = buffer.subarray(this.#offset, this.#offset + n));
  }

  /** `chunk` (the last copy) is still in use: later copies go after it. */
  keep(chunk: Buffer): void {
    // 8-byte aligned, as Node's own pool keeps its slices.
    this.#offset += (chunk.byteLength + 7) & ~7;
  }
}

const writeSlab = new WriteSlab();

/**
 * net.Socket's `onread` option (reads land in memory we supply, with no
 * Buffer per read), wired to a transport that exists only after connect.
 * Node asks for the next buffer after every read, which is exactly when
 * asyncio calls BufferedProtocol.getBuffer(): the protocol's own buffer is
 * read into directly. Only the first read after connect lands in a staging
 * buffer (Node asks before connectionMade may run) and is copied.
 */
export class ReadIntoSlot {
  transport: NodeTransport | undefined;
  readonly staging: Buffer = Buffer.allocUnsafe(STAGING_SIZE);

  option(): net.OnReadOpts {
    return {
      buffer: () => this.transport?.nextReadBuffer() ?? this.staging,
      callback: (nread, buf) => this.transport?.readInto(nread, buf) ?? false,
    };
  }
}

export class NodeTransport extends WriteTransportBase<AnyProtocol> implements Transport {
  readonly #stream: Duplex;
  readonly #slot: ReadIntoSlot | undefined;
  readonly #writable: boolean;
  readonly #readable: boolean;
  readonly #callConnectionMade: boolean;
  readonly #shutdownTimeout: number;
  // A net.Socket over a libuv handle of Node's (not TLS, not a user
  // Duplex): a write it reports done at once keeps no reference to the
  // chunk (#sendIdle).
  readonly #ownSocket: boolean;
  // A TLS close waiting for the peer's close_notify (see #shutdownTls).
  #shutdownTimer: TimerHandle | undefined;
  #detached = false;
  #streamClosed = false;
  #eofReceived = false;
  // asyncio's model: reading is on unless paused, closing or at EOF, even
  // before connectionMade, so pauseReading() inside connectionMade holds.
  #started = false;
  #paused = false;
  #endPending = false;
  // The buffer the BufferedProtocol gave for the next read (onread mode).
  #protocolBuffer: Uint8Array | undefined;
  // The buffer of the read being delivered (onread mode).
  #readBuffer: Uint8Array | undefined;
  // The loop stopped in the middle of a burst of events: the rest is
  // delivered from the ready queue, after the awaiting code resumed.
  #deliverLater = false;
  // Stream events call the protocol through the loop's dispatch(), so that
  // a stop() inside one takes effect when it returns. A user duplex may
  // have an encoding set: protocols always get bytes.
  readonly #dataNow = (chunk: Buffer | string): void => {
    this.#data(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  };
  readonly #onData = (chunk: Buffer | string): void => this.dispatch(this.#dataNow, chunk);
  readonly #readIntoNow = (nread: number): boolean => {
    const buf = this.#readBuffer!;
    this.#readBuffer = undefined;
    return this.#readInto(nread, buf);
  };
  readonly #endNow = (): void => this.#end();
  readonly #onEnd = (): void => this.dispatch(this.#endNow, undefined);
  // System errors become the UvError that UvEventLoop's transports report.
  readonly #onError = (err: Error): void => this.forceClose(toUvError(err));
  readonly #onClose = (): void => this.#closed();
  readonly #writtenNow = (): void => this.#written();
  readonly #shutdownEof = (): void =>
    this.callProtocol('eofReceived', () => void this.protocol.eofReceived?.());
  // A queued write that fails (the stream was destroyed under it: Node
  // destroys a child's stdin when the child exits) ends the transport with
  // that error; it must not count as written, which would resume writing.
  readonly #onWritten = (err?: Error | null): void => {
    if (err) this.forceClose(writeError(err));
    else this.dispatch(this.#writtenNow, undefined);
  };
  readonly #begin = (): void => {
    if (this.lost || this.closing) return;
    this.#started = true;
    if (this.isReading()) {
      if (this.#endPending) this.#end();
      else this.#stream.resume();
    }
  };

  /** @internal NodeEventLoop, fromDuplex and the TLS upgrade make these. */
  constructor(opts: NodeTransportOptions) {
    const stream = opts.stream;
    super({ ...opts, extra: { socket: stream, ...opts.extra } });
    this.#stream = stream;
    this.#slot = opts.readInto;
    this.#writable = opts.writable !== false;
    this.#readable = opts.readable !== false;
    this.#callConnectionMade = opts.callConnectionMade !== false;
    this.#shutdownTimeout = opts.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
    this.#ownSocket = stream instanceof net.Socket && !isTls(stream);
    // Paused before the 'data' listener goes on: nothing is delivered
    // before connectionMade, and Node keeps what arrives meanwhile.
    stream.pause();
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
    // A stream whose readable side already ended will not emit 'end' again:
    // a TLS socket whose peer sent close_notify right after its Finished
    // ends between 'secure' and here. The EOF is delivered once reading
    // starts, as one that arrives before connectionMade.
    if (this.#readable && stream.readableEnded) this.#endPending = true;
    if (this.#slot !== undefined) this.#slot.transport = this;
    // Tracked (scheduleStart) once the stream has taken the listeners: a
    // constructor that throws leaves nothing for loop.close() to close.
    this.scheduleStart('A NodeTransport');
  }

  protected beginIo(): void {
    // startTls: the caller's `await loop.startTls()` resumes (a microtask)
    // before the first decrypted byte is delivered, so the protocol can
    // switch to the TLS transport first. Dropped by a closing loop: nothing
    // can be delivered any more, so release the stream.
    if (this.#callConnectionMade) this.#begin();
    else this.loop.scheduleSoon(this.#begin, [], () => this.forceClose(null));
  }

  protected closeAtOnce(): void {
    this.#stream.destroy();
  }

  // --- reading --------------------------------------------------------------

  #data(chunk: Buffer): void {
    if (this.lost || this.closing) return;
    if (!this.#started || this.#paused || this.loop.resuming) {
      // Someone else resumed the stream (child_process does, for a child's
      // stdout and stderr, when the child exits), or the loop has just
      // stopped (a stream emits its buffered chunks in one go). Give the
      // bytes back and pause until this transport reads.
      this.#stream.pause();
      this.#stream.unshift(chunk);
      this.#holdForResume();
      return;
    }
    const protocol = this.protocol;
    if (isBufferedProtocol(protocol)) this.#copyInto(protocol, chunk);
    else this.#deliver(protocol, chunk);
  }

  #deliver(protocol: Protocol, chunk: Buffer): void {
    try {
      protocol.dataReceived?.(chunk);
    } catch (exception) {
      this.fatal(exception, 'Fatal error: protocol.dataReceived() call failed.');
    }
  }

  /**
   * BufferedProtocol fed from bytes that arrived elsewhere: copy them in,
   * a buffer at a time. Each piece goes to the protocol in force when it is
   * delivered, as in asyncio, where every read goes to the protocol of that
   * moment: a setProtocol() inside bufferUpdated() sends the rest of the
   * chunk to the new protocol (a plain one gets it as one Buffer).
   */
  #copyInto(first: BufferedProtocol, chunk: Uint8Array): void {
    let protocol: AnyProtocol = first;
    let offset = 0;
    while (offset < chunk.byteLength && !this.lost && !this.closing) {
      if (!isBufferedProtocol(protocol)) {
        this.#deliver(protocol, Buffer.from(chunk.subarray(offset)));
        return;
      }
      const remaining = chunk.byteLength - offset;
      const buffer = this.bufferFrom(protocol, remaining);
      if (buffer === undefined) return;
      const n = Math.min(remaining, buffer.byteLength);
      buffer.set(chunk.subarray(offset, offset + n));
      offset += n;
      try {
        protocol.bufferUpdated(n);
      } catch (exception) {
        this.fatal(exception, 'Fatal error: protocol.bufferUpdated() call failed.');
        return;
      }
      protocol = this.protocol;
    }
  }

  /** @internal onread mode: where Node reads next. */
  nextReadBuffer(): Uint8Array {
    this.#protocolBuffer = undefined;
    const protocol = this.protocol;
    if (this.lost || !isBufferedProtocol(protocol)) return this.#slot!.staging;
    const buffer = this.bufferFrom(protocol, -1);
    if (buffer === undefined) return this.#slot!.staging;
    this.#protocolBuffer = buffer;
    return buffer;
  }

  /** @internal onread mode: `nread` bytes landed at the start of `buf`. */
  readInto(nread: number, buf: Uint8Array): boolean {
    // The buffer goes by a field, not a closure: no allocation per read.
    this.#readBuffer = buf;
    return this.dispatch(this.#readIntoNow, nread);
  }

  #readInto(nread: number, buf: Uint8Array): boolean {
    if (this.lost) return false;
    const protocol = this.protocol;
    if (isBufferedProtocol(protocol)) {
      if (buf === this.#protocolBuffer) {
        try {
          protocol.bufferUpdated(nread);
        } catch (exception) {
          this.fatal(exception, 'Fatal error: protocol.bufferUpdated() call failed.');
        }
      } else {
        this.#copyInto(protocol, buf.subarray(0, nread));
      }
    } else {
      // The protocol was switched to a plain one: it gets Buffers to keep.
      this.#deliver(protocol, Buffer.from(buf.subarray(0, nread)));
    }
    return this.isReading();
  }

  #end(): void {
    if (this.lost || this.closing) return;
    if (!this.#started || this.#paused || this.loop.resuming) {
      // As for data: EOF reaches the protocol only while it reads.
      this.#endPending = true;
      this.#holdForResume();
      return;
    }
    this.#endPending = false;
    this.#eofReceived = true;
    let keepOpen: unknown;
    try {
      keepOpen = this.protocol.eofReceived?.();
    } catch (exception) {
      return this.fatal(exception, 'Fatal error: protocol.eofReceived() call failed.');
    }
    if (!keepOpen) this.close();
  }

  /** Held only because the loop stopped: read again once the awaiting code resumed. */
  #holdForResume(): void {
    if (!this.loop.resuming || !this.#started || this.#paused || this.#deliverLater) return;
    this.#deliverLater = true;
    this.loop.scheduleSoon(() => {
      this.#deliverLater = false;
      if (!this.isReading() || this.lost) return;
      if (this.#endPending) this.#end();
      else this.#stream.resume();
    }, []);
  }

  override usesFd(fd: number): boolean {
    // net.Socket does not say its fd but through its libuv handle (a
    // TLSSocket's or a Duplex's has none: it uses no fd of its own).
    const handle = (this.#stream as { _handle?: { fd?: unknown } | null })._handle;
    return !this.closing && handle?.fd === fd;
  }

  isReading(): boolean {
    return !this.#paused && !this.closing && !this.#eofReceived;
  }

  pauseReading(): void {
    if (!this.isReading()) return;
    this.#paused = true;
    if (this.#started) this.#stream.pause();
  }

  resumeReading(): void {
    if (this.closing || !this.#paused) return;
    this.#paused = false;
    if (!this.#started || this.#eofReceived) return;
    if (this.#endPending) {
      this.#endPending = false;
      this.loop.scheduleSoon(() => this.#end(), []);
    } else this.#stream.resume();
  }

  // --- writing --------------------------------------------------------------

  protected send(data: Uint8Array | Uint8Array[]): void {
    if (!this.#writable) {
      throw new UsageError('ERR_TRANSPORT_NOT_WRITABLE', 'This transport is read-only');
    }
    // Node's own high-water mark (the return value) is ignored: asyncio's
    // limits, on the same writableLength, decide when to pause.
    const stream = this.#stream;
    if (stream.writableLength > 0) {
      // Queued behind other writes: Node keeps the chunk until it goes out,
      // and asyncio lets the caller reuse its memory after write(), so the
      // chunk is a copy of its own (writelines' concat is one already).
      stream.write(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data), this.#onWritten);
    } else if (Array.isArray(data)) {
      this.#sendIdle(stream, Buffer.concat(data), false);
    } else {
      this.#sendIdle(stream, data, true);
    }
    // A write that failed at once (EPIPE from a child that has exited) has
    // errored the stream already, though Node emits 'error' only later; a
    // stream destroyed under us (Node destroys a child's stdin when the
    // child exits, before 'close') dropped it. The transport is closing
    // from now on, as asyncio's is after a send() that raised, so that
    // drain() reports the error instead of resolving.
    const failed = stream.errored;
    if (failed instanceof Error) return this.forceClose(toUvError(failed));
    if (stream.destroyed) return this.forceClose(brokenPipe());
    if (stream.writableLength > 0) this.flow.maybePause();
  }

  /**
   * The common case: an idle socket takes the whole write at once. A
   * callback per write would cost a nextTick each; only a write that
   * stayed queued gets an (empty, ordered) write to report its end.
   *
   * The caller's bytes (`borrowed`) are copied first, as asyncio lets the
   * caller reuse its memory after write(): on a socket of Node's own
   * (#ownSocket) into the shared WriteSlab, which a write that completed
   * at once leaves free for the next copy (no allocation per write); on
   * any other stream into a Buffer of its own, since a Duplex may keep the
   * chunk (a PassThrough hands it to its reader) even when it reports the
   * write done at once.
   */
  #sendIdle(stream: Duplex, bytes: Uint8Array, borrowed: boolean): void {
    let chunk = bytes;
    const slab = borrowed && this.#ownSocket ? writeSlab.copy(bytes) : undefined;
    if (slab !== undefined) chunk = slab;
    else if (borrowed) chunk = Buffer.from(bytes);
    stream.write(chunk);
    if (stream.writableLength === 0) return;
    // Still queued (the kernel's buffer is full, or the socket connects):
    // libuv writes the rest from this memory later.
    if (slab !== undefined) writeSlab.keep(slab);
    stream.write(EMPTY, this.#onWritten);
  }

  #written(): void {
    if (this.lost) return;
    this.flow.maybeResume();
    if (this.closing && this.#stream.writableLength === 0) this.#finishClose(null, true);
  }

  /** Sends EOF once the buffered writes are out (Node's end()). */
  writeEof(): void {
    if (this.closing || this.eofWritten) return;
    // A write-only pipe has nothing left to do once its EOF is out: asyncio
    // closes it (flushing first), so connectionLost(null) follows.
    if (!this.#readable) return this.close();
    this.eofWritten = true;
    this.#stream.end();
  }

  canWriteEof(): boolean {
    return this.#writable;
  }

  protected override bufferedBytes(): number {
    // A destroyed stream keeps counting what it dropped; once lost (abort,
    // an error) nothing is buffered any more, as in asyncio.
    return this.lost ? 0 : this.#stream.writableLength;
  }

  // --- closing --------------------------------------------------------------

  /** Stops reading, flushes buffered writes, closes; connectionLost(null) follows. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.#stream.pause();
    if (this.#stream.writableLength === 0) this.#finishClose(null, true);
  }

  protected forceClose(err: Error | null): void {
    if (this.lost) return;
    this.closing = true;
    this.#finishClose(err, false);
  }

  #finishClose(err: Error | null, graceful: boolean): void {
    if (this.lost) return;
    this.lost = true;
    this.lostError = err;
    const stream = this.#stream;
    if (this.#streamClosed) {
      this.deliverLost(err);
      return;
    }
    // A socket is closed at once (libuv's close, as StreamTransport does).
    // TLS shuts down as asyncio's SSL transports do (#shutdownTls). Other
    // duplexes (user streams) are ended first so that their own shutdown
    // goes out, then destroyed.
    const socket = stream instanceof net.Socket && !isTls(stream);
    if (graceful && isTls(stream) && !stream.destroyed) {
      this.#shutdownTls(stream);
    } else if (!graceful && isTls(stream) && !stream.destroyed && stream.writableLength > 0) {
      // An abort right after a write (node:http's 400 and 431 before it
      // destroys the socket, an app's `res.end(); socket.destroy()`): the
      // write in progress is already encrypted, but node:tls sends it only
      // once the previous record's write completes (a setImmediate, when
      // the TLS socket runs over a JS stream as on UvEventLoop). A TLS
      // socket over a TCP handle sends it at once, so destroy() after
      // write() delivers it there; one turn later it has gone out here too.
      // What is still queued behind it is dropped, as abort() drops it.
      setImmediate(() => stream.destroy());
    } else if (!graceful || socket || stream.writableFinished || !stream.writable) {
      stream.destroy();
    } else {
      stream.once('finish', () => stream.destroy());
      if (!stream.writableEnded) stream.end();
    }
  }

  /**
   * asyncio's SSL shutdown (sslproto's FLUSHING and SHUTDOWN states): our
   * close_notify goes out after what is buffered, then the peer's
   * close_notify (or its EOF) is awaited before the connection closes, so
   * that neither side takes the close for a truncation. Reading resumes
   * to see it; what the peer still sends is dropped (the transport is
   * closing). A peer that does not answer within sslShutdownTimeout has
   * the connection aborted, and connectionLost gets a TimeoutError, as
   * asyncio's _check_shutdown_timeout. The timer is the loop's: it counts
   * in liveResources() while it waits, and goes with the stream.
   *
   * The peer's close_notify (or EOF) is the end of its data: a protocol
   * that had no eofReceived yet gets it then, before connectionLost, as
   * asyncio's _do_shutdown calls eof_received (its answer cannot keep a
   * closing transport open).
   */
  #shutdownTls(stream: Duplex): void {
    const finish = (): void => {
      if (!stream.readableEnded || !stream.writableFinished) return;
      if (!this.#eofReceived) {
        this.#eofReceived = true;
        this.loop.scheduleSoon(this.#shutdownEof, []);
      }
      stream.destroy();
    };
    if (this.loop.isClosed()) return void stream.destroy();
    this.#shutdownTimer = this.loop.callLater(this.#shutdownTimeout, () => {
      this.#shutdownTimer = undefined;
      this.lostError = new TimeoutError('SSL shutdown timed out');
      stream.destroy();
    });
    if (!stream.readableEnded) {
      stream.once('end', finish);
      stream.resume();
    }
    if (!stream.writableFinished) {
      stream.once('finish', finish);
      if (!stream.writableEnded) stream.end();
    }
    finish();
  }

  /** @internal The loop closed: a TLS shutdown in progress stops waiting for the peer. */
  override closeWithLoop(): void {
    if (this.#shutdownTimer !== undefined) this.#stream.destroy();
    super.closeWithLoop();
  }

  /** The stream emitted 'close': it and its fd are gone. */
  #closed(): void {
    this.#streamClosed = true;
    this.#shutdownTimer?.cancel();
    this.#shutdownTimer = undefined;
    if (this.#detached) return;
    // Gone now: the stream is (connectionLost may never run if the loop
    // closes meanwhile).
    if (this.lost) return this.deliverLost(this.lostError);
    // Node destroys a duplex whose both sides ended; asyncio keeps such a
    // transport until close(), which then reports connectionLost(null).
    if (this.#eofReceived && this.eofWritten) return;
    this.forceClose(null);
  }

  /**
   * @internal Hands the stream over (startTls): this transport stops
   * reading and writing and never calls connectionLost.
   */
  detachStream(): Duplex {
    if (this.lost) throw new UsageError('ERR_TRANSPORT_CLOSED', 'The transport is closed');
    this.closing = true;
    this.lost = true;
    this.#detached = true;
    const stream = this.#stream;
    stream.pause();
    stream.off('data', this.#onData);
    stream.off('end', this.#onEnd);
    stream.off('error', this.#onError);
    stream.off('close', this.#onClose);
    if (this.#slot !== undefined) this.#slot.transport = undefined;
    this.forget();
    return stream;
  }
}

/**
 * A write's error as UvEventLoop reports it. A write dropped because the
 * stream was destroyed with it queued could never go out: a broken pipe,
 * as the write itself reports on UvEventLoop and in asyncio.
 */
function writeError(err: Error): Error {
  const destroyed = (err as { code?: unknown }).code === 'ERR_STREAM_DESTROYED';
  return destroyed ? brokenPipe() : toUvError(err);
}

function brokenPipe(): UvError {
  return new UvError(errno['EPIPE']!, 'write', '(the stream was destroyed under the write)');
}

function isTls(stream: Duplex): boolean {
  return (stream as { encrypted?: unknown }).encrypted === true;
}
