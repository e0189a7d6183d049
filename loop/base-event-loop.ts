// The event loop's algorithms, written once for every loop (CPython's
// base_events.py): argument checks, host resolution, trying each address,
// the rules of servers with several hosts, datagram endpoints,
// subprocesses, signal and fd watches, the exception handler. A concrete
// loop supplies only mechanics: connecting, listening, binding, spawning,
// watching a signal, and the transports over what it made (UvEventLoop on
// asyncuv's libuv loop, NodeEventLoop on Node's modules). `S` is the
// concrete loop's connected stream socket.
import { captureContext } from '../handles/async-context.js';
import { rmSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { constants as os } from 'node:os';
import { UsageError } from '../errors/usage-error.js';
import {
  invalidArgType,
  toSignalNumber,
  toPort,
  validateFunction,
  validateInteger,
  validateString,
} from '../errors/validate.js';
import type { Handle } from '../handles/handle.js';
import type { Loop } from '../handles/loop.js';
import type { Pipe } from '../handles/pipe.js';
import { validateSpawnTarget } from '../handles/process.js';
import type { SocketAddress, TCP } from '../handles/tcp.js';
import type { UDP } from '../handles/udp.js';
import { errno, UvError } from '../handles/uv-error.js';
import { currentLoop, EventLoopCore } from './event-loop-core.js';
import type {
  AbstractEventLoop,
  AcceptedSocketOptions,
  AddrInfo,
  Callback,
  ConnectionOptions,
  DatagramOptions,
  ExceptionContext,
  ExceptionHandler,
  ResourceKind,
  Server,
  ServerAddress,
  ServerOptions,
  SubprocessOptions,
  StartTlsLoopOptions,
  TlsOptions,
  UnixConnectionOptions,
  UnixServerAddress,
  UnixServerOptions,
} from './events.js';
import { attemptOrder, checkAttemptOptions, connectFirst } from './connect-attempts.js';
import { FdWatchers } from './fd-watchers.js';
import {
  type Address,
  type AnyProtocol,
  type DatagramProtocol,
  newProtocol,
  type SubprocessProtocol,
} from './protocols.js';
import {
  ANY_HOSTS,
  type ResolvedAddress,
  resolverError,
  resolveWith,
  type SockType,
} from './resolve.js';
import {
  type AddrInfoQuery,
  backlogOf,
  checkServerFlags,
  checkUnixServerFlags,
  checkHandshakeTimeout,
  checkTlsOptions,
  checkTlsTimeout,
  type ConnectOptions,
  type DatagramPlan,
  type ServeRequest,
  serveRequest,
  type SpawnPlan,
  type StdioPlan,
  stdioSpec,
  type TlsRequest,
  type UpgradeTlsOptions,
} from './loop-plans.js';
import { type Listener, StreamServer } from './server.js';
import {
  checkNoAddressWithSock,
  connectedSock,
  datagramSock,
  unixServerSockPath,
} from './server-sock.js';
import {
  regularFileSize,
  type SendfileFile,
  type SendfileOptions,
  SendfileNotAvailableError,
  type SendfileRequest,
  sendfileFallback,
  sendfileRequest,
} from './sendfile.js';
import { abortError, type AbortOptions, throwIfAborted } from './abort.js';
import * as sockOps from './sock-ops.js';
import type { SockData, SockHost } from './sock-ops.js';
import { WriteTransportBase } from './transport-base.js';
import {
  checkSocketPath,
  datagramPair,
  emptyHost,
  localFor,
  serverFamily,
  validateAddress,
  withLocalFamily,
} from './address-rules.js';
import { checkBytesOnly, checkPipeFd, spawnPlan } from './spawn-checks.js';
import { keepReplacedSocketFile, keepSocketFile } from './unix-socket-file.js';
import type {
  DatagramTransport,
  ReadTransport,
  SubprocessTransport,
  Transport,
  WriteTransport,
} from './transports.js';

/** The loop whose runForever/runUntilComplete is in progress, if any. */
export function getRunningLoop(): AbstractEventLoop | undefined {
  const loop = currentLoop();
  return loop instanceof BaseEventLoop ? loop : undefined;
}

/** What createConnection and createUnixConnection share, beside their `sock`. */
type ClientOptions = Omit<ConnectionOptions, 'sock'>;

const kUncatchable = new Set([os.signals.SIGKILL, os.signals.SIGSTOP]);

export type {
  AddrInfoQuery,
  ConnectOptions,
  DatagramPlan,
  ServeRequest,
  SpawnPlan,
  StdioPlan,
  TlsRequest,
  UpgradeTlsOptions,
} from './loop-plans.js';
export { passedFdsStdio } from './loop-plans.js';

/**
 * TLS over a Unix socket checks the certificate against serverHostname,
 * which must be given: a path names no host to take it from (asyncio's
 * create_unix_connection: "you have to pass server_hostname when using
 * ssl"). Without it node:tls would check the name 'localhost', which
 * nobody asked for.
 */
function checkUnixServerHostname(opts: { ssl?: unknown; serverHostname?: string }): void {
  if (opts.ssl && opts.serverHostname === undefined) {
    const why = 'With ssl over a Unix socket, serverHostname must be given: a path names no host';
    throw new UsageError('ERR_INVALID_ARG_VALUE', why);
  }
}

export abstract class BaseEventLoop<S = unknown>
  extends EventLoopCore
  implements AbstractEventLoop
{
  #exceptionHandler: ExceptionHandler | null = null;
  // Each signal's handler, by number: what removes it.
  readonly #signals = new Map<number, () => void>();
  // Made on first use: a loop that never watches an fd never touches a Poll.
  #fdWatchers: FdWatchers | undefined;
  // Transports a sendfile is writing to.
  readonly #sending = new WeakSet<object>();

  // --- mechanics: what a concrete loop supplies ---------------------------

  /** Looks up a host name (never an IP literal). */
  protected abstract lookupHost(host: string, socktype: SockType): Promise<ResolvedAddress[]>;
  /** getaddrinfo: one entry per address (and socket type, where the resolver says). */
  protected abstract lookupAddrInfo(
    /** null: the loopback addresses (with AI_PASSIVE in flags: the wildcard ones). */
    host: string | null,
    port: number | null,
    query: AddrInfoQuery,
  ): Promise<AddrInfo[]>;
  /** getnameinfo: [host, service]. */
  protected abstract lookupName(addr: string, port: number): Promise<[string, string]>;
  /**
   * Connects a TCP socket (bound to `localAddr` first, if given); rejects
   * with the failure (a UvError) or, on abort, a CancelledError, and
   * leaves nothing open then. `protocol` is the one the connection is for.
   */
  protected abstract connectTcp(
    address: string,
    port: number,
    opts: ConnectOptions,
    protocol: AnyProtocol,
  ): Promise<S>;
  /** Connects a Unix socket, as connectTcp. */
  protected abstract connectUnix(
    path: string,
    opts: ConnectOptions,
    protocol: AnyProtocol,
  ): Promise<S>;
  /**
   * The connection over a connected TCP handle or Unix socket given as
   * `sock` (createConnection, createUnixConnection, connectAcceptedSocket),
   * checked already (connectedSock, checkSock); from then on the
   * connection owns it.
   */
  protected abstract adoptStream(sock: TCP | Pipe): S;
  /**
   * Throws a UsageError for a `sock` handle this loop cannot take, before
   * anything is done with it (UvEventLoop: one of another Loop).
   */
  protected checkSock(_sock: Handle): void {}
  /** Closes a connected socket that will not get a transport. */
  protected abstract discard(sock: S): void;
  /** The transport of a connection it made (over TLS with `tls`), once connectionMade ran. */
  protected abstract startConnection<P extends AnyProtocol>(
    sock: S,
    protocol: P,
    tls: TlsRequest | undefined,
  ): Promise<[Transport, P]>;
  /**
   * A listener bound to `address` and `port` (port 0: any free one). Each
   * connection it accepts goes to `serve`, from start() on.
   */
  protected abstract listenTcp(
    address: string,
    port: number,
    opts: { ipv6Only: boolean; reusePort: boolean; backlog: number },
    serve: (sock: S) => void,
  ): Promise<Listener<SocketAddress>>;
  /**
   * A listener on a TCP handle bound already (createServer's `sock`); host
   * null, port 0. From then on the server owns the handle and closes it,
   * unless this throws a UsageError (then it stays the caller's).
   */
  protected abstract listenOn(
    sock: TCP,
    host: unknown,
    port: number,
    backlog: number,
    serve: (sock: S) => void,
  ): Listener<SocketAddress> | Promise<Listener<SocketAddress>>;
  /** A listener on a Unix socket path. */
  protected abstract listenUnix(
    path: string,
    backlog: number,
    serve: (sock: S) => void,
  ): Promise<Listener<UnixServerAddress>>;
  /**
   * A listener on a bound Unix socket (createUnixServer's `sock`, checked
   * already: bound to `path`): the server owns and closes it from then on,
   * and its socket file goes as the handle's own close() would take it.
   */
  protected abstract listenUnixOn(
    sock: Pipe,
    path: string,
    backlog: number,
    serve: (sock: S) => void,
  ): Promise<Listener<UnixServerAddress>>;
  /**
   * An accepted connection: its protocol from the factory (a factory that
   * throws is reported and the connection dropped), over TLS when the
   * server has it, then its transport, attached to the server.
   */
  protected abstract serveAccepted(sock: S, request: ServeRequest): void;
  /**
   * Throws if this loop cannot do TLS now (before anything is opened); for
   * a server, also if its `ssl` cannot make a secure context (a bad key or
   * certificate), as tls.createServer does.
   */
  protected checkTls(_serverSsl?: TlsOptions): void {}
  /** Throws for ServerOptions this loop cannot honour. */
  protected checkServerOptions(_opts: ServerOptions): void {}
  /** startTls's upgrade of an established transport. */
  protected abstract upgradeTls(
    transport: Transport,
    protocol: AnyProtocol,
    ssl: TlsOptions,
    opts: UpgradeTlsOptions,
  ): Promise<Transport>;
  /** A datagram endpoint as planned; its protocol from the factory once the socket is bound. */
  protected abstract openDatagram<P extends DatagramProtocol>(
    protocolFactory: () => P,
    plan: DatagramPlan,
  ): Promise<[DatagramTransport, P]>;
  /**
   * A datagram endpoint over a bound UDP handle (createDatagramEndpoint's
   * `sock`, checked already), which it owns from now on, also when the
   * protocol factory throws; `remote` is the peer of a connected one.
   */
  protected abstract openDatagramOn<P extends DatagramProtocol>(
    protocolFactory: () => P,
    sock: UDP,
    remote: Address | undefined,
  ): Promise<[DatagramTransport, P]>;
  /** A transport over `fd`, which it owns from now on: it reads (`reads`) or writes it. */
  protected abstract openPipe<P extends AnyProtocol>(
    protocolFactory: () => P,
    fd: number,
    reads: boolean,
  ): Promise<[Transport, P]>;
  /** Spawns `file` with `args` (checked); resolves once the transport's connectionMade ran. */
  protected abstract spawnSubprocess<P extends SubprocessProtocol>(
    protocol: P,
    file: string,
    args: string[],
    stdio: StdioPlan,
    plan: SpawnPlan,
  ): Promise<[SubprocessTransport, P]>;
  /** Calls `fire` whenever `signum` arrives (a catchable signal); returns what stops it. */
  protected abstract watchSignal(signum: number, fire: () => void): () => void;
  /** The libuv loop the fd watchers' Polls run on, and sendfile's file reads. */
  protected abstract fdLoop(): Loop;
  /**
   * sendfile's zero-copy path for `transport`, if the loop has one: sends
   * the request's bytes of a regular file of `size` bytes.
   */
  protected sendfileNative(
    transport: Transport,
  ): ((request: SendfileRequest, size: number) => Promise<number>) | undefined {
    void transport;
    return undefined;
  }

  // --- the exception handler --------------------------------------------------

  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null) validateFunction(handler, 'handler');
    this.#exceptionHandler = handler;
  }

  getExceptionHandler(): ExceptionHandler | null {
    return this.#exceptionHandler;
  }

  defaultExceptionHandler(context: ExceptionContext): void {
    checkContext(context);
    const { message, exception, ...rest } = context;
    const lines = [message || 'Unhandled exception in event loop'];
    for (const [key, value] of Object.entries(rest)) {
      if (value !== undefined) lines.push(`${key}: ${describe(value)}`);
    }
    if (exception !== undefined) {
      const stack = exception instanceof Error ? exception.stack : undefined;
      lines.push(stack ?? String(exception));
    }
    console.error(lines.join('\n'));
  }

  callExceptionHandler(context: ExceptionContext): void {
    checkContext(context);
    const handler = this.#exceptionHandler;
    if (handler === null) {
      this.#callDefault(context, false);
      return;
    }
    try {
      handler(this, context);
    } catch (exception) {
      const message = 'Unhandled error in exception handler';
      this.#callDefault({ message, exception, context }, true);
    }
  }

  /**
   * defaultExceptionHandler (a subclass's or an instance's own may throw):
   * what it throws is logged and goes no further, as asyncio's
   * call_exception_handler does ("Exception in default exception
   * handler"), so a broken handler cannot end the callback batch that
   * reported the error and stall the callbacks queued behind it.
   */
  #callDefault(context: ExceptionContext, custom: boolean): void {
    try {
      this.defaultExceptionHandler(context);
    } catch (exception) {
      const message =
        'Exception in default exception handler' +
        (custom ? ' while handling an unexpected error in custom exception handler' : '');
      console.error(message, exception);
    }
  }

  // --- names --------------------------------------------------------------------

  /** `host`'s addresses, each once: the IP literal itself, or what the resolver finds. */
  protected resolveHost(host: string, socktype: SockType = 'stream'): Promise<ResolvedAddress[]> {
    if (host === '') return Promise.reject(emptyHost());
    return resolveWith((h, t) => this.lookupHost(h, t), host, socktype);
  }

  async getaddrinfo(
    host: string | null,
    port: number | null,
    opts: { family?: number; type?: number; proto?: number; flags?: number } = {},
  ): Promise<AddrInfo[]> {
    this.checkClosed();
    if (host !== null) validateString(host, 'host');
    if (host === '') throw emptyHost();
    // asyncio (getaddrinfo(3)): no host and no port names nothing.
    if (host === null && port === null) {
      throw new UvError(errno['EAI_NONAME']!, 'getaddrinfo');
    }
    const { family = 0 } = opts;
    if (typeof family !== 'number') throw invalidArgType('family', 'a number', family);
    // asyncio takes any AF_* and getaddrinfo fails with EAI_FAMILY for one
    // it does not know; here the families are 4 and 6 (0: either), and
    // another number (socket.AF_INET's 2 included) is refused, not
    // answered as if it were 0.
    if (family !== 0 && family !== 4 && family !== 6) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', `family must be 0, 4 or 6. Received ${family}`);
    }
    try {
      return await this.lookupAddrInfo(host, port, { ...opts, family });
    } catch (err) {
      throw resolverError(err, host ?? '');
    }
  }

  async getnameinfo(addr: string, port: number): Promise<[string, string]> {
    this.checkClosed();
    validateString(addr, 'addr');
    validateInteger(port, 'port', 0, 65535);
    // libuv refuses a name here before any lookup; node:dns with a TypeError.
    if (isIP(addr) === 0) {
      const why = `The "address" argument must be a numeric IP address. Received ${addr}`;
      throw new UsageError('ERR_INVALID_ARG_VALUE', why);
    }
    return this.lookupName(addr, port);
  }

  // --- stream connections ----------------------------------------------------

  async createConnection<P extends AnyProtocol>(
    protocolFactory: () => P,
    host: string | null | undefined,
    port: number | string | null | undefined,
    opts: ConnectionOptions = {},
  ): Promise<[Transport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    if (opts.sock !== undefined) {
      const { sock, localAddr } = opts;
      checkNoAddressWithSock({ host, port, localAddr }, 'createConnection');
      this.#checkConnectionOptions(opts);
      // asyncio: "You must set server_hostname when using ssl without a host".
      if (opts.ssl && opts.serverHostname === undefined) {
        const why =
          'With sock and ssl, serverHostname must be given: there is no host to take it from';
        throw new UsageError('ERR_INVALID_ARG_VALUE', why);
      }
      this.#checkConnectedSock(sock, 'tcp');
      throwIfAborted(opts.signal); // the sock stays the caller's
      return this.#abortableStart(
        this.#adopt(protocolFactory, sock, this.#clientTls(opts, opts.serverHostname)),
        opts.signal,
      );
    }
    validateString(host, 'host');
    const tcpPort = toPort(port, 'port');
    this.#checkConnectionOptions(opts);
    checkAttemptOptions(opts);
    const remotes = attemptOrder(await this.resolveHost(host), opts, host);
    const localHost = opts.localAddr?.[0];
    const locals =
      localHost === undefined
        ? undefined
        : serverFamily(await this.resolveHost(localHost), opts.family, localHost);
    const addresses = locals === undefined ? remotes : withLocalFamily(remotes, locals, localHost!);
    // Closed while resolving: a closed loop drops the callbacks it is given
    // (connectionMade, and with it this promise), so fail now instead.
    this.checkClosed();
    const protocol = newProtocol(protocolFactory);
    const { signal } = opts;
    // A close() during the connect fails it with ERR_LOOP_CLOSED, as every
    // start in flight, whatever the connect reports after it (a connect to
    // the loop's own server is reset when close() closes that server).
    const sock = await this.closedWins(
      connectFirst<S>(addresses, opts, host, {
        connect: (target, mine) => {
          // An attempt stops on the caller's abort and on losing the race.
          const either = mine && signal ? AbortSignal.any([signal, mine]) : (mine ?? signal);
          const attempt = either === undefined ? opts : { ...opts, signal: either };
          const bound =
            locals === undefined
              ? attempt
              : { ...attempt, localAddr: localFor(locals, target, opts.localAddr![1]) };
          return this.connectTcp(target.address, tcpPort, bound, protocol);
        },
        discard: (late) => this.discard(late),
        after: (seconds, cb) => {
          const timer = this.callLater(seconds, cb);
          return () => timer.cancel();
        },
        stopped: () => signal?.aborted === true || this.isClosed(),
      }),
    );
    return this.#start(sock, protocol, opts, opts.serverHostname ?? host);
  }

  async createUnixConnection<P extends AnyProtocol>(
    protocolFactory: () => P,
    path: string | null | undefined,
    opts: UnixConnectionOptions = {},
  ): Promise<[Transport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    if (opts.sock !== undefined) {
      const { sock, localAddr } = opts;
      checkNoAddressWithSock({ path, localAddr }, 'createUnixConnection');
      this.#checkConnectionOptions(opts);
      checkUnixServerHostname(opts);
      this.#checkConnectedSock(sock, 'unix');
      throwIfAborted(opts.signal); // the sock stays the caller's
      return this.#abortableStart(
        this.#adopt(protocolFactory, sock, this.#clientTls(opts, opts.serverHostname)),
        opts.signal,
      );
    }
    validateString(path, 'path');
    checkSocketPath(path, 'connect');
    this.#checkConnectionOptions(opts);
    checkUnixServerHostname(opts);
    const protocol = newProtocol(protocolFactory);
    const sock = await this.closedWins(this.connectUnix(path, opts, protocol));
    return this.#start(sock, protocol, opts, opts.serverHostname);
  }

  async connectAcceptedSocket<P extends AnyProtocol>(
    protocolFactory: () => P,
    sock: TCP | Pipe,
    opts: AcceptedSocketOptions = {},
  ): Promise<[Transport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    checkTlsOptions(opts, 'server');
    if (opts.ssl) this.checkTls(opts.ssl);
    this.#checkConnectedSock(sock, 'either');
    const tls: TlsRequest | undefined = opts.ssl
      ? {
          ssl: opts.ssl,
          handshakeTimeout: opts.sslHandshakeTimeout,
          shutdownTimeout: opts.sslShutdownTimeout,
          serverSide: true,
        }
      : undefined;
    return this.#adopt(protocolFactory, sock, tls);
  }

  /** A connected `sock` of the kind asked for that this loop can take; else a UsageError. */
  #checkConnectedSock(sock: unknown, kind: 'tcp' | 'unix' | 'either'): asserts sock is TCP | Pipe {
    connectedSock(sock, kind);
    this.checkSock(sock);
  }

  /**
   * The transport over a `sock` checked already: the connection owns the
   * handle from here on, and closes it if the protocol factory throws or
   * the TLS handshake fails.
   */
  #adopt<P extends AnyProtocol>(
    protocolFactory: () => P,
    sock: TCP | Pipe,
    tls: TlsRequest | undefined,
  ): Promise<[Transport, P]> {
    const connection = this.adoptStream(sock);
    let protocol: P;
    try {
      protocol = newProtocol(protocolFactory);
    } catch (err) {
      this.discard(connection);
      throw err;
    }
    return this.startConnection(connection, protocol, tls);
  }

  /** The client side of TLS for a connection, when opts.ssl asks for it. */
  #clientTls(opts: ClientOptions, serverHostname: string | undefined): TlsRequest | undefined {
    if (!opts.ssl) return undefined;
    return {
      ssl: opts.ssl,
      serverHostname,
      handshakeTimeout: opts.sslHandshakeTimeout,
      shutdownTimeout: opts.sslShutdownTimeout,
      signal: opts.signal,
    };
  }

  #checkConnectionOptions(opts: ClientOptions): void {
    if (opts.localAddr !== undefined) validateAddress(opts.localAddr, 'localAddr');
    checkTlsOptions(opts, 'client');
    const { signal } = opts;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new UsageError('ERR_INVALID_ARG_TYPE', 'The "signal" option must be an AbortSignal');
    }
    if (opts.ssl) this.checkTls();
  }

  /** The transport of a connected socket; a loop closed while connecting fails the call. */
  #start<P extends AnyProtocol>(
    sock: S,
    protocol: P,
    opts: ClientOptions,
    serverHostname: string | undefined,
  ): Promise<[Transport, P]> {
    // Closed while connecting: connectionMade would be dropped (see createConnection).
    if (this.isClosed()) this.discard(sock);
    this.checkClosed();
    const start = this.startConnection(sock, protocol, this.#clientTls(opts, serverHostname));
    return this.#abortableStart(start, opts.signal);
  }

  /**
   * A connection's start, which the caller's signal still aborts: asyncio
   * closes the transport when create_connection is cancelled while it
   * waits for connection_made (uvloop: test_create_connection_sock_cancel_
   * detaches). connectionMade has run by then, so the protocol sees
   * connectionLost(null) after it; the call rejects with the AbortError.
   */
  async #abortableStart<P extends AnyProtocol>(
    start: Promise<[Transport, P]>,
    signal: AbortSignal | undefined,
  ): Promise<[Transport, P]> {
    const started = await start;
    if (signal?.aborted) {
      started[0].abort();
      throw abortError(signal);
    }
    return started;
  }

  async startTls(
    transport: Transport,
    protocol: AnyProtocol,
    ssl: TlsOptions,
    opts: StartTlsLoopOptions = {},
  ): Promise<Transport> {
    this.checkClosed();
    // asyncio's start_tls refuses what is not a transport or an SSLContext
    // with a TypeError; here a typed error, before anything is wrapped.
    const t = transport as Partial<Transport> | null;
    if (typeof t?.getExtraInfo !== 'function' || typeof t.setProtocol !== 'function') {
      throw invalidArgType('transport', 'a Transport', transport);
    }
    // Nothing to upgrade: the handshake could only fail, later and less clearly.
    if (transport.isClosing()) {
      throw new UsageError('ERR_TRANSPORT_CLOSED', 'The transport is closing or closed');
    }
    if (typeof protocol !== 'object' || protocol === null) {
      throw invalidArgType('protocol', 'a Protocol object', protocol);
    }
    if (typeof ssl !== 'object' || ssl === null) {
      throw invalidArgType('ssl', 'an object of node:tls options', ssl);
    }
    if (opts.serverHostname !== undefined) validateString(opts.serverHostname, 'serverHostname');
    checkHandshakeTimeout(opts.sslHandshakeTimeout);
    checkTlsTimeout(opts.sslShutdownTimeout, 'sslShutdownTimeout');
    const { signal } = opts;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new UsageError('ERR_INVALID_ARG_TYPE', 'The "signal" option must be an AbortSignal');
    }
    this.checkTls();
    return this.upgradeTls(transport, protocol, ssl, {
      serverSide: opts.serverSide === true,
      serverHostname: opts.serverHostname,
      handshakeTimeout: opts.sslHandshakeTimeout,
      shutdownTimeout: opts.sslShutdownTimeout,
      signal,
    });
  }

  // --- sendfile -----------------------------------------------------------------

  async sendfile(
    transport: Transport,
    file: SendfileFile,
    offset = 0,
    count: number | null = null,
    opts?: SendfileOptions,
  ): Promise<number> {
    this.checkClosed();
    const request = sendfileRequest(transport, file, offset, count, opts);
    // Two at once would interleave their bytes, and stand in for each
    // other's protocol.
    if (this.#sending.has(transport)) {
      throw new UsageError('ERR_INVALID_STATE', 'A sendfile on this transport is in progress');
    }
    this.#sending.add(transport);
    try {
      const native = this.sendfileNative(transport);
      // The file's size, null for no regular file; looked up once: at the
      // call when the zero-copy path may take it (it refuses write() from
      // then on), else only once the fallback is allowed.
      const size = native === undefined ? undefined : regularFileSize(request.fd);
      if (native !== undefined && size !== null) return await native(request, size!);
      if (opts?.fallback === false) {
        throw new SendfileNotAvailableError(
          native === undefined
            ? 'This loop has no zero-copy sendfile for this transport'
            : 'Only a regular file goes through the zero-copy sendfile',
        );
      }
      // A transport of ours knows whether it paused its protocol; of any
      // other, assume not (waiting for a resumeWriting that never comes
      // would hang, writing into a paused one only fills its buffer).
      const paused = transport instanceof WriteTransportBase && transport.writingPaused;
      const seekable = (size === undefined ? regularFileSize(request.fd) : size) !== null;
      return await sendfileFallback(this.fdLoop(), transport, request, paused, seekable);
    } finally {
      this.#sending.delete(transport);
    }
  }

  // --- sockets used directly (asyncio's sock_* methods: sock-ops.ts) ------------

  #sockHostMade: SockHost | undefined;

  /** What the sock operations need of this loop. */
  #sockHost(): SockHost {
    return (this.#sockHostMade ??= {
      checkSock: (sock) => this.checkSock(sock),
      resolve: (host, socktype) => this.resolveHost(host, socktype),
      hold: (resource) => this.hold(resource),
      checkClosed: () => this.checkClosed(),
    });
  }

  sockRecv(sock: TCP | Pipe, nbytes: number, opts?: AbortOptions): Promise<Buffer> {
    return sockOps.sockRecv(this.#sockHost(), sock, nbytes, opts);
  }

  sockRecvInto(sock: TCP | Pipe, buf: Uint8Array, opts?: AbortOptions): Promise<number> {
    return sockOps.sockRecvInto(this.#sockHost(), sock, buf, opts);
  }

  sockRecvfrom(sock: UDP, bufsize: number, opts?: AbortOptions): Promise<[Buffer, Address]> {
    return sockOps.sockRecvfrom(this.#sockHost(), sock, bufsize, opts);
  }

  sockRecvfromInto(
    sock: UDP,
    buf: Uint8Array,
    nbytes = 0,
    opts?: AbortOptions,
  ): Promise<[number, Address]> {
    return sockOps.sockRecvfromInto(this.#sockHost(), sock, buf, nbytes, opts);
  }

  sockSendall(sock: TCP | Pipe, data: SockData, opts?: AbortOptions): Promise<void> {
    return sockOps.sockSendall(this.#sockHost(), sock, data, opts);
  }

  sockSendto(sock: UDP, data: SockData, address: Address, opts?: AbortOptions): Promise<number> {
    return sockOps.sockSendto(this.#sockHost(), sock, data, address, opts);
  }

  sockConnect(sock: TCP, address: Address, opts?: AbortOptions): Promise<void>;
  sockConnect(sock: Pipe, path: string, opts?: AbortOptions): Promise<void>;
  sockConnect(sock: TCP | Pipe, address: Address | string, opts?: AbortOptions): Promise<void>;
  sockConnect(sock: TCP | Pipe, address: Address | string, opts?: AbortOptions): Promise<void> {
    return sockOps.sockConnect(this.#sockHost(), sock, address, opts);
  }

  sockAccept(sock: TCP, opts?: AbortOptions): Promise<[TCP, Address]>;
  sockAccept(sock: Pipe, opts?: AbortOptions): Promise<[Pipe, string]>;
  sockAccept(sock: TCP | Pipe, opts?: AbortOptions): Promise<[TCP | Pipe, Address | string]>;
  sockAccept(sock: TCP | Pipe, opts?: AbortOptions): Promise<[TCP | Pipe, Address | string]> {
    return sockOps.sockAccept(this.#sockHost(), sock, opts);
  }

  sockSendfile(
    sock: TCP | Pipe,
    file: SendfileFile,
    offset = 0,
    count: number | null = null,
    opts?: SendfileOptions,
  ): Promise<number> {
    return sockOps.sockSendfile(this.#sockHost(), sock, file, offset, count, opts);
  }

  // --- servers ----------------------------------------------------------------

  async createServer(
    protocolFactory: () => AnyProtocol,
    host: string | string[] | null,
    port: number | string | null,
    opts: ServerOptions = {},
  ): Promise<Server<SocketAddress>> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    // asyncio binds a free port for port None, as for 0.
    let bindPort = toPort(port ?? 0, 'port');
    this.checkServerOptions(opts);
    const { keepAlive } = checkServerFlags(opts);
    checkTlsOptions(opts, 'server');
    if (opts.ssl) this.checkTls(opts.ssl); // fail now, not on the first connection
    const backlog = backlogOf(opts);
    const { sock } = opts;
    if (opts.family !== undefined && opts.family !== 4 && opts.family !== 6) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'family must be 4 or 6');
    }
    const addresses =
      sock === undefined ? serverFamily(await this.#serverAddresses(host), opts.family, host) : [];
    // Closed while resolving: a server made now would outlive the loop.
    this.checkClosed();
    const listeners: Array<Listener<SocketAddress>> = [];
    const server = this.#newServer(listeners);
    const request = {
      ...serveRequest(
        server,
        protocolFactory,
        opts.ssl,
        opts.sslHandshakeTimeout,
        opts.sslShutdownTimeout,
      ),
      keepAlive,
    };
    const serve = (sock: S): void => this.#accepted(sock, request);
    try {
      if (sock !== undefined)
        listeners.push(await this.listenOn(sock, host, bindPort, backlog, serve));
      for (const { address, family } of addresses) {
        // With several addresses the v6 one must not also claim v4.
        const ipv6Only = family === 6 && addresses.length > 1;
        const reusePort = opts.reusePort === true;
        const bind = { ipv6Only, reusePort, backlog };
        const listener = await this.listenTcp(address, bindPort, bind, serve);
        listeners.push(listener);
        // Port 0 with several hosts: the first bound port is used for all.
        if (bindPort === 0 && addresses.length > 1) bindPort = listener.address.port;
      }
    } catch (err) {
      server.close();
      throw err;
    }
    if (opts.startServing !== false) await startOrClose(server);
    return server;
  }

  async #serverAddresses(host: string | string[] | null): Promise<readonly ResolvedAddress[]> {
    if (host === null || host === '') return ANY_HOSTS;
    if (!Array.isArray(host)) return this.resolveHost(host);
    // asyncio would make a server with no socket at all, serving nothing.
    if (host.length === 0) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'host: a list of hosts must name one at least');
    }
    const each = await Promise.all(host.map((h) => this.resolveHost(h)));
    // asyncio serves each address once (its getaddrinfo results go through
    // a set): a host given twice, or two names of one address, would
    // otherwise bind it twice and fail with EADDRINUSE.
    const seen = new Set<string>();
    return each.flat().filter(({ address }) => !seen.has(address) && !!seen.add(address));
  }

  async createUnixServer(
    protocolFactory: () => AnyProtocol,
    path: string | null | undefined,
    opts: UnixServerOptions = {},
  ): Promise<Server<UnixServerAddress>> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    const { sock } = opts;
    if (sock === undefined) {
      validateString(path, 'path');
      checkSocketPath(path, 'bind');
    }
    const { cleanupSocket } = checkUnixServerFlags(opts);
    checkTlsOptions(opts, 'server');
    if (opts.ssl) this.checkTls(opts.ssl);
    const backlog = backlogOf(opts);
    let bound: string | undefined;
    if (sock !== undefined) {
      bound = unixServerSockPath(sock, path);
      this.checkSock(sock);
    }
    const listeners: Array<Listener<UnixServerAddress>> = [];
    const server = this.#newServer(listeners);
    const request = serveRequest(
      server,
      protocolFactory,
      opts.ssl,
      opts.sslHandshakeTimeout,
      opts.sslShutdownTimeout,
    );
    const serve = (sock: S): void => this.#accepted(sock, request);
    try {
      if (sock !== undefined && bound !== undefined) {
        const listener = await this.listenUnixOn(sock, bound, backlog, serve);
        listeners.push(cleanupSocket ? listener : keepSocketFile(listener, bound));
      } else {
        const at = path as string;
        await this.#removeStaleSocket(at);
        const listener = await this.listenUnix(at, backlog, serve);
        listeners.push(
          cleanupSocket ? keepReplacedSocketFile(listener, at) : keepSocketFile(listener, at),
        );
      }
    } catch (err) {
      server.close();
      throw err;
    }
    if (opts.startServing !== false) await startOrClose(server);
    return server;
  }

  /**
   * asyncio removes a socket file found at a server's path before binding:
   * one a server left behind when it died. Only a stale one is removed
   * here, as a refused connect shows; a path a server listens on stays
   * its own, and binding fails with EADDRINUSE, as for any other file.
   */
  async #removeStaleSocket(path: string): Promise<void> {
    try {
      if (!statSync(path).isSocket()) return;
    } catch {
      return; // no such path (or none we may look at): bind decides
    }
    let sock: S;
    try {
      sock = await this.connectUnix(path, {}, {});
    } catch (err) {
      if (err instanceof UvError && err.code === 'ECONNREFUSED') rmSync(path, { force: true });
      return;
    }
    this.discard(sock);
  }

  /**
   * A server over `listeners` (filled by the caller; a listener hands
   * nothing over before the server starts it), registered with the loop
   * until it closes.
   */
  #newServer<A extends SocketAddress | UnixServerAddress>(
    listeners: Array<Listener<A>>,
  ): StreamServer<A> {
    let release = noop;
    const server = new StreamServer<A>(this, listeners, () => release());
    release = this.track(server, 'server');
    return server;
  }

  #accepted(sock: S, request: ServeRequest): void {
    if (this.isClosed()) this.discard(sock);
    else request.server.context.runInAsyncScope(this.serveAccepted, this, sock, request);
  }

  // --- datagrams -----------------------------------------------------------------

  async createDatagramEndpoint<P extends DatagramProtocol>(
    protocolFactory: () => P,
    opts: DatagramOptions,
  ): Promise<[DatagramTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    if (typeof opts !== 'object' || opts === null) {
      throw new UsageError('ERR_INVALID_ARG_TYPE', 'opts must be an object');
    }
    if (opts.sock !== undefined) {
      const { sock, ...rest } = opts;
      const { remote } = datagramSock(sock, rest);
      this.checkSock(sock);
      return this.openDatagramOn(protocolFactory, sock, remote && [remote.address, remote.port]);
    }
    const { localAddr, remoteAddr } = opts;
    // asyncio makes an endpoint of `family` with neither address (one
    // that sends to any address; the first sendto binds it to the
    // wildcard address and a free port, where this binds at once), and
    // refuses one with no family either (ValueError).
    if (localAddr === undefined && remoteAddr === undefined && opts.family === undefined) {
      const why = 'createDatagramEndpoint needs localAddr, remoteAddr or family';
      throw new UsageError('ERR_INVALID_ARG_VALUE', why);
    }
    if (localAddr !== undefined) validateAddress(localAddr, 'localAddr');
    if (remoteAddr !== undefined) {
      validateAddress(remoteAddr, 'remoteAddr');
      // A UDP socket can be connected to port 0 (libuv does), not one of
      // node:dgram; nothing could be sent there anyway (EINVAL).
      validateInteger(remoteAddr[1], 'remoteAddr[1]', 1, 65535);
    }
    const { family } = opts;
    if (family !== undefined && family !== 4 && family !== 6) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'family must be 4 or 6');
    }
    const locals = localAddr && (await this.#resolveAll(localAddr, family));
    const remotes = remoteAddr && (await this.#resolveAll(remoteAddr, family));
    // asyncio pairs a local and a remote address of one family, and
    // refuses with ValueError when there is none: here a usage error,
    // before any socket (the loops' sockets would fail differently).
    const [local, remote] = datagramPair(locals, remotes);
    // Closed while resolving: connectionMade would be dropped (see createConnection).
    this.checkClosed();
    return this.openDatagram(protocolFactory, {
      local,
      remote,
      family: local?.family ?? remote?.family ?? family ?? 4,
      reusePort: opts.reusePort === true,
      allowBroadcast: opts.allowBroadcast === true,
    });
  }

  /** `[host, port]`'s addresses, of `family` only when given (asyncio's family=). */
  async #resolveAll(
    [host, port]: Address,
    family: 4 | 6 | undefined,
  ): Promise<Array<NonNullable<DatagramPlan['local']>>> {
    const all = await this.resolveHost(host, 'dgram');
    if (all.length === 0) throw new UvError(errno['EAI_NONAME']!, 'getaddrinfo', host);
    return serverFamily(all, family, host).map((a) => ({ ...a, port }));
  }

  // --- pipes ----------------------------------------------------------------------

  /** Reads the fd (a pipe, FIFO or socket); the transport owns and closes it. */
  async connectReadPipe<P extends AnyProtocol>(
    protocolFactory: () => P,
    fd: number,
  ): Promise<[ReadTransport, P]> {
    this.#checkPipe(protocolFactory, fd);
    return this.openPipe(protocolFactory, fd, true);
  }

  /** Writes the fd; the transport owns and closes it. */
  async connectWritePipe<P extends AnyProtocol>(
    protocolFactory: () => P,
    fd: number,
  ): Promise<[WriteTransport, P]> {
    this.#checkPipe(protocolFactory, fd);
    return this.openPipe(protocolFactory, fd, false);
  }

  #checkPipe(protocolFactory: unknown, fd: unknown): void {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    checkPipeFd(fd);
  }

  // --- subprocesses ------------------------------------------------------------------

  async subprocessExec<P extends SubprocessProtocol>(
    protocolFactory: () => P,
    program: string,
    args: string[] = [],
    opts: SubprocessOptions = {},
  ): Promise<[SubprocessTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(program, 'program');
    if (!Array.isArray(args)) {
      throw new UsageError('ERR_INVALID_ARG_TYPE', 'args must be an array of strings');
    }
    for (const a of args) validateString(a, 'args[i]');
    checkBytesOnly(opts, false);
    return this.#spawn(protocolFactory, program, args, opts);
  }

  async subprocessShell<P extends SubprocessProtocol>(
    protocolFactory: () => P,
    cmd: string,
    opts: SubprocessOptions = {},
  ): Promise<[SubprocessTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(cmd, 'cmd');
    checkBytesOnly(opts, true);
    return this.#spawn(protocolFactory, '/bin/sh', ['-c', cmd], opts);
  }

  #spawn<P extends SubprocessProtocol>(
    protocolFactory: () => P,
    file: string,
    args: string[],
    opts: SubprocessOptions,
  ): Promise<[SubprocessTransport, P]> {
    const stdio: StdioPlan = {
      stdin: stdioSpec(opts.stdin, 0),
      stdout: stdioSpec(opts.stdout, 1),
      stderr: opts.stderr === 'stdout' ? 'stdout' : stdioSpec(opts.stderr, 2),
    };
    // The same checks as libuv's spawn, before anything: on NodeEventLoop
    // child_process would throw TypeErrors of its own, or stringify a
    // non-string env value and run the child.
    validateSpawnTarget(file, args, opts.env, opts.cwd);
    const plan = spawnPlan(opts);
    // Before the spawn: a factory that throws must not leave a child behind.
    const protocol = newProtocol(protocolFactory);
    return this.spawnSubprocess(protocol, file, args, stdio, plan);
  }

  // --- fd watchers -------------------------------------------------------------------

  #fds(): FdWatchers {
    if (this.#fdWatchers === undefined) {
      const watchers = new FdWatchers(this.fdLoop(), this);
      this.#fdWatchers = watchers;
      this.hold({ closeWithLoop: () => watchers.closeAll() });
    }
    return this.#fdWatchers;
  }

  /** Calls `cb(...args)` whenever `fd` is readable; replaces an earlier reader of `fd`. */
  addReader<A extends unknown[]>(fd: number, cb: Callback<A>, ...args: A): void {
    this.checkClosed();
    this.#checkNoTransport(fd);
    this.#fds().add(fd, 'reader', cb as Callback<unknown[]>, args);
  }

  removeReader(fd: number): boolean {
    this.#checkNoTransport(fd);
    return this.#fdWatchers?.remove(fd, 'reader') ?? false;
  }

  /** Calls `cb(...args)` whenever `fd` is writable; replaces an earlier writer of `fd`. */
  addWriter<A extends unknown[]>(fd: number, cb: Callback<A>, ...args: A): void {
    this.checkClosed();
    this.#checkNoTransport(fd);
    this.#fds().add(fd, 'writer', cb as Callback<unknown[]>, args);
  }

  removeWriter(fd: number): boolean {
    this.#checkNoTransport(fd);
    return this.#fdWatchers?.remove(fd, 'writer') ?? false;
  }

  /**
   * asyncio's _ensure_fd_no_transport: an fd a transport of this loop
   * reads and writes is refused, as a watcher on it would take the
   * transport's events (on UvEventLoop's own libuv loop it fails with
   * EEXIST; on NodeEventLoop both would be woken).
   */
  #checkNoTransport(fd: number): void {
    if (typeof fd !== 'number' || this.resourceUsingFd(fd) === undefined) return;
    const why = `File descriptor ${fd} is used by a transport of this loop`;
    throw new UsageError('ERR_INVALID_STATE', why);
  }

  protected countOthers(out: Partial<Record<ResourceKind, number>>): void {
    this.#fdWatchers?.countResources(out);
  }

  /**
   * The fd watchers' Polls run in batches of their libuv loop, which must
   * drain microtasks right after the callback that stopped this loop.
   */
  protected override yieldToAwaiters(): void {
    this.#fdWatchers?.yieldToAwaiters();
  }

  // --- signals -------------------------------------------------------------------------

  /** Calls `cb(...args)` from the ready queue whenever `signal` arrives; replaces the last. */
  addSignalHandler<A extends unknown[]>(
    signal: number | string,
    cb: Callback<A>,
    ...args: A
  ): void {
    this.checkClosed();
    validateFunction(cb, 'callback');
    const signum = toSignalNumber(signal);
    if (kUncatchable.has(signum)) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', `Signal ${signal} cannot be caught`);
    }
    this.removeSignalHandler(signum);
    // Each delivery runs in the context of this call, as a callSoon from here would.
    const context = captureContext('asyncuv.SignalHandler');
    const stop = this.watchSignal(signum, () => {
      this.scheduleSoon(cb as Callback<unknown[]>, args, undefined, context);
    });
    const release = this.hold({ closeWithLoop: () => this.removeSignalHandler(signum) }, 'signal');
    this.#signals.set(signum, () => {
      stop();
      release();
    });
  }

  removeSignalHandler(signal: number | string): boolean {
    const signum = toSignalNumber(signal);
    const remove = this.#signals.get(signum);
    if (remove === undefined) return false;
    this.#signals.delete(signum);
    remove();
    return true;
  }
}

function noop(): void {}

/**
 * Starts a server the caller has not received yet: if it cannot listen
 * (libuv reports EADDRINUSE from listen, not bind), nobody could close it,
 * so it closes before the error is thrown.
 */
async function startOrClose(server: StreamServer<ServerAddress>): Promise<void> {
  try {
    await server.startServing();
  } catch (err) {
    server.close();
    throw err;
  }
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  return `<${value.constructor?.name ?? 'Object'}>`;
}

/** An exception context is an object (asyncio's dict); anything else is the caller's error. */
function checkContext(context: unknown): void {
  if (typeof context !== 'object' || context === null) {
    throw invalidArgType('context', 'an object', context);
  }
}
