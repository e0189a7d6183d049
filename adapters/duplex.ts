// Node streams and asyncuv transports, both ways:
// - toDuplex(transport): a stream.Duplex over any asyncuv Transport, so
//   Node stream code (node:http, node:tls, pipeline()) runs over it;
// - fromDuplex(duplex, protocolFactory): any Protocol over any Node Duplex
//   (a tls.TLSSocket, an http upgrade socket...), with NodeTransport's
//   asyncio semantics.
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { BaseEventLoop, getRunningLoop } from '../loop/base-event-loop.js';
import { type AnyProtocol, kLoopClosed, newProtocol, type Protocol } from '../loop/protocols.js';
import type { Transport } from '../loop/transports.js';
import { NodeEventLoop } from './node-event-loop.js';
import { NodeTransport } from './node-transport.js';
import { tlsExtra } from './node-tls.js';
import { invalidArgType, validateBoolean } from '../errors/validate.js';
import { IdleTimeout, validateTimeoutCallback } from './idle-timeout.js';
import {
  type AddressInfo,
  addressInfo,
  setKeepAlive,
  setNoDelay,
  setRef,
} from './socket-options.js';

type WriteCallback = (err?: Error | null) => void;

/** The tls.TLSSocket getters a TLS stream answers from the TLSSocket that encrypts it. */
const tlsGetters = ['authorized', 'authorizationError', 'alpnProtocol', 'servername'] as const;
/** The tls.TLSSocket methods a TLS stream calls on the TLSSocket that encrypts it. */
const tlsMethods = [
  'getPeerCertificate',
  'getPeerX509Certificate',
  'getX509Certificate',
  'getCertificate',
  'getCipher',
  'getProtocol',
  'getSession',
  'getTLSTicket',
  'isSessionReused',
  'getEphemeralKeyInfo',
  'getFinished',
  'getPeerFinished',
  'getSharedSigalgs',
  'exportKeyingMaterial',
] as const;

/**
 * Over a TLS transport (one whose 'ssl_object' is the tls.TLSSocket doing
 * the encryption), the stream shows what a tls.TLSSocket shows, as the
 * socket node:https hands a request: `encrypted` (true), the getters and
 * the methods above, delegated to that TLSSocket. Frameworks read the
 * request's scheme from `socket.encrypted` (Express's req.secure and
 * req.protocol, Koa's ctx.protocol, hono's URL, restify's isSecure()), and
 * apps read the client's certificate with getPeerCertificate(). Only a TLS
 * stream has them, as only a TLSSocket has: code tells TLS apart by their
 * presence (typeof socket.getPeerCertificate === 'function'). They are
 * defined per TLS stream, so a plain TCP connection pays one table lookup.
 */
function exposeTls(duplex: Duplex, transport: Transport): void {
  const socket = transport.getExtraInfo('ssl_object');
  if (!(socket instanceof tls.TLSSocket)) return;
  const props: PropertyDescriptorMap = {
    encrypted: { value: true, enumerable: true, configurable: true, writable: true },
  };
  for (const name of tlsGetters) {
    props[name] = { get: () => socket[name], enumerable: true, configurable: true };
  }
  const methods = socket as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of tlsMethods) {
    if (typeof methods[name] !== 'function') continue; // not in this Node version
    props[name] = {
      value: (...args: unknown[]) => methods[name]!(...args),
      configurable: true,
      writable: true,
    };
  }
  Object.defineProperties(duplex, props);
}

/** The fields of Readable's state that push() reads and sets on its 'data' path. */
interface ReadableStateFlags {
  flowing: boolean | null;
  length: number;
  sync: boolean;
  ended: boolean;
  destroyed: boolean;
  errored: Error | null;
  decoder: unknown;
  reading: boolean;
  dataEmitted: boolean;
  multiAwaitDrain: boolean;
  awaitDrainWriters: Set<unknown> | object | null;
}

/**
 * A Duplex driven by a transport through a protocol it installs with
 * setProtocol(). Backpressure runs both ways: a write's callback is held
 * while the transport has paused writing (so Node's writableLength and
 * write()'s return value follow the transport's buffer), and push()
 * returning false pauses the transport's reading until _read().
 *
 * It offers what node:http, node:tls and HTTP clients use of a net.Socket,
 * with net.Socket's meaning (docs/adapters.md): setTimeout() and the
 * 'timeout' event, setNoDelay, setKeepAlive, ref/unref, address() and the
 * address properties, bytesRead/bytesWritten, destroySoon.
 */
class TransportDuplex extends Duplex {
  // Undefined while connecting (connectingDuplex()): the stream exists
  // before its transport, as a net.Socket exists before it connects.
  #transport: Transport | undefined;
  /** The last setTimeout() value (undefined before any call), as net.Socket's. */
  timeout: number | undefined;
  // The protocol that drives this stream: installed with setProtocol() on
  // a transport given at once, or made the connection's own protocol (its
  // connectionMade attaches the transport) by TransportDuplex.connecting().
  readonly #protocol: Protocol & { [kLoopClosed](): void };
  // While connecting: what waits for the transport (writes, end(), socket
  // options), in call order; each is run with null once connected, or
  // with the error when the stream is destroyed first.
  #waiting: Array<(err: Error | null) => void> = [];
  // Cancels the connection in progress (connectingDuplex()).
  #cancelConnect: (() => void) | undefined;
  #writePaused = false;
  #heldCallbacks: WriteCallback[] = [];
  #lost = false;
  #bytesRead = 0;
  #bytesDispatched = 0;
  // Bytes of writes whose callback is held (already dispatched, still in
  // Node's writableLength).
  #bytesHeld = 0;
  #keepAliveSec: number | undefined;
  // The write buffer when the idle timer last fired: a buffer that is still
  // draining is activity, as in net.Socket.
  #lastQueued = 0;
  // Made by the first setTimeout(): a connection that never sets one (a
  // request with Connection: close) pays for no timer and no closure.
  #idle: IdleTimeout | undefined;

  /**
   * The protocol that drives the stream: one object per stream whose
   * methods are shared (a class in the class body, so that it reaches the
   * private state), where an object of seven arrow functions cost seven
   * closures per connection.
   */
  static readonly #Protocol = class implements Protocol {
    readonly #duplex: TransportDuplex;
    constructor(duplex: TransportDuplex) {
      this.#duplex = duplex;
    }
    connectionMade(t: Transport): void {
      this.#duplex.#attach(t);
    }
    dataReceived(data: Buffer): void {
      const d = this.#duplex;
      d.#bytesRead += data.length;
      d.#idle?.touch();
      if (!d.#emitData(data) && !d.push(data)) d.#transport?.pauseReading();
    }
    eofReceived(): boolean {
      this.#duplex.push(null);
      return true;
    }
    pauseWriting(): void {
      this.#duplex.#writePaused = true;
    }
    resumeWriting(): void {
      const d = this.#duplex;
      d.#writePaused = false;
      d.#idle?.touch();
      d.#release(null);
    }
    connectionLost(err: Error | null): void {
      this.#duplex.#connectionLost(err);
    }
    // The transport's loop closed and took the transport with it: nothing
    // more will come, so the stream goes now (node:http, node:tls over it
    // release their state and timers).
    [kLoopClosed](): void {
      this.#duplex.#loopClosed();
    }
  };

  constructor(transport: Transport | undefined, allowHalfOpen: boolean) {
    // The transport's eofReceived always keeps it open for writing: whether
    // our side ends after the peer's EOF is the Duplex's allowHalfOpen
    // (false: Duplex calls end() once 'end' is emitted, which flushes what
    // was written and sends our EOF; the transport then closes).
    super({ allowHalfOpen });
    this.#protocol = new TransportDuplex.#Protocol(this);
    if (transport !== undefined) {
      this.#transport = transport;
      exposeTls(this, transport);
      transport.setProtocol(this.#protocol);
      if (transport.isClosing()) queueMicrotask(() => this.#connectionLost(null));
    }
  }

  /** The transport (undefined while connecting). */
  get transport(): Transport | undefined {
    return this.#transport;
  }

  /**
   * The connection is made: what waited for it runs, then 'connect' and
   * 'ready', as a net.Socket emits them. A stream destroyed while it
   * connected closes the transport at once instead.
   */
  #attach(transport: Transport): void {
    if (this.#transport !== undefined) return;
    this.#cancelConnect = undefined;
    if (this.destroyed) {
      transport.abort();
      return;
    }
    this.#transport = transport;
    exposeTls(this, transport);
    if (transport.getProtocol() !== this.#protocol) transport.setProtocol(this.#protocol);
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const run of waiting) run(null);
    this.emit('connect');
    this.emit('ready');
  }

  /**
   * A stream whose transport `connect(protocolFactory, signal)` makes (see
   * connectingDuplex()): the connection's protocol is the stream's own, and
   * destroying the stream first aborts `signal`.
   */
  static connecting(
    connect: (
      protocolFactory: () => Protocol,
      signal: AbortSignal,
    ) => Promise<[Transport, unknown]>,
    allowHalfOpen: boolean,
  ): TransportDuplex {
    const duplex = new TransportDuplex(undefined, allowHalfOpen);
    const cancel = new AbortController();
    duplex.#cancelConnect = () => cancel.abort();
    connect(() => duplex.#protocol, cancel.signal).then(
      ([transport]) => duplex.#attach(transport),
      (err: Error) => {
        // A cancelled connection was the stream's own destroy().
        if (!duplex.destroyed) duplex.destroy(err);
      },
    );
    return duplex;
  }

  /** Runs `op` once connected (now, if connected); `failed` gets the error if destroyed first. */
  #whenConnected(op: () => void, failed?: (err: Error) => void): void {
    if (this.#transport !== undefined) op();
    else this.#waiting.push((err) => (err === null ? op() : failed?.(err)));
  }

  /**
   * push()'s own path for a flowing stream with nothing buffered: Readable
   * emits 'data' at once then too, but also schedules a read(0) (a
   * nextTick, then _read()) to ask for more, which a transport that keeps
   * reading until pauseReading() does not need. Anything else (paused,
   * buffered, ended, a decoder from setEncoding(), no 'data' listener)
   * takes push().
   */
  #emitData(data: Buffer): boolean {
    const rs = (this as unknown as { _readableState: ReadableStateFlags })._readableState;
    if (rs.flowing !== true || rs.length !== 0 || rs.sync || rs.ended || rs.destroyed) return false;
    if (rs.errored !== null || rs.decoder !== null || this.listenerCount('data') === 0)
      return false;
    // What push() sets on its way to the same emit.
    rs.reading = false;
    rs.dataEmitted = true;
    if (rs.multiAwaitDrain) (rs.awaitDrainWriters as Set<unknown>).clear();
    else rs.awaitDrainWriters = null;
    this.emit('data', data);
    return true;
  }

  /**
   * Settles the write callbacks held while writing was paused. The error is
   * built only when one waits: every connection ends through here, and an
   * Error's stack costs more than the rest of this (a function, not an
   * Error, for the closing paths).
   */
  #release(err: Error | null | (() => Error)): void {
    const held = this.#heldCallbacks;
    if (held.length === 0) return;
    this.#heldCallbacks = [];
    this.#bytesHeld = 0;
    const error = typeof err === 'function' ? err() : err;
    for (const cb of held) cb(error);
  }

  #onIdle(): void {
    const queued = this.#lost ? 0 : (this.#transport?.getWriteBufferSize() ?? 0);
    if (queued > 0 && queued !== this.#lastQueued) {
      this.#lastQueued = queued;
      this.#idle?.touch();
      return;
    }
    this.#lastQueued = queued;
    this.emit('timeout');
  }

  #connectionLost(err: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#idle?.clear();
    if (err !== null) {
      this.#release(err);
      this.destroy(err);
      return;
    }
    this.#release(transportClosed);
    // Destroyed already (node:http destroys a socket once its last
    // response is written): nothing is left to end.
    if (this.destroyed) return;
    // The readable side ends normally (buffered data is still read); the
    // duplex is destroyed once that end has been consumed.
    if (this.readableEnded) this.destroy();
    else {
      this.once('end', () => this.destroy());
      this.push(null);
    }
  }

  #loopClosed(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#idle?.clear();
    const gone = Object.assign(new Error('The transport closed with its event loop'), {
      code: 'ERR_STREAM_DESTROYED',
    });
    this.#release(gone);
    this.destroy();
  }

  override _read(): void {
    if (!this.#lost) this.#transport?.resumeReading();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: WriteCallback): void {
    this.#send(chunk, chunk.length, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: WriteCallback): void {
    // node:http ends a response with an empty write after the one holding
    // its header and body: empty chunks are dropped, so that a single one
    // left is written as it is (no array, no join into a new buffer).
    const parts: Buffer[] = [];
    let bytes = 0;
    for (const { chunk } of chunks) {
      if (chunk.length === 0) continue;
      parts.push(chunk);
      bytes += chunk.length;
    }
    this.#send(parts.length === 1 ? parts[0]! : parts, bytes, cb);
  }

  #send(data: Buffer | Buffer[], bytes: number, cb: WriteCallback): void {
    if (this.#lost) return cb(transportClosed());
    const transport = this.#transport;
    // Written while connecting: the callback waits for the connection, so
    // the writes after it stay in the Writable's buffer meanwhile.
    if (transport === undefined) return this.#whenConnected(() => this.#send(data, bytes, cb), cb);
    try {
      if (Array.isArray(data)) transport.writelines(data);
      else transport.write(data);
    } catch (err) {
      return cb(err as Error);
    }
    this.#dispatched(bytes, cb);
  }

  #dispatched(bytes: number, cb: WriteCallback): void {
    this.#bytesDispatched += bytes;
    this.#idle?.touch();
    if (this.#writePaused) {
      this.#bytesHeld += bytes;
      this.#heldCallbacks.push(cb);
    } else cb();
  }

  override _final(cb: WriteCallback): void {
    const transport = this.#transport;
    if (transport === undefined && !this.#lost)
      return this.#whenConnected(() => this._final(cb), cb);
    if (transport !== undefined && !this.#lost) {
      if (transport.canWriteEof()) transport.writeEof();
      else transport.close();
    }
    cb();
  }

  /**
   * destroy() aborts the transport (buffered data dropped). Node's own
   * auto-destroy, once both sides ended cleanly, closes it instead, so
   * that what was written before end() is still flushed.
   */
  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#idle?.clear();
    const why = err ?? streamDestroyed;
    this.#release(why);
    const transport = this.#transport;
    if (transport === undefined) {
      // Destroyed while connecting: the connection is cancelled (one that
      // completes anyway is closed by #attach()), and what waited fails.
      const waiting = this.#waiting;
      this.#waiting = [];
      const error = typeof why === 'function' ? why() : why;
      for (const fail of waiting) fail(error);
      const cancel = this.#cancelConnect;
      this.#cancelConnect = undefined;
      cancel?.();
    } else if (!this.#lost && !transport.isClosing()) {
      if (err === null && this.writableFinished) transport.close();
      else transport.abort();
    }
    cb(err);
  }

  // --- net.Socket's API, as node:http, node:tls and HTTP clients use it ---

  /**
   * Emits 'timeout' after `msecs` without reading or writing (0: never);
   * `callback` becomes a 'timeout' listener (removed by setTimeout(0, cb)).
   * Like net.Socket, nothing closes on a timeout: the listener decides.
   */
  setTimeout(msecs: number, callback?: () => void): this {
    validateTimeoutCallback(callback);
    this.#idle ??= new IdleTimeout(() => this.#onIdle());
    this.#idle.set(msecs);
    if (this.destroyed) this.#idle.clear();
    this.timeout = msecs;
    if (callback !== undefined) {
      if (msecs === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    return this;
  }

  // Socket options given while connecting apply once connected, as net.Socket's.

  /** TCP_NODELAY on the transport's socket (asyncuv's TCP transports start with it on). */
  setNoDelay(noDelay = true): this {
    this.#whenConnected(() => {
      if (!this.#lost) setNoDelay(this.#transport!, Boolean(noDelay));
    });
    return this;
  }

  /** SO_KEEPALIVE on the transport's socket; the delay is in ms, rounded down to seconds (net). */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#whenConnected(() => {
      if (this.#lost) return;
      const delayMs = Number(initialDelay) || 0;
      const previous = this.#keepAliveSec;
      this.#keepAliveSec = setKeepAlive(this.#transport!, Boolean(enable), delayMs, previous);
    });
    return this;
  }

  /** The transport's socket keeps the process alive (the default). */
  ref(): this {
    this.#whenConnected(() => {
      if (!this.#lost) setRef(this.#transport!, true);
    });
    return this;
  }

  /** The transport's socket no longer keeps the process alive. */
  unref(): this {
    this.#whenConnected(() => {
      if (!this.#lost) setRef(this.#transport!, false);
    });
    return this;
  }

  /** Ends the writing side, then destroys once the written bytes are flushed (as net.Socket). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** The local address, as net.Socket#address() ({} for a Unix socket or a pipe). */
  address(): AddressInfo {
    return addressInfo(this.#transport?.getExtraInfo('sockname'));
  }

  get remoteAddress(): string | undefined {
    return addressInfo(this.#transport?.getExtraInfo('peername')).address;
  }

  get remotePort(): number | undefined {
    return addressInfo(this.#transport?.getExtraInfo('peername')).port;
  }

  get remoteFamily(): string | undefined {
    return addressInfo(this.#transport?.getExtraInfo('peername')).family;
  }

  get localAddress(): string | undefined {
    return this.address().address;
  }

  get localPort(): number | undefined {
    return this.address().port;
  }

  get localFamily(): string | undefined {
    return this.address().family;
  }

  /** Bytes received so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Bytes written so far, including those still buffered in this stream (as net.Socket). */
  get bytesWritten(): number {
    return this.#bytesDispatched + this.writableLength - this.#bytesHeld;
  }

  /**
   * net.Socket's deprecated bufferSize, which older stream code still reads
   * for backpressure: writableLength, and undefined once destroyed (as a
   * net.Socket's, whose handle is gone then).
   */
  get bufferSize(): number | undefined {
    return this.destroyed ? undefined : this.writableLength;
  }

  /** True while the connection is being made (connectingDuplex()), as net.Socket's. */
  get connecting(): boolean {
    return this.#transport === undefined && !this.destroyed;
  }

  /** True while connecting (net.Socket's: no connected socket yet). */
  get pending(): boolean {
    return this.connecting;
  }

  /** net.Socket's readyState: 'opening', 'open', 'readOnly', 'writeOnly' or 'closed'. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }
}

function transportClosed(): Error {
  return Object.assign(new Error('The transport is closed'), { code: 'ERR_STREAM_DESTROYED' });
}

function streamDestroyed(): Error {
  return Object.assign(new Error('The stream was destroyed'), { code: 'ERR_STREAM_DESTROYED' });
}

/** Options of {@link toDuplex}. */
export interface ToDuplexOptions {
  /**
   * As `net.Socket`'s, and false by default as there: the stream ends its
   * own side (after flushing what was written) once the peer's EOF has been
   * read, and the transport then closes. `true` leaves the writing side
   * open until `end()`, for protocols that answer after the peer's EOF.
   */
  allowHalfOpen?: boolean;
}

/** A stream.Duplex over `transport`, which from now on drives it (see TransportDuplex). */
export function toDuplex(transport: Transport, opts: ToDuplexOptions = {}): Duplex {
  if (typeof opts !== 'object' || opts === null) throw invalidArgType('opts', 'an object', opts);
  const allowHalfOpen = opts.allowHalfOpen ?? false;
  validateBoolean(allowHalfOpen, 'opts.allowHalfOpen');
  return new TransportDuplex(transport, allowHalfOpen);
}

let defaultLoop: NodeEventLoop | undefined;

/** The stream methods a NodeTransport calls: anything else is refused before a transport exists. */
const duplexMethods = ['on', 'once', 'pause', 'resume', 'write', 'end', 'destroy'] as const;

function validateDuplex(duplex: unknown): asserts duplex is Duplex {
  const d = duplex as Record<string, unknown> | null;
  if (
    typeof d !== 'object' ||
    d === null ||
    duplexMethods.some((m) => typeof d[m] !== 'function')
  ) {
    throw invalidArgType('duplex', 'a Duplex stream', duplex);
  }
}

/**
 * Runs a Protocol over any Node Duplex. The transport's callbacks go
 * through `opts.loop` (default: the running loop, else a shared
 * NodeEventLoop); connectionMade runs soon, not inside this call.
 */
export function fromDuplex<P extends AnyProtocol>(
  duplex: Duplex,
  protocolFactory: () => P,
  opts: { loop?: BaseEventLoop } = {},
): [Transport, P] {
  validateDuplex(duplex);
  const running = getRunningLoop();
  const loop =
    opts.loop ??
    (running instanceof BaseEventLoop ? running : undefined) ??
    (defaultLoop ??= new NodeEventLoop());
  const protocol = newProtocol(protocolFactory);
  const extra: Record<string, unknown> = { socket: duplex };
  const s = duplex as Partial<{
    remoteAddress: string;
    remotePort: number;
    localAddress: string;
    localPort: number;
  }>;
  if (s.remoteAddress !== undefined) extra['peername'] = [s.remoteAddress, s.remotePort];
  if (s.localAddress !== undefined) extra['sockname'] = [s.localAddress, s.localPort];
  if (duplex instanceof tls.TLSSocket) Object.assign(extra, tlsExtra(duplex));
  const transport = new NodeTransport({ loop, stream: duplex, protocol, extra });
  return [transport, protocol];
}

/**
 * A Duplex that connects, as `net.createConnection()` returns a socket
 * before it is connected: `connect(protocolFactory, signal)` makes the
 * connection (a loop's createConnection or createUnixConnection) with the
 * stream's own protocol. Until then the stream is `connecting`, holds what
 * is written (and end()), and applies socket options once connected; then
 * it emits 'connect' and 'ready'. A failed connection destroys it with the
 * error ('error', then 'close'); destroying it cancels the connection
 * through `signal`.
 */
export function connectingDuplex(
  connect: (protocolFactory: () => Protocol, signal: AbortSignal) => Promise<[Transport, unknown]>,
  opts: ToDuplexOptions = {},
): Duplex {
  const allowHalfOpen = opts.allowHalfOpen ?? false;
  validateBoolean(allowHalfOpen, 'opts.allowHalfOpen');
  return TransportDuplex.connecting(connect, allowHalfOpen);
}
