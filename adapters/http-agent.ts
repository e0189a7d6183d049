// HTTP clients whose connections live on an asyncuv event loop (either
// loop): the client side of serveHttp.
// - LoopAgent: an http.Agent; LoopHttpsAgent: an https.Agent, node:tls
//   over the loop's connection;
// - loopConnector(loop): one connect function for the clients that take
//   one: node:http's and the ws client's `createConnection`, undici's
//   `Agent({ connect })`.
// Each connection is a stream that exists at once and connects, as
// net.createConnection()'s socket does (connectingDuplex): node:http's
// Agent counts it against maxSockets, arms its timeout and destroys it
// (agent.destroy(), req.destroy()) while it connects, as with net.
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType, toPort, validateInteger, validateString } from '../errors/validate.js';
import { BaseEventLoop } from '../loop/base-event-loop.js';
import type { AbstractEventLoop } from '../loop/events.js';
import { connectingDuplex } from './duplex.js';

/**
 * What the clients pass to a connect function: node:http's request
 * options (`http.ClientRequestArgs`, with https's TLS options) or
 * undici's connector options (`hostname`, `host` as 'name:port',
 * `protocol`, `port` as a string, `servername`, `localAddress`,
 * `socketPath`, `httpSocket`).
 */
export interface LoopConnectOptions {
  host?: string | null | undefined;
  hostname?: string | null | undefined;
  port?: number | string | null | undefined;
  /** 'https:' or 'wss:' makes a TLS connection. */
  protocol?: string | null | undefined;
  servername?: string | null | undefined;
  localAddress?: string | null | undefined;
  /** The local port to bind (net.connect's `localPort`), from localAddress or the any-address. */
  localPort?: number | null | undefined;
  family?: number | undefined;
  /** A Unix socket to connect to, in place of host and port. */
  socketPath?: string | null | undefined;
  /** net.createConnection()'s: the socket's idle timeout, in ms. */
  timeout?: number | undefined;
  noDelay?: boolean | undefined;
  keepAlive?: boolean | undefined;
  keepAliveInitialDelay?: number | undefined;
  /** https.request's: its default agent's protocol ('https:') makes a TLS connection. */
  _defaultAgent?: { protocol?: string } | undefined;
  /** undici's: a connection (a proxy's tunnel) to run TLS over, in place of connecting. */
  httpSocket?: Duplex | undefined;
}

/**
 * node:http's `oncreate` callback: the socket once connected, or the
 * error. With an error the socket is `null`, though the type says `Duplex`:
 * node:http's `createConnection` option types its callback so, and a
 * connector whose callback took `Duplex | null` would not be assignable to
 * it (node:http itself only reads the socket when there is no error).
 */
export type LoopConnectCallback = (err: Error | null, socket: Duplex) => void;

/**
 * A connect function for node:http's `createConnection` option (http.request,
 * https.request, the ws client) and undici's `Agent({ connect })`. It
 * returns the socket at once, connecting (as net.createConnection() and
 * tls.connect() do), and calls `callback` once it is connected (TLS: once
 * the handshake is done) or with the error.
 */
export interface LoopConnector {
  (options: http.ClientRequestArgs, oncreate?: LoopConnectCallback): Duplex;
  // undici's connector: its callback is typed for net.Socket | TLSSocket. A
  // plain TCP connection is toDuplex's stream, with net.Socket's API
  // (docs/adapters.md), not a net.Socket instance.
  (
    options: UndiciConnectOptions,
    callback: (...args: [null, Socket] | [Error, null]) => void,
  ): Duplex;
}

/** undici's connector options (buildConnector.Options), as undici passes them. */
export interface UndiciConnectOptions {
  hostname: string;
  host?: string;
  protocol: string;
  port: string;
  servername?: string;
  localAddress?: string | null;
  socketPath?: string | null;
  httpSocket?: Socket;
}

/** loopConnector's options: node:tls options for its TLS connections, and the session cache. */
export interface LoopConnectorOptions extends tls.ConnectionOptions {
  /** TLS sessions kept for resumption, one per host (default 100, as https.Agent; 0: none). */
  maxCachedSessions?: number;
}

/** ERR_INVALID_ARG_TYPE unless `loop` is one of asyncuv's event loops. */
function checkLoop(loop: unknown): asserts loop is AbstractEventLoop {
  if (!(loop instanceof BaseEventLoop)) {
    throw invalidArgType('loop', 'an event loop (UvEventLoop or NodeEventLoop)', loop);
  }
}

function checkOptions(options: unknown, name: string): void {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidArgType(name, 'an object', options);
  }
}

/** The host to connect to: undici's `hostname` (its `host` has the port), else `host`. */
function hostOf(options: LoopConnectOptions): string {
  const host = options.hostname ?? options.host ?? 'localhost';
  validateString(host, 'options.host');
  // '[::1]' as a URL writes it.
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Whether the caller asks for TLS: undici's / a URL's protocol, or https.request's default agent. */
function isSecure(options: LoopConnectOptions): boolean {
  const protocol = options.protocol ?? options._defaultAgent?.protocol;
  return protocol === 'https:' || protocol === 'wss:';
}

/**
 * The connection, on `loop`: a Unix socket for `socketPath`, else TCP to
 * host and port (from localAddress, of `family` when 4 or 6). Argument
 * errors throw now, as net.createConnection's do; a failed connection
 * destroys the stream with the loop's UvError (ECONNREFUSED...).
 * `idleTimeout`: net.createConnection's `timeout` (not for TLS, where
 * tls.connect arms it on the TLS socket).
 */
function connectOn(
  loop: AbstractEventLoop,
  options: LoopConnectOptions,
  secure: boolean,
  idleTimeout: boolean,
): Duplex {
  checkOptions(options, 'options');
  let socket: Duplex;
  if (options.socketPath !== undefined && options.socketPath !== null) {
    const path = options.socketPath;
    validateString(path, 'options.socketPath');
    socket = connectingDuplex((factory, signal) =>
      loop.createUnixConnection(factory, path, { signal }),
    );
  } else {
    const host = hostOf(options);
    const portGiven = options.port ?? '';
    const port = toPort(portGiven === '' ? (secure ? 443 : 80) : portGiven, 'options.port');
    const { localAddress, localPort, family } = options;
    if (localAddress !== undefined && localAddress !== null) {
      validateString(localAddress, 'options.localAddress');
    }
    // net.connect's: 0 or absent leaves the port to the kernel.
    const bindPort = localPort ? toPort(localPort, 'options.localPort') : 0;
    if (family !== undefined && family !== 0 && family !== 4 && family !== 6) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'options.family must be 4, 6 or 0');
    }
    const localAddr = localAddrOf(localAddress, bindPort, family, host);
    socket = connectingDuplex((factory, signal) =>
      loop.createConnection(factory, host, port, {
        signal,
        ...(localAddr === undefined ? {} : { localAddr }),
        ...(family === 4 || family === 6 ? { family } : {}),
      }),
    );
  }
  const s = socket as Duplex & Pick<Socket, 'setTimeout' | 'setNoDelay' | 'setKeepAlive'>;
  return settingUp(socket, () => {
    if (idleTimeout && options.timeout) s.setTimeout(options.timeout);
    if (typeof options.noDelay === 'boolean') s.setNoDelay(options.noDelay);
    if (options.keepAlive) s.setKeepAlive(true, options.keepAliveInitialDelay ?? 0);
    return socket;
  });
}

/**
 * The address to bind before connecting: `localAddress` (any port, as
 * net.connect's), or with a `localPort` alone the any-address of the
 * family the connection will have: `family`'s, else the host's when it is
 * an IP, else IPv4's (net.connect picks it after the lookup, which the
 * loop does later: a host name to reach over IPv6 needs `family: 6`).
 */
function localAddrOf(
  localAddress: string | null | undefined,
  port: number,
  family: number | undefined,
  host: string,
): [string, number] | undefined {
  if (localAddress) return [localAddress, port];
  if (port === 0) return undefined;
  const v6 = family === 6 || (family !== 4 && isIP(host) === 6);
  return [v6 ? '::' : '0.0.0.0', port];
}

/**
 * `setUp()`'s result; if it throws (a bad option found once the connection
 * was started), `connecting` is destroyed first, without an error to emit
 * (nobody listens yet), so that the connection does not go on unowned.
 */
function settingUp<T>(connecting: Duplex, setUp: () => T): T {
  try {
    return setUp();
  } catch (err) {
    connecting.destroy();
    throw err;
  }
}

/** TLS sessions by connection key, the oldest dropped first beyond `max` (https.Agent's cache). */
class SessionCache {
  readonly #sessions = new Map<string, Buffer>();
  constructor(readonly max: number) {}

  get(key: string): Buffer | undefined {
    return this.#sessions.get(key);
  }

  set(key: string, session: Buffer): void {
    if (this.max <= 0) return;
    this.#sessions.delete(key);
    this.#sessions.set(key, session);
    if (this.#sessions.size > this.max) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
  }

  delete(key: string): void {
    this.#sessions.delete(key);
  }
}

/**
 * node:tls over `socket` (a loop's stream, connecting): `options` are
 * tls.connect's (https.Agent passes the request's options with its own),
 * `servername` defaults as https.Agent's (the host, unless an IP). The
 * session of the last connection under `key` is offered for resumption
 * and replaced by the new one; a connection that fails drops it.
 */
function tlsOver(
  socket: Duplex,
  options: tls.ConnectionOptions & { host?: string | null | undefined },
  host: string,
  sessions: SessionCache,
  key: string,
): tls.TLSSocket {
  const servername = options.servername ?? (isIP(host) ? '' : host);
  const session = options.session ?? sessions.get(key);
  const secure = tls.connect({
    ...options,
    host,
    servername,
    ...(session === undefined ? {} : { session }),
    socket,
  });
  // A TLSSocket over a Duplex proxies ref()/unref(), setKeepAlive() and
  // setNoDelay() to a handle it does not have: they reach the loop's
  // stream here, so that a free keep-alive socket (which the Agent unrefs,
  // with SO_KEEPALIVE) lets the process exit and is probed, as with
  // https.Agent. A stream without them (a user Duplex) is left alone.
  type Options = Pick<Socket, 'ref' | 'unref' | 'setKeepAlive' | 'setNoDelay'>;
  const stream = socket as Duplex & Partial<Options>;
  const { ref, unref, setKeepAlive, setNoDelay } = secure;
  secure.ref = function (this: tls.TLSSocket) {
    stream.ref?.();
    return ref.call(this);
  };
  secure.unref = function (this: tls.TLSSocket) {
    stream.unref?.();
    return unref.call(this);
  };
  secure.setKeepAlive = function (this: tls.TLSSocket, enable?: boolean, initialDelay?: number) {
    stream.setKeepAlive?.(enable, initialDelay);
    return setKeepAlive.call(this, enable, initialDelay);
  };
  secure.setNoDelay = function (this: tls.TLSSocket, noDelay?: boolean) {
    stream.setNoDelay?.(noDelay);
    return setNoDelay.call(this, noDelay);
  };
  // The loop's errors (ECONNREFUSED, ECONNRESET...) are the TLS socket's:
  // node:tls would only see its stream close. And the TLS socket's end is
  // its stream's: destroyed while connecting, node:tls leaves the stream
  // to connect on.
  socket.on('error', (err: Error) => secure.destroy(err));
  secure.once('close', () => {
    if (!socket.destroyed) socket.destroy();
  });
  secure.on('session', (s: Buffer) => sessions.set(key, s));
  secure.once('close', (hadError: boolean) => {
    if (hadError) sessions.delete(key);
  });
  return secure;
}

/**
 * An `http.Agent` whose connections are made on `loop` (UvEventLoop or
 * NodeEventLoop): TCP to the request's host and port (localAddress and
 * family honoured), or a Unix socket for `socketPath`. The rest is
 * http.Agent's own: keep-alive, maxSockets and its queue, maxFreeSockets,
 * `timeout`, `destroy()`.
 */
export class LoopAgent extends http.Agent {
  /** The event loop the connections live on. */
  readonly loop: AbstractEventLoop;

  constructor(loop: AbstractEventLoop, options?: http.AgentOptions) {
    checkLoop(loop);
    checkOptions(options, 'options');
    super(options);
    this.loop = loop;
  }

  /**
   * The connection for a request, connecting (as net.createConnection's):
   * node:http waits for it; a failed connection reaches the request's
   * 'error' as the loop's UvError.
   */
  override createConnection(
    options: http.ClientRequestArgs,
    _callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex {
    return connectOn(this.loop, options as LoopConnectOptions, false, true);
  }
}

/**
 * An `https.Agent` whose connections are made on `loop`, with node:tls
 * over them: the response's socket is a `tls.TLSSocket` (`authorized`,
 * `getPeerCertificate()`, `alpnProtocol`); https.Agent's options (ca,
 * rejectUnauthorized, servername, ALPNProtocols, maxCachedSessions...) and
 * its keep-alive, maxSockets, timeout and destroy() as with https.Agent.
 * TLS sessions are resumed per host, as https.Agent does.
 */
export class LoopHttpsAgent extends https.Agent {
  /** The event loop the connections live on. */
  readonly loop: AbstractEventLoop;
  readonly #sessions: SessionCache;

  constructor(loop: AbstractEventLoop, options?: https.AgentOptions) {
    checkLoop(loop);
    checkOptions(options, 'options');
    const maxCachedSessions = options?.maxCachedSessions ?? 100;
    validateInteger(maxCachedSessions, 'options.maxCachedSessions');
    super(options);
    this.loop = loop;
    this.#sessions = new SessionCache(maxCachedSessions);
  }

  /** The TLS socket for a request, over the loop's connection (as https.Agent's tls.connect()). */
  override createConnection(
    options: http.ClientRequestArgs,
    _callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex {
    const given = options as LoopConnectOptions & tls.ConnectionOptions;
    const socket = connectOn(this.loop, given, true, false);
    return settingUp(socket, () =>
      tlsOver(socket, given, hostOf(given), this.#sessions, this.getName(options)),
    );
  }
}

/**
 * A connect function whose connections are made on `loop`, for the clients
 * that take one: `http.request({ createConnection })` (and https.request),
 * the ws client (`new WebSocket(url, { createConnection })`), undici's
 * `new Agent({ connect })`. A TLS connection when the caller asks for one
 * (undici's and URLs' protocol 'https:' or 'wss:', https.request), with
 * `options`' node:tls options under the caller's own.
 */
export function loopConnector(
  loop: AbstractEventLoop,
  options: LoopConnectorOptions = {},
): LoopConnector {
  checkLoop(loop);
  checkOptions(options, 'options');
  const { maxCachedSessions = 100, ...tlsDefaults } = options;
  validateInteger(maxCachedSessions, 'options.maxCachedSessions');
  const sessions = new SessionCache(maxCachedSessions);
  // The session cache's key is https.Agent's connection name: host, port
  // and every TLS option that changes the connection (ca, cert, key, pfx,
  // rejectUnauthorized, servername, ciphers...), so that a session made
  // under one client identity or trust is never offered under another.
  const naming = new https.Agent({ maxCachedSessions: 0 });
  // Both callers' callbacks in one: undici's takes null for the socket of an error.
  type Callback = (err: Error | null, socket: Duplex | null) => void;
  const connect = (given: LoopConnectOptions, callback?: Callback): Duplex => {
    if (typeof given !== 'object' || given === null) {
      throw invalidArgType('options', 'an object', given);
    }
    if (callback !== undefined && typeof callback !== 'function') {
      throw invalidArgType('callback', 'a function', callback);
    }
    const secure = isSecure(given);
    let socket: Duplex;
    if (secure) {
      const host = hostOf(given);
      const merged = { ...tlsDefaults, ...(given as tls.ConnectionOptions) };
      const tunnel = given.httpSocket;
      const key = naming.getName({ ...merged, host, port: given.port || 443 });
      if (tunnel !== undefined) socket = tlsOver(tunnel, merged, host, sessions, key);
      else {
        const under = connectOn(loop, given, true, false);
        socket = settingUp(under, () => tlsOver(under, merged, host, sessions, key));
      }
    } else socket = connectOn(loop, given, false, true);
    if (callback !== undefined) {
      const ready = secure ? 'secureConnect' : 'connect';
      const onReady = (): void => {
        socket.removeListener('error', onError);
        callback(null, socket);
      };
      const onError = (err: Error): void => {
        socket.removeListener(ready, onReady);
        callback(err, null);
      };
      socket.once(ready, onReady);
      socket.once('error', onError);
    }
    return socket;
  };
  return connect as LoopConnector;
}
