// The stream transport: a Transport over a handles/ Stream (TCP or Pipe),
// with asyncio's semantics (selector_events._SelectorSocketTransport). What
// every transport shares is in transport-base.ts; this is the mechanics:
// reads started and stopped on the handle, writes tried at once and queued
// by libuv, EOF by shutdown, close through the handle's close callback.
import { UsageError } from '../errors/usage-error.js';
import type { Stream } from '../handles/stream.js';
import type { UvError } from '../handles/uv-error.js';
import {
  type AnyProtocol,
  type BufferedProtocol,
  type Protocol,
  isBufferedProtocol,
} from './protocols.js';
import { type TransportOptions, WriteTransportBase } from './transport-base.js';
import type { Transport } from './transports.js';

export { DEFAULT_HIGH_WATER } from './write-flow.js';

export interface StreamTransportOptions extends TransportOptions<AnyProtocol> {
  stream: Stream;
  /** false for write-only pipes: they are never read from. */
  reads?: boolean | undefined;
}

export class StreamTransport extends WriteTransportBase<AnyProtocol> implements Transport {
  readonly #stream: Stream;
  readonly #reads: boolean;
  // False for read pipes (connectReadPipe, a child's stdout and stderr),
  // whatever the fd's mode: they have no write side (asyncio's read pipe
  // transport has no write()), nothing to keep open at EOF.
  readonly #writes: boolean;
  #eofSeen = false; // EOF was read: reading never resumes
  #reading = false;
  // pauseReading() from inside connectionMade (before reading starts) is
  // remembered, as asyncio's _paused flag is.
  #started = false;
  #pauseRequested = false;
  #queued = 0; // writes libuv still holds
  readonly #onQueuedDone = (err: UvError | null): void => this.#writeDone(err);
  readonly #onRead = (err: UvError | null, data: Buffer | null): void => this.#read(err, data);
  readonly #onReadInto = (err: UvError | null, n: number): void => this.#readInto(err, n);

  /** Calls protocol.connectionMade soon, then starts reading; `ready` is called after it. */
  constructor(opts: StreamTransportOptions) {
    super(opts);
    this.#stream = opts.stream;
    this.#reads = opts.reads !== false;
    this.#writes = opts.reads === true ? false : opts.stream.writable;
    this.scheduleStart('A StreamTransport');
  }

  protected beginIo(): void {
    this.#started = true;
    if (!this.#reading && this.#reads && !this.#pauseRequested) this.#startReading();
  }

  protected closeAtOnce(): void {
    if (!this.#stream.closed) this.#stream.close();
  }

  #startReading(): void {
    this.#reading = true;
    const protocol = this.protocol;
    if (isBufferedProtocol(protocol)) {
      const buffer = this.bufferFrom(protocol, -1);
      if (buffer === undefined) return;
      this.#stream.readStartInto(buffer, this.#onReadInto);
    } else {
      this.#stream.readStart(this.#onRead);
    }
  }

  #read(err: UvError | null, data: Buffer | null): void {
    if (err !== null) return this.forceClose(err);
    if (data === null) return this.#eofReceived();
    try {
      (this.protocol as Protocol).dataReceived?.(data);
    } catch (exception) {
      this.fatal(exception, 'Fatal error: protocol.dataReceived() call failed.');
    }
  }

  #readInto(err: UvError | null, n: number): void {
    if (err !== null) return this.forceClose(err);
    if (n === 0) return this.#eofReceived();
    const protocol = this.protocol as BufferedProtocol;
    try {
      protocol.bufferUpdated(n);
    } catch (exception) {
      return this.fatal(exception, 'Fatal error: protocol.bufferUpdated() call failed.');
    }
    if (this.closing || !this.#reading) return;
    const next = this.bufferFrom(protocol, -1);
    if (next !== undefined && next !== this.#stream.readBuffer) this.#stream.setReadBuffer(next);
  }

  #eofReceived(): void {
    this.#reading = false;
    this.#eofSeen = true;
    let keepOpen: unknown;
    try {
      keepOpen = this.protocol.eofReceived?.();
    } catch (exception) {
      return this.fatal(exception, 'Fatal error: protocol.eofReceived() call failed.');
    }
    // asyncio's read pipe transport closes at EOF whatever eofReceived says.
    if (!keepOpen || !this.#writes) this.close();
  }

  protected send(data: Uint8Array | Uint8Array[]): void {
    if (!this.#writes) {
      throw new UsageError('ERR_TRANSPORT_NOT_WRITABLE', 'This transport is read-only');
    }
    let done: boolean;
    try {
      done = this.#stream.writeNow(data, this.#onQueuedDone);
    } catch (err) {
      return this.forceClose(err as Error);
    }
    if (done) return;
    this.#queued++;
    this.flow.maybePause();
  }

  #writeDone(err: UvError | null): void {
    this.#queued--;
    if (err !== null) {
      if (err.code !== 'ECANCELED') this.forceClose(err);
      return;
    }
    this.flow.maybeResume();
    if (this.#queued === 0 && this.closing && !this.lost) this.#finishClose(null);
  }

  writeEof(): void {
    if (this.closing || this.eofWritten || !this.#writes) return;
    // A write-only pipe has nothing left to do once its EOF is out: asyncio
    // closes it (flushing first), so connectionLost(null) follows.
    if (!this.#reads) return this.close();
    this.eofWritten = true;
    // libuv shuts down once the queued writes are out.
    this.#stream.shutdown(() => {});
  }

  canWriteEof(): boolean {
    return this.#writes;
  }

  /** Stops reading, flushes queued writes, closes; connectionLost(null) follows. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.#reading) {
      this.#reading = false;
      this.#stream.readStop();
    }
    if (this.#queued === 0) this.#finishClose(null);
  }

  protected forceClose(err: Error | null): void {
    if (this.lost) return;
    this.closing = true;
    this.#reading = false;
    this.#finishClose(err);
  }

  #finishClose(err: Error | null): void {
    this.lost = true;
    this.lostError = err;
    const stream = this.#stream;
    // The close callback runs in a later loop callback: connectionLost is
    // always deferred, and runs exactly once.
    if (stream.closed) this.deliverLost(err);
    else stream.close(() => this.connectionLost(err));
  }

  isReading(): boolean {
    return this.#reading && !this.closing;
  }

  pauseReading(): void {
    if (!this.#started) {
      this.#pauseRequested = true;
      return;
    }
    if (this.closing || !this.#reading) return;
    this.#reading = false;
    this.#stream.readStop();
  }

  resumeReading(): void {
    if (!this.#started) {
      this.#pauseRequested = false;
      return;
    }
    // Not after EOF (a half-open transport whose protocol kept it open):
    // reading again would make libuv report EOF again.
    if (this.closing || this.#reading || !this.#reads || this.#eofSeen) return;
    this.#startReading();
  }

  protected override bufferedBytes(): number {
    return this.#stream.writeQueueSize;
  }
}
