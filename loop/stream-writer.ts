// StreamReaderProtocol and StreamWriter (asyncio.streams): the protocol
// feeds a StreamReader and tracks the transport's write pressure, and the
// writer wraps the transport with drain() and waitClosed().
import { UvError, errno } from '../handles/uv-error.js';
import type { AbstractEventLoop } from './events.js';
import type { Protocol } from './protocols.js';
import type { StreamReader } from './stream-reader.js';
import type { ExtraInfo, ExtraInfoValue, Transport } from './transports.js';

export type ClientConnectedCallback = (reader: StreamReader, writer: StreamWriter) => unknown;

function connectionLostError(): UvError {
  return new UvError(errno['ECONNRESET']!, 'write', '(connection lost)');
}

/**
 * Connects a transport to a StreamReader. With a callback (servers), it also
 * makes the StreamWriter and calls `cb(reader, writer)` on connection; a
 * callback that throws or rejects goes to the loop's exception handler and
 * closes the connection.
 */
export class StreamReaderProtocol implements Protocol {
  readonly #reader: StreamReader;
  readonly #loop: AbstractEventLoop;
  readonly #clientConnected: ClientConnectedCallback | undefined;
  #transport: Transport | null = null;
  #paused = false;
  #connectionLost = false;
  #lostError: Error | null = null;
  #drainWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #closed: Promise<void>;
  #settleClosed!: (err: Error | null) => void;

  constructor(reader: StreamReader, clientConnected: ClientConnectedCallback | undefined, loop: AbstractEventLoop) {
    this.#reader = reader;
    this.#clientConnected = clientConnected;
    this.#loop = loop;
    this.#closed = new Promise((resolve, reject) => {
      this.#settleClosed = (err) => (err === null ? resolve() : reject(err));
    });
    // Nobody may ever call waitClosed(): an error here is not unhandled.
    this.#closed.catch(() => {});
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    this.#reader.setTransport(transport);
    const cb = this.#clientConnected;
    if (cb === undefined) return;
    const writer = new StreamWriter(transport, this, this.#reader, this.#loop);
    const fail = (exception: unknown): void => {
      this.#loop.callExceptionHandler({ message: 'Unhandled exception in client_connected_cb', exception, transport, protocol: this });
      transport.close();
    };
    try {
      const result = cb(this.#reader, writer);
      if (result instanceof Promise) result.catch(fail);
    } catch (exception) {
      fail(exception);
    }
  }

  dataReceived(data: Buffer): void {
    this.#reader.feedData(data);
  }

  eofReceived(): boolean {
    this.#reader.feedEof();
    // Keep the transport open: the writer may still have something to say.
    return true;
  }

  connectionLost(err: Error | null): void {
    if (err === null) this.#reader.feedEof();
    else this.#reader.setException(err);
    this.#connectionLost = true;
    this.#lostError = err;
    this.#settleClosed(err);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) {
      if (err === null) w.resolve();
      else w.reject(err);
    }
  }

  pauseWriting(): void {
    this.#paused = true;
  }

  resumeWriting(): void {
    this.#paused = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** @internal Resolves once writing may go on; rejects if the connection is gone. */
  drainHelper(): Promise<void> {
    if (this.#connectionLost) return Promise.reject(this.#lostError ?? connectionLostError());
    if (!this.#paused) return Promise.resolve();
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /** @internal Settles when connectionLost ran (rejecting with its error). */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** @internal */
  get transport(): Transport | null {
    return this.#transport;
  }
}

/** The write half of a stream connection (asyncio.StreamWriter). */
export class StreamWriter {
  readonly #transport: Transport;
  readonly #protocol: StreamReaderProtocol;
  readonly #reader: StreamReader | null;
  readonly #loop: AbstractEventLoop;

  constructor(transport: Transport, protocol: StreamReaderProtocol, reader: StreamReader | null, loop: AbstractEventLoop) {
    this.#transport = transport;
    this.#protocol = protocol;
    this.#reader = reader;
    this.#loop = loop;
  }

  get transport(): Transport {
    return this.#transport;
  }

  write(data: Uint8Array | string): void {
    this.#transport.write(data);
  }

  writelines(list: Iterable<Uint8Array | string>): void {
    this.#transport.writelines(list);
  }

  writeEof(): void {
    this.#transport.writeEof();
  }

  canWriteEof(): boolean {
    return this.#transport.canWriteEof();
  }

  close(): void {
    this.#transport.close();
  }

  isClosing(): boolean {
    return this.#transport.isClosing();
  }

  /** Resolves once the connection is closed; rejects with the error that ended it. */
  waitClosed(): Promise<void> {
    return this.#protocol.closed;
  }

  getExtraInfo<K extends string, D = undefined>(name: K, dflt?: D): ExtraInfoValue<ExtraInfo, K, D> {
    return this.#transport.getExtraInfo(name, dflt);
  }

  /**
   * Waits until the transport's write buffer is back at its low-water mark
   * (at once if it never went above the high one). Rejects with the read
   * side's error, or when the connection was lost.
   */
  async drain(): Promise<void> {
    const failed = this.#reader?.exception();
    if (failed) throw failed;
    if (this.#transport.isClosing()) {
      // Let a pending connectionLost run first, so a lost connection is
      // reported rather than the write silently dropped.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await this.#protocol.drainHelper();
  }
}
