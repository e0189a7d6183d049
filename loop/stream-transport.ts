// The stream transport: a Transport over a handles/ Stream (TCP or Pipe),
// with asyncio's semantics (selector_events._SelectorSocketTransport).
import type { Stream } from '../handles/stream.js';
import { UsageError } from '../errors/usage-error.js';
import { UvError } from '../handles/uv-error.js';
import { loopClosed } from './errors.js';
import type { BaseEventLoop } from './base-event-loop.js';
import {
  type AnyProtocol, type BufferedProtocol, type Protocol, isBufferedProtocol, notifyLoopClosed,
} from './protocols.js';
import type { ExtraInfo, ExtraInfoValue, Transport, WriteBufferLimits } from './transports.js';
import { watchUnclosed } from './unclosed-warning.js';
import { WriteFlow } from './write-flow.js';
import { extraInfo } from './extra-info.js';

export { DEFAULT_HIGH_WATER } from './write-flow.js';

/** Who learns that a transport is gone (its Server, for waitClosed). */
export interface TransportOwner {
  detach(transport: StreamTransport): void;
}

function toBytes(data: Uint8Array | string, what: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return Buffer.from(data);
  throw new UsageError('ERR_INVALID_ARG_TYPE', `${what} must be a Uint8Array or a string`);
}

export class StreamTransport implements Transport {
  readonly #loop: BaseEventLoop;
  readonly #stream: Stream;
  #protocol: AnyProtocol;
  readonly #extra: Record<string, unknown>;
  readonly #owner: TransportOwner | undefined;
  // False for write-only pipes: they are never read from.
  readonly #reads: boolean;
  // False for read-only pipes: there is no write side to keep open at EOF.
  readonly #writes: boolean;
  #closing = false;
  #lost = false; // connectionLost is scheduled or done
  #eofWritten = false;
  #eofSeen = false; // EOF was read: reading never resumes
  #reading = false;
  // pauseReading() from inside connectionMade (before reading starts) is
  // remembered, as asyncio's _paused flag is.
  #started = false;
  #pauseRequested = false;
  readonly #flow: WriteFlow;
  #queued = 0; // writes libuv still holds
  readonly #onQueuedDone = (err: UvError | null): void => this.#writeDone(err);
  readonly #onRead = (err: UvError | null, data: Buffer | null): void => this.#read(err, data);
  readonly #onReadInto = (err: UvError | null, n: number): void => this.#readInto(err, n);
  readonly #unwatch: () => void;
  readonly #untrack: () => void;

  /** Calls protocol.connectionMade soon, then starts reading; `ready` resolves after it. */
  constructor(loop: BaseEventLoop, stream: Stream, protocol: AnyProtocol, extra: Record<string, unknown>, owner?: TransportOwner, ready?: (err: Error | null) => void, reads = true) {
    this.#reads = reads;
    this.#writes = stream.writable;
    this.#loop = loop;
    this.#unwatch = watchUnclosed(loop.getDebug(), this, 'A StreamTransport');
    this.#flow = new WriteFlow(loop, this, () => this.getWriteBufferSize(), () => this.#protocol);
    this.#stream = stream;
    this.#protocol = protocol;
    this.#extra = extra;
    this.#owner = owner;
    this.#untrack = loop.track(this);
    loop.scheduleSoon(() => {
      if (this.#lost) {
        // Closed before connectionMade ran: connectionLost is still coming,
        // so the protocol gets connectionMade first, as asyncio orders them.
        try {
          this.#protocol.connectionMade?.(this);
        } catch (exception) {
          this.#loop.callExceptionHandler({ message: 'protocol.connectionMade() failed', exception, transport: this, protocol: this.#protocol });
        }
        return ready?.(new UvError(-125, 'connect'));
      }
      try {
        this.#protocol.connectionMade?.(this);
      } catch (exception) {
        this.#fatal(exception, 'Fatal error: protocol.connectionMade() call failed.');
        ready?.(exception instanceof Error ? exception : new Error(String(exception)));
        return;
      }
      this.#started = true;
      if (!this.#closing && !this.#reading && this.#reads && !this.#pauseRequested) this.#startReading();
      ready?.(null);
    }, [], () => {
      // The loop closed before connectionMade could run, and nothing will
      // run it now: close the stream (the protocol never saw it) and fail
      // whoever waits for the start (createConnection, connectReadPipe...).
      if (this.#lost) return;
      this.#lost = true;
      this.#closing = true;
      this.#unwatch();
      this.#untrack();
      this.#owner?.detach(this);
      if (!stream.closed) stream.close();
      ready?.(loopClosed());
    });
  }

  #startReading(): void {
    this.#reading = true;
    const protocol = this.#protocol;
    if (isBufferedProtocol(protocol)) {
      const buffer = this.#bufferFrom(protocol);
      if (buffer === undefined) return;
      this.#stream.readStartInto(buffer, this.#onReadInto);
    } else {
      this.#stream.readStart(this.#onRead);
    }
  }

  #bufferFrom(protocol: BufferedProtocol): Uint8Array | undefined {
    let buffer: Uint8Array;
    try {
      buffer = protocol.getBuffer(-1);
      if (!(buffer instanceof Uint8Array) || buffer.byteLength === 0) {
        throw new UsageError('ERR_INVALID_RETURN_VALUE', 'getBuffer() returned an empty or non-Uint8Array buffer');
      }
    } catch (exception) {
      this.#fatal(exception, 'Fatal error: protocol.getBuffer() call failed.');
      return undefined;
    }
    return buffer;
  }

  #read(err: UvError | null, data: Buffer | null): void {
    if (err !== null) return this.#forceClose(err);
    if (data === null) return this.#eofReceived();
    try {
      (this.#protocol as Protocol).dataReceived?.(data);
    } catch (exception) {
      this.#fatal(exception, 'Fatal error: protocol.dataReceived() call failed.');
    }
  }

  #readInto(err: UvError | null, n: number): void {
    if (err !== null) return this.#forceClose(err);
    if (n === 0) return this.#eofReceived();
    const protocol = this.#protocol as BufferedProtocol;
    try {
      protocol.bufferUpdated(n);
    } catch (exception) {
      return this.#fatal(exception, 'Fatal error: protocol.bufferUpdated() call failed.');
    }
    if (this.#closing || !this.#reading) return;
    const next = this.#bufferFrom(protocol);
    if (next !== undefined && next !== this.#stream.readBuffer) this.#stream.setReadBuffer(next);
  }

  #eofReceived(): void {
    this.#reading = false;
    this.#eofSeen = true;
    let keepOpen: unknown;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (exception) {
      return this.#fatal(exception, 'Fatal error: protocol.eofReceived() call failed.');
    }
    // asyncio's read pipe transport closes at EOF whatever eofReceived says.
    if (!keepOpen || !this.#writes) this.close();
  }

  write(data: Uint8Array | string): void {
    const bytes = toBytes(data, 'data');
    if (this.#eofWritten) throw new UsageError('ERR_TRANSPORT_EOF', 'Cannot call write() after writeEof()');
    if (this.#lost || bytes.byteLength === 0) return;
    this.#send(bytes);
  }

  writelines(list: Iterable<Uint8Array | string>): void {
    const parts: Uint8Array[] = [];
    for (const item of list) parts.push(toBytes(item, 'each item'));
    if (this.#eofWritten) throw new UsageError('ERR_TRANSPORT_EOF', 'Cannot call writelines() after writeEof()');
    if (this.#lost || parts.length === 0) return;
    this.#send(parts.length === 1 ? parts[0]! : parts);
  }

  #send(data: Uint8Array | Uint8Array[]): void {
    let done: boolean;
    try {
      done = this.#stream.writeNow(data, this.#onQueuedDone);
    } catch (err) {
      return this.#forceClose(err as Error);
    }
    if (done) return;
    this.#queued++;
    this.#flow.maybePause();
  }

  #writeDone(err: UvError | null): void {
    this.#queued--;
    if (err !== null) {
      if (err.code !== 'ECANCELED') this.#forceClose(err);
      return;
    }
    this.#flow.maybeResume();
    if (this.#queued === 0 && this.#closing && !this.#lost) this.#finishClose(null);
  }


  writeEof(): void {
    if (this.#closing || this.#eofWritten) return;
    this.#eofWritten = true;
    // libuv shuts down once the queued writes are out.
    this.#stream.shutdown(() => {});
  }

  canWriteEof(): boolean {
    return true;
  }

  /** Stops reading, flushes queued writes, closes; connectionLost(null) follows. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#reading) {
      this.#reading = false;
      this.#stream.readStop();
    }
    if (this.#queued === 0) this.#finishClose(null);
  }

  /** Closes at once, dropping queued writes; connectionLost(null) follows. */
  abort(): void {
    this.#forceClose(null);
  }

  #fatal(exception: unknown, message: string): void {
    this.#loop.callExceptionHandler({ message, exception, transport: this, protocol: this.#protocol });
    this.#forceClose(exception instanceof Error ? exception : new Error(String(exception)));
  }

  #forceClose(err: Error | null): void {
    if (this.#lost) return;
    this.#closing = true;
    this.#reading = false;
    this.#finishClose(err);
  }

  #finishClose(err: Error | null): void {
    this.#lost = true;
    this.#unwatch();
    this.#untrack();
    const stream = this.#stream;
    const detach = (): void => this.#owner?.detach(this);
    const done = (): void => {
      detach();
      // The loop closed meanwhile: it runs nothing any more.
      if (this.#loop.isClosed()) return;
      try {
        this.#protocol.connectionLost?.(err);
      } catch (exception) {
        this.#loop.callExceptionHandler({ message: 'protocol.connectionLost() failed', exception, transport: this, protocol: this.#protocol });
      }
    };
    // The close callback runs in a later loop callback: connectionLost is
    // always deferred, and runs exactly once.
    if (stream.closed) this.#loop.scheduleSoon(done, [], detach);
    else stream.close(done);
  }

  /** @internal The loop closed: close the stream now, dropping queued writes, and tell nobody. */
  closeWithLoop(): void {
    if (this.#lost) return;
    this.#forceClose(null);
    notifyLoopClosed(this.#protocol);
  }

  isClosing(): boolean {
    return this.#closing;
  }

  isReading(): boolean {
    return this.#reading && !this.#closing;
  }

  pauseReading(): void {
    if (!this.#started) {
      this.#pauseRequested = true;
      return;
    }
    if (this.#closing || !this.#reading) return;
    this.#reading = false;
    this.#stream.readStop();
  }

  resumeReading(): void {
    if (!this.#started) {
      this.#pauseRequested = false;
      return;
    }
    // Not after EOF (a half-open transport whose protocol kept it open):
    // reading again made libuv report EOF again, a second eofReceived.
    if (this.#closing || this.#reading || !this.#reads || this.#eofSeen) return;
    this.#startReading();
  }

  setWriteBufferLimits(limits: WriteBufferLimits = {}): void {
    this.#flow.setLimits(limits);
  }

  getWriteBufferSize(): number {
    return this.#stream.writeQueueSize;
  }

  getWriteBufferLimits(): [number, number] {
    return this.#flow.limits();
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
