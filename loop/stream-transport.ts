// The stream transport: a Transport over a handles/ Stream (TCP or Pipe),
// with asyncio's semantics (selector_events._SelectorSocketTransport). What
// every transport shares is in transport-base.ts; this is the mechanics:
// reads started and stopped on the handle, writes tried at once and queued
// by libuv, EOF by shutdown, close through the handle's close callback.
import { closeSync } from 'node:fs';
import { UsageError } from '../errors/usage-error.js';
import { binding } from '../handles/binding.js';
import { Pipe } from '../handles/pipe.js';
import { Poll, pollOwnsFd } from '../handles/poll.js';
import type { Stream } from '../handles/stream.js';
import { TCP } from '../handles/tcp.js';
import { UvError } from '../handles/uv-error.js';
import { abortable, throwIfAborted } from './abort.js';
import {
  type AnyProtocol,
  type BufferedProtocol,
  type Protocol,
  isBufferedProtocol,
} from './protocols.js';
import { closedDuring, type SendfileRequest } from './sendfile.js';
import { claimSock } from './server-sock.js';
import { type TransportOptions, WriteTransportBase } from './transport-base.js';
import type { Transport } from './transports.js';

export { DEFAULT_HIGH_WATER } from './write-flow.js';

// native/fs_wrap.cc: sendfile(2) now, on this thread; bytes sent or a
// negative code (EAGAIN: the socket is full). Linux only.
const trySendfile = (binding['fs'] as { trySendfile?: TrySendfile }).trySendfile;
type TrySendfile = (outFd: number, inFd: number, offset: number, length: number) => number;

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
  // sendfile's zero-copy path is writing the socket: write() is refused
  // meanwhile, as asyncio refuses it, since its bytes would land in the
  // middle of the file's.
  #sendingFile = false;
  #flushed: (() => void) | undefined; // sendfile waits for the queue to empty
  // sendfile waits for its socket to take more: a close must end that
  // wait, since the socket's duplicate keeps it open for a peer that may
  // never read again.
  #wakeSendfile: (() => void) | undefined;
  readonly #onQueuedDone = (err: UvError | null): void => this.#writeDone(err);
  readonly #onRead = (err: UvError | null, data: Buffer | null): void => this.#read(err, data);
  readonly #onReadInto = (err: UvError | null, n: number): void => this.#readInto(err, n);

  /** Calls protocol.connectionMade soon, then starts reading; `ready` is called after it. */
  constructor(opts: StreamTransportOptions) {
    super(opts);
    this.#stream = opts.stream;
    claimSock(opts.stream);
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

  // Reads arrive in the async context the read started in: the
  // transport's, also when the caller's resumeReading() restarts it.
  readonly #startReading = (): void => {
    this.#reading = true;
    const protocol = this.protocol;
    if (isBufferedProtocol(protocol)) {
      const buffer = this.bufferFrom(protocol, -1);
      if (buffer === undefined) return;
      this.#stream.readStartInto(buffer, this.#onReadInto);
    } else {
      this.#stream.readStart(this.#onRead);
    }
  };

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
    // Switched to another protocol meanwhile: setProtocol chose its reads.
    if (this.closing || !this.#reading || this.protocol !== protocol) return;
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
    if (this.#sendingFile) {
      throw new UsageError('ERR_INVALID_STATE', 'Unable to write: sendfile is in progress');
    }
    let done: boolean;
    try {
      done = this.#stream.writeNow(data, this.#onQueuedDone, this.context);
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
    } else {
      this.flow.maybeResume();
    }
    if (this.#queued !== 0) return;
    this.#flushed?.();
    if (err === null && this.closing && !this.lost) this.#finishClose(null);
  }

  writeEof(): void {
    if (this.closing || this.eofWritten || !this.#writes) return;
    // A write-only pipe has nothing left to do once its EOF is out: asyncio
    // closes it (flushing first), so connectionLost(null) follows.
    if (!this.#reads) return this.close();
    this.eofWritten = true;
    // libuv shuts down once the queued writes are out; nothing waits for it
    // (a failure shows as a read or write error, as in asyncio).
    this.#stream.shutdown();
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
    this.#wakeSendfile?.();
    this.lost = true;
    this.lostError = err;
    const stream = this.#stream;
    // The close callback runs in a later loop callback: connectionLost is
    // always deferred, and runs exactly once.
    if (stream.closed) this.deliverLost(err);
    else stream.close(() => this.connectionLost(err));
  }

  /**
   * asyncio's set_protocol on a socket transport switches between
   * get_buffer() and data_received() reads (selector_events): a read
   * started for the other kind of protocol restarts for this one (libuv
   * switches the mode of a stream that reads), so no byte goes to a
   * method the new protocol lacks.
   */
  override setProtocol(protocol: AnyProtocol): void {
    const wasBuffered = isBufferedProtocol(this.protocol);
    super.setProtocol(protocol);
    if (this.#reading && !this.closing && isBufferedProtocol(protocol) !== wasBuffered) {
      this.inContext(this.#startReading);
    }
  }

  override usesFd(fd: number): boolean {
    if (this.closing || this.#stream.closed) return false;
    try {
      return this.#stream.fileno() === fd;
    } catch {
      return false; // no fd (EBADF): not one yet
    }
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
    this.inContext(this.#startReading);
  }

  protected override bufferedBytes(): number {
    return this.#stream.writeQueueSize;
  }

  /** @internal Whether loop.sendfile can hand this transport's socket to the kernel. */
  canSendfile(): boolean {
    const stream = this.#stream;
    // An IPC pipe frames what it carries: the kernel's bytes would not fit.
    const socket = stream instanceof TCP || (stream instanceof Pipe && !stream.ipc);
    return trySendfile !== undefined && this.#writes && socket;
  }

  /**
   * @internal loop.sendfile's zero-copy path (asyncio's _sendfile_native):
   * once the queued writes are out, the kernel copies the file to the
   * socket (sendfile(2), native/fs_wrap.cc), with reading paused and
   * write() refused meanwhile. A full socket answers EAGAIN, and a Poll on
   * a duplicate of its fd (libuv watches an fd once per loop; the stream
   * has the original) waits until it takes more. `size` is the file's.
   */
  async sendfile(request: SendfileRequest, size: number): Promise<number> {
    const send = trySendfile!;
    const { fd, offset, signal } = request;
    const end = request.count === null ? size : Math.min(size, offset + request.count);
    // write() is refused from the call on (asyncio's empty waiter): a write
    // made while the queued ones flush would land among the file's bytes.
    this.#sendingFile = true;
    let poll: Poll | undefined;
    let wasReading = false;
    try {
      await this.#waitFlushed(signal);
      throwIfAborted(signal);
      if (this.closing) throw closedDuring(null);
      const socket = (this.#stream as TCP | Pipe).dupFileno();
      try {
        poll = new Poll(this.#stream.loop, socket);
        pollOwnsFd(poll); // closes the duplicate, also if a worker's teardown ends this
      } catch (err) {
        poll?.close();
        poll = undefined;
        closeSync(socket);
        throw err;
      }
      wasReading = this.isReading();
      this.pauseReading();
      let sent = 0;
      while (offset + sent < end) {
        const n = send(socket, fd, offset + sent, end - offset - sent);
        if (n === 0) break; // the file got shorter
        if (n > 0) {
          sent += n;
        } else {
          const err = new UvError(n, 'sendfile');
          if (err.code !== 'EAGAIN') throw this.#sendFailed(err);
        }
        // Less than asked: the socket is full. Waiting for it also lets
        // the loop's other work run between the socket's fills.
        if (offset + sent < end) await this.#writable(poll, signal);
        if (this.closing) throw closedDuring(null);
      }
      return sent;
    } finally {
      this.#sendingFile = false;
      poll?.close(); // and the duplicate with it
      if (wasReading) this.resumeReading();
    }
  }

  /**
   * A write error of the file's bytes is the transport's, as any write
   * error; one of the file's own (EBADF, EINVAL for a file sendfile cannot
   * read) is the caller's alone.
   */
  #sendFailed(err: UvError): UvError {
    if (kSocketErrors.has(err.code)) this.forceClose(err);
    return err;
  }

  /**
   * Resolves once `poll`'s fd is writable (or failed: the next sendfile
   * says how) or the transport closes; rejects on abort.
   */
  #writable(poll: Poll, signal: AbortSignal | undefined): Promise<void> {
    const done = (): void => {
      this.#wakeSendfile = undefined;
      if (!poll.closed) poll.stop();
    };
    return abortable<void>(
      signal,
      (resolve) => {
        this.#wakeSendfile = () => {
          done();
          resolve();
        };
        poll.start({ writable: true }, this.#wakeSendfile);
      },
      done,
    );
  }

  /** Resolves once libuv holds no queued write; rejects if the transport closes, or on abort. */
  #waitFlushed(signal: AbortSignal | undefined): Promise<void> {
    if (this.#queued === 0) return Promise.resolve();
    return abortable<void>(
      signal,
      (resolve, reject) => {
        this.#flushed = () => {
          this.#flushed = undefined;
          if (this.closing) reject(closedDuring(null));
          else resolve();
        };
      },
      () => (this.#flushed = undefined),
    );
  }
}

const kSocketErrors = new Set(['EPIPE', 'ECONNRESET', 'ENOTCONN', 'ETIMEDOUT', 'EHOSTUNREACH']);
