// NodeTransport: an asyncio Transport over any Node Duplex (a net.Socket, a
// tls.TLSSocket, a pipe, or any other stream.Duplex), with the semantics
// of loop/stream-transport.ts: connectionMade deferred, reads paused and
// resumed on request, write-buffer limits measured on writableLength,
// close() flushes, abort() does not, connectionLost exactly once and always
// from a later callback, eofReceived returning falsy closes.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { UsageError } from '../errors/usage-error.js';
import type { BaseEventLoop } from '../loop/base-event-loop.js';
import { loopClosed } from '../loop/errors.js';
import {
  type AnyProtocol, type BufferedProtocol, type Protocol, isBufferedProtocol, notifyLoopClosed,
} from '../loop/protocols.js';
import { WriteFlow } from '../loop/write-flow.js';
import type { ExtraInfo, ExtraInfoValue, Transport, WriteBufferLimits } from '../loop/transports.js';
import { toUvError } from './node-errors.js';
import { extraInfo } from '../loop/extra-info.js';

/** Who learns that a transport is gone (its server, for waitClosed). */
export interface NodeTransportOwner {
  detach(transport: NodeTransport): void;
}

export interface NodeTransportOptions {
  extra?: Record<string, unknown>;
  owner?: NodeTransportOwner;
  /** Called after connectionMade (or with the error that prevented it). */
  ready?: (err: Error | null) => void;
  /** false when the protocol already saw connectionMade (startTls). */
  callConnectionMade?: boolean;
  /** Set when the socket was made with `onread` from this slot. */
  readInto?: ReadIntoSlot;
  /** false for read-only pipes. */
  writable?: boolean;
  /** Called once, when the transport is gone (connectionLost or detached): the loop's live count. */
  onGone?: () => void;
}

function toBytes(data: Uint8Array | string, what: string): Buffer {
  // A copy, always: Node keeps a reference to a Buffer it could not write
  // at once, and asyncio lets the caller reuse its memory after write().
  if (data instanceof Uint8Array) return Buffer.from(data);
  if (typeof data === 'string') return Buffer.from(data);
  throw new UsageError('ERR_INVALID_ARG_TYPE', `${what} must be a Uint8Array or a string`);
}

const STAGING_SIZE = 64 * 1024;
const EMPTY = Buffer.alloc(0);

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

export class NodeTransport implements Transport {
  readonly #loop: BaseEventLoop;
  readonly #stream: Duplex;
  #protocol: AnyProtocol;
  readonly #extra: Record<string, unknown>;
  readonly #owner: NodeTransportOwner | undefined;
  readonly #slot: ReadIntoSlot | undefined;
  readonly #writable: boolean;
  #onGone: (() => void) | undefined;
  readonly #untrack: () => void;
  #closing = false;
  #lost = false; // connectionLost is decided (it runs once the stream is closed)
  #lostError: Error | null = null;
  #detached = false;
  #streamClosed = false;
  #eofWritten = false;
  #eofReceived = false;
  // asyncio's model: reading is on unless paused, closing or at EOF, even
  // before connectionMade, so pauseReading() inside connectionMade holds.
  #started = false;
  #paused = false;
  #endPending = false;
  readonly #flow: WriteFlow;
  // The buffer the BufferedProtocol gave for the next read (onread mode).
  #protocolBuffer: Uint8Array | undefined;
  // The loop stopped in the middle of a burst of events: the rest is
  // delivered from the ready queue, after the awaiting code resumed.
  #deliverLater = false;
  // Stream events call the protocol through the loop's dispatch(), so that
  // a stop() inside one takes effect when it returns. A user duplex may
  // have an encoding set: protocols always get bytes.
  readonly #dataNow = (chunk: Buffer | string): void => {
    this.#data(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  };
  readonly #onData = (chunk: Buffer | string): void => this.#loop.dispatch(this.#dataNow, chunk);
  readonly #endNow = (): void => this.#end();
  readonly #onEnd = (): void => this.#loop.dispatch(this.#endNow, undefined);
  // System errors become the UvError that UvEventLoop's transports report.
  readonly #onError = (err: Error): void => this.#forceClose(toUvError(err));
  readonly #onClose = (): void => this.#closed();
  readonly #writtenNow = (): void => this.#written();
  readonly #onWritten = (): void => this.#loop.dispatch(this.#writtenNow, undefined);

  /** @internal NodeEventLoop, fromDuplex and the TLS upgrade make these. */
  constructor(loop: BaseEventLoop, stream: Duplex, protocol: AnyProtocol, opts: NodeTransportOptions = {}) {
    this.#loop = loop;
    this.#stream = stream;
    this.#protocol = protocol;
    this.#extra = { ...opts.extra };
    if (!('socket' in this.#extra)) this.#extra['socket'] = stream;
    this.#owner = opts.owner;
    this.#slot = opts.readInto;
    this.#writable = opts.writable !== false;
    this.#onGone = opts.onGone;
    this.#flow = new WriteFlow(loop, this, () => this.getWriteBufferSize(), () => this.#protocol);
    this.#untrack = loop.track(this);
    // Paused before the 'data' listener goes on: nothing is delivered
    // before connectionMade, and Node keeps what arrives meanwhile.
    stream.pause();
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
    if (this.#slot !== undefined) this.#slot.transport = this;
    const callMade = opts.callConnectionMade !== false;
    const ready = opts.ready;
    loop.scheduleSoon(() => {
      if (this.#lost && !this.#detached) {
        // Closed before connectionMade ran (close() right after fromDuplex,
        // the peer gone early): connectionLost is still coming, so the
        // protocol gets connectionMade first, as asyncio orders them;
        // it used to see connectionLost alone.
        if (callMade) {
          try {
            this.#protocol.connectionMade?.(this);
          } catch (exception) {
            this.#loop.callExceptionHandler({ message: 'protocol.connectionMade() failed', exception, transport: this, protocol: this.#protocol });
          }
        }
        ready?.(this.#lostError ?? new UsageError('ERR_TRANSPORT_CLOSED', 'The connection closed before connectionMade'));
        return;
      }
      if (callMade) {
        try {
          this.#protocol.connectionMade?.(this);
        } catch (exception) {
          this.#fatal(exception, 'Fatal error: protocol.connectionMade() call failed.');
          ready?.(exception instanceof Error ? exception : new Error(String(exception)));
          return;
        }
      }
      const begin = (): void => {
        if (this.#lost || this.#closing) return;
        this.#started = true;
        if (this.isReading()) {
          if (this.#endPending) this.#end();
          else this.#stream.resume();
        }
      };
      ready?.(null);
      // startTls: the caller's `await loop.startTls()` resumes (a microtask)
      // before the first decrypted byte is delivered, so the protocol can
      // switch to the TLS transport first.
      if (callMade) begin();
      // Dropped by a closing loop: nothing can be delivered any more, so
      // release the stream.
      else loop.scheduleSoon(begin, [], () => this.#forceClose(null));
    }, [], () => {
      // The loop closed before connectionMade could run: close the stream
      // (the protocol never saw it) and fail whoever waits for the start.
      this.#forceClose(null);
      ready?.(loopClosed());
    });
  }

  // --- reading --------------------------------------------------------------

  #data(chunk: Buffer): void {
    if (this.#lost || this.#closing) return;
    if (!this.#started || this.#paused || this.#loop.resuming) {
      // Someone else resumed the stream (child_process does, for a child's
      // stdout and stderr, when the child exits), or the loop has just
      // stopped (a stream emits its buffered chunks in one go). Give the
      // bytes back and pause until this transport reads.
      this.#stream.pause();
      this.#stream.unshift(chunk);
      this.#holdForResume();
      return;
    }
    const protocol = this.#protocol;
    if (isBufferedProtocol(protocol)) this.#copyInto(protocol, chunk);
    else this.#deliver(protocol, chunk);
  }

  #deliver(protocol: Protocol, chunk: Buffer): void {
    try {
      protocol.dataReceived?.(chunk);
    } catch (exception) {
      this.#fatal(exception, 'Fatal error: protocol.dataReceived() call failed.');
    }
  }

  /** BufferedProtocol fed from bytes that arrived elsewhere: copy them in. */
  #copyInto(protocol: BufferedProtocol, chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.byteLength && !this.#lost) {
      const remaining = chunk.byteLength - offset;
      const buffer = this.#bufferFrom(protocol, remaining);
      if (buffer === undefined) return;
      const n = Math.min(remaining, buffer.byteLength);
      buffer.set(chunk.subarray(offset, offset + n));
      offset += n;
      try {
        protocol.bufferUpdated(n);
      } catch (exception) {
        this.#fatal(exception, 'Fatal error: protocol.bufferUpdated() call failed.');
        return;
      }
    }
  }

  #bufferFrom(protocol: BufferedProtocol, sizeHint: number): Uint8Array | undefined {
    let buffer: Uint8Array;
    try {
      buffer = protocol.getBuffer(sizeHint);
      if (!(buffer instanceof Uint8Array) || buffer.byteLength === 0) {
        throw new UsageError('ERR_INVALID_RETURN_VALUE', 'getBuffer() returned an empty or non-Uint8Array buffer');
      }
    } catch (exception) {
      this.#fatal(exception, 'Fatal error: protocol.getBuffer() call failed.');
      return undefined;
    }
    return buffer;
  }

  /** @internal onread mode: where Node reads next. */
  nextReadBuffer(): Uint8Array {
    this.#protocolBuffer = undefined;
    const protocol = this.#protocol;
    if (this.#lost || !isBufferedProtocol(protocol)) return this.#slot!.staging;
    const buffer = this.#bufferFrom(protocol, -1);
    if (buffer === undefined) return this.#slot!.staging;
    this.#protocolBuffer = buffer;
    return buffer;
  }

  /** @internal onread mode: `nread` bytes landed at the start of `buf`. */
  readInto(nread: number, buf: Uint8Array): boolean {
    return this.#loop.dispatch((n) => this.#readInto(n, buf), nread);
  }

  #readInto(nread: number, buf: Uint8Array): boolean {
    if (this.#lost) return false;
    const protocol = this.#protocol;
    if (isBufferedProtocol(protocol)) {
      if (buf === this.#protocolBuffer) {
        try {
          protocol.bufferUpdated(nread);
        } catch (exception) {
          this.#fatal(exception, 'Fatal error: protocol.bufferUpdated() call failed.');
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
    if (this.#lost || this.#closing) return;
    if (!this.#started || this.#paused || this.#loop.resuming) {
      // As for data: EOF reaches the protocol only while it reads.
      this.#endPending = true;
      this.#holdForResume();
      return;
    }
    this.#endPending = false;
    this.#eofReceived = true;
    let keepOpen: unknown;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (exception) {
      return this.#fatal(exception, 'Fatal error: protocol.eofReceived() call failed.');
    }
    if (!keepOpen) this.close();
  }

  /** Held only because the loop stopped: read again once the awaiting code resumed. */
  #holdForResume(): void {
    if (!this.#loop.resuming || !this.#started || this.#paused || this.#deliverLater) return;
    this.#deliverLater = true;
    this.#loop.scheduleSoon(() => {
      this.#deliverLater = false;
      if (!this.isReading() || this.#lost) return;
      if (this.#endPending) this.#end();
      else this.#stream.resume();
    }, []);
  }

  isReading(): boolean {
    return !this.#paused && !this.#closing && !this.#eofReceived;
  }

  pauseReading(): void {
    if (!this.isReading()) return;
    this.#paused = true;
    if (this.#started) this.#stream.pause();
  }

  resumeReading(): void {
    if (this.#closing || !this.#paused) return;
    this.#paused = false;
    if (!this.#started || this.#eofReceived) return;
    if (this.#endPending) {
      this.#endPending = false;
      this.#loop.scheduleSoon(() => this.#end(), []);
    } else this.#stream.resume();
  }

  // --- writing --------------------------------------------------------------

  write(data: Uint8Array | string): void {
    const bytes = toBytes(data, 'data');
    if (this.#eofWritten) throw new UsageError('ERR_TRANSPORT_EOF', 'Cannot call write() after writeEof()');
    if (this.#lost || bytes.byteLength === 0) return;
    this.#send(bytes);
  }

  writelines(list: Iterable<Uint8Array | string>): void {
    const parts: Buffer[] = [];
    for (const item of list) parts.push(toBytes(item, 'each item'));
    if (this.#eofWritten) throw new UsageError('ERR_TRANSPORT_EOF', 'Cannot call writelines() after writeEof()');
    if (this.#lost || parts.length === 0) return;
    this.#send(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  #send(bytes: Buffer): void {
    if (!this.#writable) throw new UsageError('ERR_TRANSPORT_NOT_WRITABLE', 'This transport is read-only');
    // Node's own high-water mark (the return value) is ignored: asyncio's
    // limits, on the same writableLength, decide when to pause.
    const stream = this.#stream;
    if (stream.writableLength > 0) {
      stream.write(bytes, this.#onWritten);
    } else {
      // The common case: an idle socket takes the whole write at once. A
      // callback per write would cost a nextTick each; only a write that
      // stayed queued gets an (empty, ordered) write to report its end.
      stream.write(bytes);
      if (stream.writableLength > 0) stream.write(EMPTY, this.#onWritten);
    }
    this.#flow.maybePause();
  }

  #written(): void {
    if (this.#lost) return;
    this.#flow.maybeResume();
    if (this.#closing && this.#stream.writableLength === 0) this.#finishClose(null, true);
  }


  /** Sends EOF once the buffered writes are out (Node's end()). */
  writeEof(): void {
    if (this.#closing || this.#eofWritten) return;
    this.#eofWritten = true;
    this.#stream.end();
  }

  canWriteEof(): boolean {
    return this.#writable;
  }

  setWriteBufferLimits(limits: WriteBufferLimits = {}): void {
    this.#flow.setLimits(limits);
  }

  getWriteBufferSize(): number {
    return this.#stream.writableLength;
  }

  getWriteBufferLimits(): [number, number] {
    return this.#flow.limits();
  }

  // --- closing --------------------------------------------------------------

  /** Stops reading, flushes buffered writes, closes; connectionLost(null) follows. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#stream.pause();
    if (this.#stream.writableLength === 0) this.#finishClose(null, true);
  }

  /** Closes at once, dropping buffered writes; connectionLost(null) follows. */
  abort(): void {
    this.#forceClose(null);
  }

  isClosing(): boolean {
    return this.#closing;
  }

  #fatal(exception: unknown, message: string): void {
    this.#loop.callExceptionHandler({ message, exception, transport: this, protocol: this.#protocol });
    this.#forceClose(exception instanceof Error ? exception : new Error(String(exception)));
  }

  #forceClose(err: Error | null): void {
    if (this.#lost) return;
    this.#closing = true;
    this.#finishClose(err, false);
  }

  #finishClose(err: Error | null, graceful: boolean): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#lostError = err;
    const stream = this.#stream;
    if (this.#streamClosed) {
      this.#gone();
      this.#loop.scheduleSoon(() => this.#callConnectionLost(), [], this.#detachFromOwner);
      return;
    }
    // A socket is closed at once (libuv's close, as StreamTransport does).
    // Other duplexes (TLS, user streams) are ended first so that their
    // own shutdown (close_notify) goes out, then destroyed.
    if (!graceful || stream instanceof net.Socket && !isTls(stream) || stream.writableFinished || !stream.writable) {
      stream.destroy();
    } else {
      stream.once('finish', () => stream.destroy());
      if (!stream.writableEnded) stream.end();
    }
  }

  /** The stream emitted 'close': it and its fd are gone. */
  #closed(): void {
    this.#streamClosed = true;
    if (this.#detached) return;
    if (this.#lost) {
      // Counted gone now: the stream is; connectionLost may never run if
      // the loop is closed meanwhile.
      this.#gone();
      this.#loop.scheduleSoon(() => this.#callConnectionLost(), [], this.#detachFromOwner);
      return;
    }
    // Node destroys a duplex whose both sides ended; asyncio keeps such a
    // transport until close(), which then reports connectionLost(null).
    if (this.#eofReceived && this.#eofWritten) return;
    this.#forceClose(null);
  }

  // A closed loop drops connectionLost; the server still learns the transport is gone.
  readonly #detachFromOwner = (): void => this.#owner?.detach(this);

  /** @internal The loop closed: destroy the stream now (buffered writes dropped), tell nobody. */
  closeWithLoop(): void {
    if (this.#lost) return;
    this.#forceClose(null);
    notifyLoopClosed(this.#protocol);
  }

  #gone(): void {
    this.#untrack();
    const onGone = this.#onGone;
    this.#onGone = undefined;
    onGone?.();
  }

  #callConnectionLost(): void {
    this.#gone();
    this.#owner?.detach(this);
    try {
      this.#protocol.connectionLost?.(this.#lostError);
    } catch (exception) {
      this.#loop.callExceptionHandler({ message: 'protocol.connectionLost() failed', exception, transport: this, protocol: this.#protocol });
    }
  }

  /**
   * @internal Hands the stream over (startTls): this transport stops
   * reading and writing and never calls connectionLost.
   */
  detachStream(): Duplex {
    if (this.#lost) throw new UsageError('ERR_TRANSPORT_CLOSED', 'The transport is closed');
    this.#closing = true;
    this.#lost = true;
    this.#detached = true;
    const stream = this.#stream;
    stream.pause();
    stream.off('data', this.#onData);
    stream.off('end', this.#onEnd);
    stream.off('error', this.#onError);
    stream.off('close', this.#onClose);
    if (this.#slot !== undefined) this.#slot.transport = undefined;
    this.#gone();
    this.#owner?.detach(this);
    return stream;
  }

  getExtraInfo<K extends string, D = undefined>(name: K, dflt?: D): ExtraInfoValue<ExtraInfo, K, D> {
    return extraInfo<ExtraInfo, K, D>(this.#extra, name, dflt);
  }

  setProtocol(protocol: AnyProtocol): void {
    this.#protocol = protocol;
  }

  getProtocol(): AnyProtocol {
    return this.#protocol;
  }
}

function isTls(stream: Duplex): boolean {
  return (stream as { encrypted?: unknown }).encrypted === true;
}
