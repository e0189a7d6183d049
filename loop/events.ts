// The event loop contract (asyncio.events), camelCased. Times are seconds.
//
// Deviation from asyncio, for JavaScript: scheduled callbacks and I/O are
// processed whenever there is work, the way Node's loop works; there is no
// need to call runForever() for a callback or a connection to make
// progress. runForever() / runUntilComplete() mark the loop running until
// stop() or until the awaited work settles, and the usual rules hold: a
// running loop cannot be run again or closed (ERR_LOOP_RUNNING), and a
// closed loop refuses new work (ERR_LOOP_CLOSED).
import { AsyncResource } from 'node:async_hooks';
import type { AsyncContext } from '../handles/async-context.js';
import type { Pipe } from '../handles/pipe.js';
import type { SocketAddress, TCP } from '../handles/tcp.js';
import type { UDP } from '../handles/udp.js';
import type { AbortOptions } from './abort.js';
import type { AttemptOptions } from './connect-attempts.js';
import type { SendfileFile, SendfileOptions } from './sendfile.js';
import type { SockData } from './sock-ops.js';
import type { TimerQueue } from './timer-queue.js';
import type { Address, AnyProtocol, DatagramProtocol, SubprocessProtocol } from './protocols.js';
import type {
  DatagramTransport,
  SubprocessTransport,
  Transport,
  ReadTransport,
  WriteTransport,
} from './transports.js';

/** A callback given to callSoon, callLater, addReader and friends, with its arguments. */
export type Callback<A extends unknown[]> = (...args: A) => void;

/**
 * @internal The arguments of a callback that takes none, shared by every
 * handle (frozen: nothing may add to it).
 */
export const kNoArgs: readonly unknown[] = Object.freeze([]);

/**
 * A scheduled callback (asyncio.Handle). It is the AsyncResource of the
 * call that scheduled it: the callback runs in that call's async context
 * (what AsyncLocalStorage held there), as asyncio's Handle runs in the
 * contextvars context it copied (its get_context()).
 */
export class CallbackHandle extends AsyncResource {
  /** @internal */ callback: Callback<unknown[]> | undefined;
  /** @internal kCancelled once cancel() was called (asyncio's _cancelled, without a field of its own). */
  args: readonly unknown[];

  // Two fields and the AsyncResource's: a pending timer is one of these
  // objects, and the collector copies every byte of each while it waits
  // (bench/PROFILE.md, "callLater on Node 24"). What only the loop's own
  // callbacks need (a transport's context, onDropped) is in ContextHandle.
  /** @internal */
  constructor(callback: Callback<unknown[]>, args: readonly unknown[]) {
    super('asyncuv.Callback');
    this.callback = callback;
    this.args = args;
  }

  /** The callback will not run; a no-op if it already ran. */
  cancel(): void {
    this.callback = undefined;
    this.args = kCancelled;
  }

  cancelled(): boolean {
    return this.args === kCancelled;
  }
}

/**
 * @internal What cancel() leaves in `args`: cancelled() is true from then on,
 * whether or not the callback had run (asyncio's rule).
 */
const kCancelled: readonly unknown[] = Object.freeze([]);

/**
 * @internal A callback of the loop's own (scheduleSoon) that runs in another
 * context than the current one (a transport's), or whose dropping by close()
 * must be reported. It is an AsyncResource too, but runs in `context` when
 * one was given.
 */
export class ContextHandle extends CallbackHandle {
  /** The async context to run in (handles/async-context.ts rule 3), else this handle's own. */
  readonly context: AsyncContext | undefined;
  /** Run by the loop's close() if it drops this callback before it ran. */
  onDropped: (() => void) | undefined;

  constructor(
    callback: Callback<unknown[]>,
    args: readonly unknown[],
    context: AsyncContext | undefined,
    onDropped: (() => void) | undefined,
  ) {
    super(callback, args);
    this.context = context;
    this.onDropped = onDropped;
  }
}

/** A callback scheduled at a time (asyncio.TimerHandle). */
export class TimerHandle extends CallbackHandle {
  /** @internal the loop's timer queue while this waits in it, else undefined. */
  queue: TimerQueue | undefined = undefined;
  /**
   * @internal when(), as a plain field: the timer queue compares it many
   * times when many timers come due, and a private field's brand check
   * behind a method call cost about half of callLater's total time.
   */
  readonly at: number;

  /** @internal */
  constructor(when: number, callback: Callback<unknown[]>, args: readonly unknown[]) {
    super(callback, args);
    this.at = when;
  }

  /** The loop time (seconds) the callback is scheduled for. */
  when(): number {
    return this.at;
  }

  override cancel(): void {
    this.queue?.cancel(this);
    super.cancel();
  }
}

export interface ExceptionContext {
  message: string;
  exception?: unknown;
  handle?: CallbackHandle;
  transport?: unknown;
  protocol?: unknown;
  [key: string]: unknown;
}

export type ExceptionHandler = (loop: AbstractEventLoop, context: ExceptionContext) => void;

/** Where a Unix server listens. */
export interface UnixServerAddress {
  path: string;
}

/** What Server.sockets() lists: `{ address, port, family }` for TCP, `{ path }` for Unix sockets. */
export type ServerAddress = SocketAddress | UnixServerAddress;

/** `A`: the kind of address the server listens on (createServer: TCP, createUnixServer: Unix). */
export interface Server<A extends ServerAddress = ServerAddress> {
  close(): void;
  /** Resolves once the server is closed and its connections are gone; `signal` aborts the wait. */
  waitClosed(opts?: AbortOptions): Promise<void>;
  isServing(): boolean;
  startServing(): Promise<void>;
  /**
   * Serves until close(); resolves then. Aborting `signal` closes the server
   * and rejects. Rejects with ERR_INVALID_STATE on a closed server, or while
   * another serveForever() of it is waiting (as asyncio).
   */
  serveForever(opts?: AbortOptions): Promise<void>;
  /** The listening addresses; empty once closed. */
  sockets(): A[];
  getLoop(): AbstractEventLoop;
  /** Closes every connection the server accepted (each flushes first), as asyncio 3.13. */
  closeClients(): void;
  /** Aborts every connection the server accepted (nothing is flushed), as asyncio 3.13. */
  abortClients(): void;
  /**
   * `await using server = await loop.createServer(...)`: close(), then
   * waitClosed(), as asyncio's `async with server`. The connections still
   * open are waited for too (call closeClients() first not to).
   */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface AddrInfo {
  family: number;
  socktype: number;
  protocol: number;
  address: string;
  port: number;
}

export interface TlsOptions {
  /** node:tls options (a SecureContext, or key/cert/ca...). */
  [key: string]: unknown;
}

/** loop.startTls's options (asyncio's server_side, server_hostname, ssl_*_timeout). */
export interface StartTlsLoopOptions {
  /** The server's side of the handshake (default: the client's). */
  serverSide?: boolean;
  /** The name the server's certificate must carry (client side). */
  serverHostname?: string;
  /** Seconds for the handshake; default 60. */
  sslHandshakeTimeout?: number;
  /** Seconds a closing TLS transport waits for the peer's close_notify; default 30. */
  sslShutdownTimeout?: number;
  /**
   * Cancels the handshake (asyncio: cancelling the start_tls task): the
   * call rejects with a CancelledError and the connection is closed.
   */
  signal?: AbortSignal;
}

export interface ConnectionOptions extends AttemptOptions {
  localAddr?: Address;
  ssl?: boolean | TlsOptions;
  serverHostname?: string;
  signal?: AbortSignal;
  /** Seconds for the TLS handshake; default 60. */
  sslHandshakeTimeout?: number;
  /**
   * Seconds a closing TLS transport waits for the peer's close_notify
   * before aborting the connection (connectionLost then gets a
   * TimeoutError); default 30, as asyncio's ssl_shutdown_timeout.
   */
  sslShutdownTimeout?: number;
  /**
   * Use this connected TCP handle instead of connecting (asyncio's `sock`);
   * host, port and localAddr must be absent (null or undefined), and with
   * `ssl`, serverHostname must be given (there is no host to take it
   * from). The transport owns the handle and closes it, also when the TLS
   * handshake fails. UvEventLoop takes a handle of its own libuv loop;
   * NodeEventLoop one of any Loop of the thread, and reads and writes a
   * duplicate of its fd (the handle closes at once).
   */
  sock?: TCP;
}

/** createUnixConnection's options: ConnectionOptions, with a Pipe as `sock`. */
export interface UnixConnectionOptions extends Omit<ConnectionOptions, 'sock'> {
  /**
   * Use this connected Unix socket (a Pipe, not IPC) instead of connecting
   * (asyncio's `sock`); path must be absent. Owned as ConnectionOptions'
   * `sock`. With `ssl`, serverHostname must be given, with a sock or a
   * path (a path names no host to check the certificate against).
   */
  sock?: Pipe;
}

export interface ServerOptions {
  backlog?: number;
  /** Listen on addresses of this family only (asyncio's family=AF_INET / AF_INET6). */
  family?: 4 | 6;
  reusePort?: boolean;
  /**
   * SO_KEEPALIVE on every connection the server accepts (asyncio 3.13's
   * `keep_alive`; default false): the kernel probes a connection idle for
   * its keep-alive time (net.ipv4.tcp_keepalive_time, left as it is) and
   * ends one whose peer is gone with ETIMEDOUT.
   */
  keepAlive?: boolean;
  /**
   * asyncio's `reuse_address`: SO_REUSEADDR on the listening sockets.
   * `true` or absent only: libuv (under both loops) sets it on every TCP
   * socket it binds on Unix, so `false` is refused with ERR_NOT_SUPPORTED.
   */
  reuseAddress?: boolean;
  ssl?: TlsOptions;
  /** Start accepting now (default true). */
  startServing?: boolean;
  sslHandshakeTimeout?: number;
  /** Seconds a closing TLS connection waits for the client's close_notify; default 30. */
  sslShutdownTimeout?: number;
  /**
   * Serve this bound TCP handle instead of binding (asyncio's `sock`); host
   * must be null and port 0. The server owns it and closes it, also when
   * its listen fails. UvEventLoop takes a handle of its own libuv loop;
   * NodeEventLoop one of any Loop of the thread, and listens on a duplicate
   * of its fd (the handle closes once the server listens).
   */
  sock?: TCP;
}

/** connectAcceptedSocket's options: server-side TLS, as createServer's. */
export interface AcceptedSocketOptions {
  ssl?: TlsOptions | null;
  /** Seconds (asyncio's default: 60). */
  sslHandshakeTimeout?: number;
  /** Seconds a closing TLS transport waits for the peer's close_notify (default 30). */
  sslShutdownTimeout?: number;
}

export interface UnixServerOptions {
  backlog?: number;
  ssl?: TlsOptions;
  /** Seconds for the TLS handshake; default 60. */
  sslHandshakeTimeout?: number;
  /** Seconds a closing TLS connection waits for the client's close_notify; default 30. */
  sslShutdownTimeout?: number;
  startServing?: boolean;
  /**
   * Remove the socket file when the server closes (asyncio 3.13's
   * `cleanup_socket`; default true): only while it is still the file the
   * server bound. `false` leaves it at its path, also the file of a `sock`
   * whose close would remove it.
   */
  cleanupSocket?: boolean;
  /**
   * Serve this bound Unix socket (a Pipe, not IPC) instead of binding
   * (asyncio's `sock`); path must be absent. The server owns the handle
   * and closes it. The socket file goes with it as it would with the
   * handle's own close(): a Pipe bound with bind() removes its file (if it
   * is still the one bound, as every Unix server's), one opened from an fd
   * never does. NodeEventLoop listens on a duplicate of its fd (the handle
   * closes once the server listens; the file stays until the server closes).
   */
  sock?: Pipe;
}

export interface DatagramOptions {
  localAddr?: Address;
  remoteAddr?: Address;
  reusePort?: boolean;
  allowBroadcast?: boolean;
  family?: 4 | 6;
  /**
   * Use this bound UDP handle instead of making one (asyncio's `sock`);
   * localAddr, remoteAddr, reusePort, allowBroadcast and family must be
   * absent. A connected handle's peer is the endpoint's remote address.
   * The transport owns the handle and closes it. UvEventLoop takes a
   * handle of its own libuv loop; NodeEventLoop one of any Loop of the
   * thread, and binds a dgram socket to a duplicate of its fd (the handle
   * closes at once).
   */
  sock?: UDP;
}

export type StdioSpec = 'pipe' | 'inherit' | 'ignore' | number;

export interface SubprocessOptions {
  stdin?: StdioSpec;
  stdout?: StdioSpec;
  /** 'stdout' sends the child's stderr to its stdout (asyncio.STDOUT). */
  stderr?: StdioSpec | 'stdout';
  env?: Record<string, string>;
  cwd?: string;
  /**
   * The program file to run (Popen's executable=), searched in PATH when
   * it has no slash; the program given to subprocessExec (the shell,
   * `/bin/sh`, for subprocessShell) stays the argv[0] the child sees. A
   * non-empty string without NUL bytes (else a UsageError); a file that
   * does not exist rejects with a UvError ENOENT naming it.
   */
  executable?: string;
  /**
   * Runs the child in a session of its own (setsid; Popen's
   * start_new_session), so a signal to our process group or terminal does
   * not reach it. The loop still kills a running child when it closes, and
   * still waits for its exit.
   */
  startNewSession?: boolean;
  /**
   * Fds of ours that stay open in the child under the same numbers
   * (Popen's pass_fds): integers from 3 (0-2 are stdin, stdout and stderr's
   * options), no repeats, each open (else a UvError EBADF before anything
   * is spawned). The fds from 3 not listed are not given to the child:
   * libuv and Node open every fd close-on-exec (an fd opened without
   * O_CLOEXEC by other code would be inherited; asyncio closes all others).
   */
  passFds?: readonly number[];
  /** The child's user id (Popen's user, as a number); EPERM (a UvError) unless we may. */
  uid?: number;
  /** The child's group id (Popen's group, as a number); EPERM (a UvError) unless we may. */
  gid?: number;
}

/**
 * The kinds liveResources() counts: transports (stream connections and
 * pipes), datagram endpoints, subprocesses, servers, signal handlers, fds
 * watched by addReader/addWriter, timers (callLater/callAt) and callbacks
 * (callSoon) not yet run.
 */
export type ResourceKind =
  | 'transport'
  | 'datagram'
  | 'subprocess'
  | 'server'
  | 'signal'
  | 'reader'
  | 'writer'
  | 'timer'
  | 'callback';

export interface AbstractEventLoop {
  runForever(): Promise<void>;
  /** `signal` aborts the wait (the loop stops running; the work itself goes on). */
  runUntilComplete<T>(work: Promise<T> | (() => Promise<T>), opts?: AbortOptions): Promise<T>;
  stop(): void;
  close(): void;
  /** `using loop = newEventLoop()`: close() at the end of the scope (ERR_LOOP_RUNNING if it runs). */
  [Symbol.dispose](): void;
  isRunning(): boolean;
  isClosed(): boolean;
  /** Monotonic seconds. */
  time(): number;

  callSoon<A extends unknown[]>(cb: Callback<A>, ...args: A): CallbackHandle;
  callSoonThreadsafe<A extends unknown[]>(cb: Callback<A>, ...args: A): CallbackHandle;
  callLater<A extends unknown[]>(delay: number, cb: Callback<A>, ...args: A): TimerHandle;
  callAt<A extends unknown[]>(when: number, cb: Callback<A>, ...args: A): TimerHandle;

  /** host and port: where to connect; both null (or undefined) with `sock`. */
  createConnection<P extends AnyProtocol>(
    protocolFactory: () => P,
    host: string | null | undefined,
    port: number | string | null | undefined,
    opts?: ConnectionOptions,
  ): Promise<[Transport, P]>;
  /** port: a number, or its decimal string (as `URL.port` gives it), also for createConnection. */
  /** port: a number or its decimal string; 0 or null (asyncio's None) for a free one. */
  createServer(
    protocolFactory: () => AnyProtocol,
    host: string | string[] | null,
    port: number | string | null,
    opts?: ServerOptions,
  ): Promise<Server<SocketAddress>>;
  /** path: null (or undefined) with `sock`. */
  createUnixConnection<P extends AnyProtocol>(
    protocolFactory: () => P,
    path: string | null | undefined,
    opts?: UnixConnectionOptions,
  ): Promise<[Transport, P]>;
  /** path: null (or undefined) with `sock`. */
  createUnixServer(
    protocolFactory: () => AnyProtocol,
    path: string | null | undefined,
    opts?: UnixServerOptions,
  ): Promise<Server<UnixServerAddress>>;
  /**
   * asyncio's connect_accepted_socket: a transport and protocol over a TCP
   * handle or a Unix socket (a Pipe, not IPC) that is connected already
   * (accepted by code of your own, or
   * passed from another thread or process), as a server's connection: with
   * `ssl` the handshake is the server's. The transport owns the handle from
   * then on, also when the handshake fails; a handle this throws a
   * UsageError for stays the caller's. UvEventLoop takes a handle of its
   * own libuv loop; NodeEventLoop one of any Loop of the thread, and reads
   * and writes a duplicate of its fd (the handle closes at once).
   */
  connectAcceptedSocket<P extends AnyProtocol>(
    protocolFactory: () => P,
    sock: TCP | Pipe,
    opts?: AcceptedSocketOptions,
  ): Promise<[Transport, P]>;
  createDatagramEndpoint<P extends DatagramProtocol>(
    protocolFactory: () => P,
    opts: DatagramOptions,
  ): Promise<[DatagramTransport, P]>;
  connectReadPipe<P extends AnyProtocol>(
    protocolFactory: () => P,
    fd: number,
  ): Promise<[ReadTransport, P]>;
  connectWritePipe<P extends AnyProtocol>(
    protocolFactory: () => P,
    fd: number,
  ): Promise<[WriteTransport, P]>;
  subprocessExec<P extends SubprocessProtocol>(
    protocolFactory: () => P,
    program: string,
    args?: string[],
    opts?: SubprocessOptions,
  ): Promise<[SubprocessTransport, P]>;
  subprocessShell<P extends SubprocessProtocol>(
    protocolFactory: () => P,
    cmd: string,
    opts?: SubprocessOptions,
  ): Promise<[SubprocessTransport, P]>;

  addReader<A extends unknown[]>(fd: number, cb: Callback<A>, ...args: A): void;
  removeReader(fd: number): boolean;
  addWriter<A extends unknown[]>(fd: number, cb: Callback<A>, ...args: A): void;
  removeWriter(fd: number): boolean;

  addSignalHandler<A extends unknown[]>(signal: number | string, cb: Callback<A>, ...args: A): void;
  removeSignalHandler(signal: number | string): boolean;

  /**
   * Host and port to addresses (asyncio's getaddrinfo): one entry per
   * address and socket type (stream, datagram, raw unless `type` or
   * `proto` picks one), as getaddrinfo(3) answers. A null host is the
   * loopback addresses (with AI_PASSIVE in `flags`, the wildcard ones);
   * `family` is 0 (either), 4 or 6.
   */
  getaddrinfo(
    host: string | null,
    port: number | null,
    opts?: { family?: number; type?: number; proto?: number; flags?: number },
  ): Promise<AddrInfo[]>;
  getnameinfo(addr: string, port: number): Promise<[string, string]>;

  startTls(
    transport: Transport,
    protocol: AnyProtocol,
    ssl: TlsOptions,
    opts?: StartTlsLoopOptions,
  ): Promise<Transport>;

  /**
   * asyncio's loop.sendfile: sends `count` bytes of `file` (an fd or a
   * FileHandle; null count: to the end) from `offset` through `transport`,
   * and resolves with the bytes sent once the last is handed to the
   * transport. Reading is paused meanwhile. UvEventLoop hands a regular
   * file and a TCP or Unix socket transport to the kernel (zero-copy, write() refused
   * meanwhile); otherwise, unless `fallback` is false, the file is read in
   * blocks and written, honouring the write-buffer limits. The file's own
   * position is neither used nor moved.
   */
  sendfile(
    transport: Transport,
    file: SendfileFile,
    offset?: number,
    count?: number | null,
    opts?: SendfileOptions,
  ): Promise<number>;

  // asyncio's "working with socket objects directly": a socket is a TCP or
  // Pipe handle (Unix socket) for the stream calls, a UDP handle for the
  // datagram ones, the caller's throughout (docs/loop.md, "Sockets used
  // directly"). Each takes `{ signal }`; a receive aborted loses no data.

  /** Up to `nbytes` bytes (what is there, waiting for some); an empty Buffer at EOF. */
  sockRecv(sock: TCP | Pipe, nbytes: number, opts?: AbortOptions): Promise<Buffer>;
  /** Reads into `buf`; the count (0 at EOF). */
  sockRecvInto(sock: TCP | Pipe, buf: Uint8Array, opts?: AbortOptions): Promise<number>;
  /** One datagram, cut to `bufsize` bytes, and its sender. */
  sockRecvfrom(sock: UDP, bufsize: number, opts?: AbortOptions): Promise<[Buffer, Address]>;
  /** One datagram into `buf` (its first `nbytes`; 0: all of it): the count and the sender. */
  sockRecvfromInto(
    sock: UDP,
    buf: Uint8Array,
    nbytes?: number,
    opts?: AbortOptions,
  ): Promise<[number, Address]>;
  /** Sends all of `data` (sendalls on one socket in call order), or rejects. */
  sockSendall(sock: TCP | Pipe, data: SockData, opts?: AbortOptions): Promise<void>;
  /** Sends one datagram to `address` (a name is resolved); the bytes sent. */
  sockSendto(sock: UDP, data: SockData, address: Address, opts?: AbortOptions): Promise<number>;
  /** Connects a TCP handle to [host, port] (a name is resolved) or a Pipe to a path. */
  sockConnect(sock: TCP, address: Address, opts?: AbortOptions): Promise<void>;
  sockConnect(sock: Pipe, path: string, opts?: AbortOptions): Promise<void>;
  sockConnect(sock: TCP | Pipe, address: Address | string, opts?: AbortOptions): Promise<void>;
  /**
   * The next connection of a listening (or bound: it listens first) handle:
   * a new handle of the same Loop, the caller's, and its peer's address.
   */
  sockAccept(sock: TCP, opts?: AbortOptions): Promise<[TCP, Address]>;
  sockAccept(sock: Pipe, opts?: AbortOptions): Promise<[Pipe, string]>;
  sockAccept(sock: TCP | Pipe, opts?: AbortOptions): Promise<[TCP | Pipe, Address | string]>;
  /**
   * Sends `count` bytes of `file` from `offset` (null: to the end) through
   * the socket, read in blocks (there is no zero-copy path for a handle:
   * `fallback: false` rejects with SendfileNotAvailableError); the bytes sent.
   */
  sockSendfile(
    sock: TCP | Pipe,
    file: SendfileFile,
    offset?: number,
    count?: number | null,
    opts?: SendfileOptions,
  ): Promise<number>;

  setExceptionHandler(handler: ExceptionHandler | null): void;
  getExceptionHandler(): ExceptionHandler | null;
  callExceptionHandler(context: ExceptionContext): void;
  defaultExceptionHandler(context: ExceptionContext): void;
  getDebug(): boolean;
  setDebug(enabled: boolean): void;
  /**
   * The leak check: what the loop still holds, by kind, with the same kinds
   * on every loop; `{}` once every transport, server and handler is closed
   * and every timer and callback has run or been cancelled.
   */
  liveResources(): Partial<Record<ResourceKind, number>>;
}
