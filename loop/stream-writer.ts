// StreamReaderProtocol and StreamWriter (asyncio.streams): the protocol
// feeds a StreamReader and tracks the transport's write pressure, and the
// writer wraps the transport with drain() and waitClosed().
import { UsageError } from '../errors/usage-error.js';
import { type AbortOptions, signalOf, throwIfAborted } from './abort.js';
import { FlowControl } from './flow-control.js';
import type { AbstractEventLoop, TlsOptions } from './events.js';
import { loopClosed } from './errors.js';
import { kLoopClosed, type Protocol } from './protocols.js';
import type { StreamReader } from './stream-reader.js';
import type { ExtraInfo, ExtraInfoValue, Transport } from './transports.js';

export type ClientConnectedCallback = (reader: StreamReader, writer: StreamWriter) => unknown;

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
  readonly #flow = new FlowControl();
  #transport: Transport | null = null;

  constructor(
    reader: StreamReader,
    clientConnected: ClientConnectedCallback | undefined,
    loop: AbstractEventLoop,
  ) {
    this.#reader = reader;
    this.#clientConnected = clientConnected;
    this.#loop = loop;
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    this.#reader.setTransport(transport);
    const cb = this.#clientConnected;
    if (cb === undefined) return;
    const writer = new StreamWriter(transport, this, this.#reader);
    const fail = (exception: unknown): void => {
      // asyncio closes the connection of a cancelled handler task without
      // a report (streams.py: task.cancelled()); a cancellation here is an
      // abort: the callback ends with an AbortError (CancelledError, or
      // Node's and the DOM's of the same name).
      if ((exception as Error | null)?.name === 'AbortError') {
        transport.close();
        return;
      }
      this.#loop.callExceptionHandler({
        message: 'Unhandled exception in client_connected_cb',
        exception,
        transport,
        protocol: this,
      });
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
    this.#flow.connectionLost(err);
  }

  /**
   * @internal The transport went with its closed loop: pending reads,
   * drain() and waitClosed() reject with ERR_LOOP_CLOSED instead of hanging.
   */
  [kLoopClosed](): void {
    this.connectionLost(loopClosed());
  }

  pauseWriting(): void {
    this.#flow.pauseWriting();
  }

  resumeWriting(): void {
    this.#flow.resumeWriting();
  }

  /**
   * @internal StreamWriter.startTls: the connection upgraded in place
   * (loop.startTls with this protocol, the server's side for a server's
   * connection); reads and flow control go on over the new transport.
   */
  async upgradeTls(ssl: TlsOptions, opts: StartTlsOptions): Promise<Transport> {
    const transport = this.#transport;
    if (transport === null) {
      throw new UsageError('ERR_INVALID_STATE', 'The stream has no connection to upgrade');
    }
    let upgraded: Transport;
    try {
      upgraded = await this.#loop.startTls(transport, this, ssl, {
        ...opts,
        serverSide: this.#clientConnected !== undefined,
      });
    } catch (err) {
      // The connection closes under the TLS layer, which the raw
      // transport's events go to now: nothing would end the streams.
      transport.abort();
      this.connectionLost(err as Error);
      throw err;
    }
    this.#transport = upgraded;
    this.#reader.replaceTransport(upgraded);
    return upgraded;
  }

  /** @internal What the StreamWriter's drain() and waitClosed() wait on. */
  get flowControl(): FlowControl {
    return this.#flow;
  }

  /** @internal Settles when connectionLost ran (rejecting with its error). */
  get closed(): Promise<void> {
    return this.#flow.waitClosed();
  }

  /** @internal */
  get transport(): Transport | null {
    return this.#transport;
  }
}

/** StreamWriter.startTls's options (asyncio's server_hostname, ssl_handshake_timeout). */
export interface StartTlsOptions {
  /** The name the server's certificate must carry (client side); default: none checked by name. */
  serverHostname?: string;
  /** Seconds the handshake may take; default 60. */
  sslHandshakeTimeout?: number;
  /** Seconds a close waits for the peer's close_notify (asyncio's ssl_shutdown_timeout); default 30. */
  sslShutdownTimeout?: number;
  /** Cancels the handshake: startTls rejects with a CancelledError and the connection closes. */
  signal?: AbortSignal;
}

/** What a StreamWriter writes for: its flow control, and the TLS upgrade of a connection's. */
interface WriterProtocol {
  readonly flowControl: FlowControl;
  upgradeTls?(ssl: TlsOptions, opts: StartTlsOptions): Promise<Transport>;
}

/** The write half of a stream connection (asyncio.StreamWriter). */
export class StreamWriter {
  #transport: Transport;
  readonly #protocol: WriterProtocol;
  readonly #flow: FlowControl;
  readonly #reader: StreamReader | null;

  /**
   * @internal Made by openConnection, startServer and the subprocess
   * functions (asyncio also advises against making one by hand).
   */
  constructor(transport: Transport, protocol: WriterProtocol, reader: StreamReader | null) {
    this.#transport = transport;
    this.#protocol = protocol;
    this.#flow = protocol.flowControl;
    this.#reader = reader;
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

  /**
   * `await using writer`: close(), then waits until the connection is gone.
   * The connection's error, if it failed, is not thrown here: disposing
   * releases, and the reads and drain() have reported it.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed().catch(() => {});
  }

  isClosing(): boolean {
    return this.#transport.isClosing();
  }

  /**
   * asyncio's StreamWriter.start_tls: upgrades the connection to TLS in
   * place, once what is written is drained: the client's side of the
   * handshake for openConnection's streams, the server's for startServer's.
   * `reader` and this writer go on over the encrypted connection, and
   * `transport` is the new one. Bytes the reader had already received stay
   * readable before the decrypted ones. A failed handshake rejects, and the
   * connection is closed.
   */
  async startTls(ssl: TlsOptions, opts: StartTlsOptions = {}): Promise<void> {
    const upgrade = this.#protocol.upgradeTls;
    if (upgrade === undefined) {
      throw new UsageError('ERR_INVALID_STATE', "Only a connection's StreamWriter can start TLS");
    }
    await this.drain();
    this.#transport = await upgrade.call(this.#protocol, ssl, opts);
  }

  /**
   * Resolves once the connection is closed; rejects with the error that
   * ended it, or with an AbortError when `signal` aborts first.
   */
  async waitClosed(opts?: AbortOptions): Promise<void> {
    return this.#flow.waitClosed(signalOf(opts));
  }

  getExtraInfo<K extends string, D = undefined>(
    name: K,
    dflt?: D,
  ): ExtraInfoValue<ExtraInfo, K, D> {
    return this.#transport.getExtraInfo(name, dflt);
  }

  /**
   * Waits until the transport's write buffer is back at its low-water mark
   * (at once if it never went above the high one). Rejects with the read
   * side's error, when the connection was lost, or with an AbortError when
   * `signal` aborts first (the buffered data stays queued).
   */
  drain(opts?: AbortOptions): Promise<void> {
    // Not an async function: a drain with nothing to wait for returns
    // FlowControl's shared resolved promise, so `await writer.drain()`
    // costs one microtask and no allocation.
    try {
      const signal = signalOf(opts);
      throwIfAborted(signal);
      const failed = this.#reader?.exception();
      if (failed) throw failed;
      if (this.#transport.isClosing()) return this.#drainClosing(signal);
      return this.#flow.drain(signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #drainClosing(signal: AbortSignal | undefined): Promise<void> {
    // Let a pending connectionLost run first, so a lost connection is
    // reported rather than the write silently dropped (asyncio's sleep(0)
    // there). With nothing left to flush, the transport's close is under
    // way and connectionLost will come, but maybe later than one turn (Node
    // reports a socket closed in a later callback): wait for it.
    if (this.#transport.getWriteBufferSize() === 0) {
      try {
        await this.#flow.waitClosed(signal);
      } catch {
        // The error that ended the connection is drain()'s too (below).
        throwIfAborted(signal);
      }
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await this.#flow.drain(signal);
  }
}
