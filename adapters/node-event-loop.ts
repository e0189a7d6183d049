// NodeEventLoop: the PEP 3156 event loop on Node's own loop and modules
// (node:net, node:tls, node:dgram, node:child_process, node:dns, timers).
// Protocol code written for AbstractEventLoop runs unchanged on it or on
// UvEventLoop.
//
// Node cannot watch an arbitrary fd, so addReader/addWriter use asyncuv's
// own Poll handle on Loop.default(), which runs embedded in Node's loop.
// reusePort on TCP servers needs net's listen({ reusePort }) (Node >= 22.12);
// before that Node silently ignores the flag, so the loop throws
// ERR_NOT_SUPPORTED rather than pretend.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import dgram from 'node:dgram';
import { lookup, lookupService } from 'node:dns/promises';
import net from 'node:net';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { Loop } from '../handles/loop.js';
import { UsageError } from '../errors/usage-error.js';
import { toSignalNumber, validateFunction, validateInteger, validateString } from '../errors/validate.js';
import { BaseEventLoop } from '../loop/base-event-loop.js';
import { CancelledError, loopClosed } from '../loop/errors.js';
import { FdWatchers } from '../loop/fd-watchers.js';
import type {
  Callback,
  AbstractEventLoop,
  AddrInfo,
  ConnectionOptions,
  DatagramOptions,
  ResourceKind,
  Server,
  ServerAddress,
  ServerOptions,
  StdioSpec,
  SubprocessOptions,
  TlsOptions,
  UnixServerAddress,
  UnixServerOptions,
} from '../loop/events.js';
import type { SocketAddress } from '../handles/tcp.js';
import { type AnyProtocol, type DatagramProtocol, type SubprocessProtocol, isBufferedProtocol, newProtocol } from '../loop/protocols.js';
import { ANY_HOSTS, type ResolvedAddress } from '../loop/resolve.js';
import type { DatagramTransport, ReadTransport, SubprocessTransport, Transport, WriteTransport } from '../loop/transports.js';
import { NodeDatagramTransport } from './node-datagram-transport.js';
import { notSupported, toUvError } from './node-errors.js';
import { resolveHost } from './node-resolve.js';
import { NodeServer, type NodeListener } from './node-server.js';
import { NodeSubprocessTransport, type ChildPipes } from './node-subprocess-transport.js';
import { NodeTransport, ReadIntoSlot, type NodeTransportOwner } from './node-transport.js';
import { tlsExtra, type TlsUpgradeOptions, upgradeToTls } from './node-tls.js';
import { socketPair } from './socket-pair.js';


// getaddrinfo() entries name families 4 and 6, as UvEventLoop's do.
const SOCK_STREAM = 1;
const IPPROTO_TCP = 6;

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, num]) => [num, name as NodeJS.Signals]),
);

function aborted(signal: AbortSignal | undefined): CancelledError {
  return new CancelledError('The connection was aborted', { cause: signal?.reason });
}

/** Connects `socket`; rejects with a UvError (destroying the socket) or on abort. */
function connectSocket(socket: net.Socket, options: net.NetConnectOpts, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (err: Error | null): void => {
      socket.off('error', finish);
      socket.off('connect', onConnect);
      signal?.removeEventListener('abort', onAbort);
      if (err === null) return resolve();
      socket.destroy();
      reject(err);
    };
    const onConnect = (): void => finish(null);
    const onAbort = (): void => finish(aborted(signal));
    if (signal?.aborted) return finish(aborted(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (err) => finish(toUvError(err)));
    socket.once('connect', onConnect);
    socket.connect(options);
  });
}

function tcpExtra(socket: net.Socket): Record<string, unknown> {
  const extra: Record<string, unknown> = { socket };
  if (socket.remoteAddress !== undefined) extra['peername'] = [socket.remoteAddress, socket.remotePort];
  if (socket.localAddress !== undefined) extra['sockname'] = [socket.localAddress, socket.localPort];
  return extra;
}

export class NodeEventLoop extends BaseEventLoop implements AbstractEventLoop {
  #immediate: NodeJS.Immediate | undefined;
  #timeout: NodeJS.Timeout | undefined;
  readonly #signals = new Map<number, () => void>();
  // Node's signal listeners do not keep the process alive; libuv's signal
  // handles (UvEventLoop) do. A ref'd timer that never fires stands in for
  // them while any handler is installed.
  #signalKeepAlive: NodeJS.Timeout | undefined;
  readonly #servers = new Set<NodeServer>();
  // Made on first use: a loop that never watches an fd never touches Loop.default().
  #fdWatchers: FdWatchers | undefined;
  readonly #onImmediate = (): void => {
    this.#immediate = undefined;
    this.runOnce();
  };
  readonly #onTimeout = (): void => {
    this.#timeout = undefined;
    this.timerFired();
  };

  constructor() {
    super();
  }

  protected countResources(out: Partial<Record<ResourceKind, number>>): void {
    if (this.#servers.size > 0) out.server = this.#servers.size;
    if (this.#signals.size > 0) out.signal = this.#signals.size;
    this.#fdWatchers?.countResources(out);
  }

  // --- scheduling -----------------------------------------------------------

  /** The ready queue runs in Node's check phase, after the I/O that filled it. */
  protected scheduleRun(): void {
    this.#immediate ??= setImmediate(this.#onImmediate);
  }

  /** One Node timer for the earliest loop timer; the heap orders the rest. */
  protected armTimer(delayMs: number | null): void {
    if (this.#timeout !== undefined) clearTimeout(this.#timeout);
    this.#timeout = delayMs === null ? undefined : setTimeout(this.#onTimeout, delayMs);
  }

  /**
   * Nothing to do: JavaScript objects cannot be shared between threads,
   * so callSoonThreadsafe is only ever called on this loop's own thread,
   * where callSoon's setImmediate already wakes it.
   */
  protected wakeup(): void {}

  /**
   * Node drains microtasks after each of its own callbacks; the fd
   * watchers' Polls run in batches of Loop.default(), which must drain
   * right after the callback that stopped this loop.
   */
  protected override yieldToAwaiters(): void {
    this.#fdWatchers?.yieldToAwaiters();
  }

  protected closeResources(): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    this.armTimer(null);
    for (const [signum, listener] of this.#signals) process.off(signalNames.get(signum)!, listener);
    this.#signals.clear();
    this.#updateSignalKeepAlive();
    for (const server of [...this.#servers]) server.close();
    this.#fdWatchers?.closeAll();
  }

  // --- stream connections -----------------------------------------------------

  async createConnection<P extends AnyProtocol>(protocolFactory: () => P, host: string, port: number, opts: ConnectionOptions = {}): Promise<[Transport, P]> {
    this.checkConnectionArgs(protocolFactory, host, port, opts);
    const addresses = await resolveHost(host);
    let lastError: Error | undefined;
    const protocol = newProtocol(protocolFactory);
    // A BufferedProtocol over plain TCP gets Node's onread: reads land in
    // the protocol's own buffer. TLS decrypts into Node's buffers instead.
    const slot = !opts.ssl && isBufferedProtocol(protocol) ? new ReadIntoSlot() : undefined;
    for (const { address } of addresses) {
      const socket = new net.Socket({ allowHalfOpen: true, ...(slot ? { onread: slot.option() } : {}) });
      socket.pause();
      try {
        const connect: net.NetConnectOpts = { host: address, port, noDelay: true };
        if (opts.localAddr) Object.assign(connect, { localAddress: opts.localAddr[0], localPort: opts.localAddr[1] });
        await connectSocket(socket, connect, opts.signal);
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        lastError = err as Error;
        continue;
      }
      if (opts.ssl) {
        const tlsSocket = await this.#handshake(socket, opts.ssl, {
          serverSide: false,
          serverHostname: opts.serverHostname ?? host,
          handshakeTimeout: opts.sslHandshakeTimeout,
          signal: opts.signal,
        });
        return this.#makeTransport(tlsSocket, protocol, { ...tcpExtra(socket), ...tlsExtra(tlsSocket) });
      }
      return this.#makeTransport(socket, protocol, tcpExtra(socket), undefined, slot);
    }
    throw lastError ?? new UsageError('ERR_INVALID_ARG_VALUE', `No address found for ${host}`);
  }

  async createUnixConnection<P extends AnyProtocol>(protocolFactory: () => P, path: string, opts: ConnectionOptions = {}): Promise<[Transport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(path, 'path');
    const protocol = newProtocol(protocolFactory);
    const slot = !opts.ssl && isBufferedProtocol(protocol) ? new ReadIntoSlot() : undefined;
    const socket = new net.Socket({ allowHalfOpen: true, ...(slot ? { onread: slot.option() } : {}) });
    socket.pause();
    await connectSocket(socket, { path }, opts.signal);
    const extra = { socket, peername: path, sockname: '' };
    if (opts.ssl) {
      const tlsSocket = await this.#handshake(socket, opts.ssl, {
        serverSide: false,
        serverHostname: opts.serverHostname,
        handshakeTimeout: opts.sslHandshakeTimeout,
        signal: opts.signal,
      });
      return this.#makeTransport(tlsSocket, protocol, { ...extra, ...tlsExtra(tlsSocket) });
    }
    return this.#makeTransport(socket, protocol, extra, undefined, slot);
  }

  /** A transport whose connectionMade has run; rejects if it failed or the peer left first. */
  #makeTransport<P extends AnyProtocol>(stream: Duplex, protocol: P, extra: Record<string, unknown>, owner?: NodeTransportOwner, slot?: ReadIntoSlot): Promise<[Transport, P]> {
    // Closed while connecting: nothing would ever run connectionMade.
    if (this.isClosed()) {
      stream.destroy();
      return Promise.reject(loopClosed());
    }
    return new Promise((resolve, reject) => {
      const transport = new NodeTransport(this, stream, protocol, {
        extra,
        onGone: this.trackResource('transport'),
        ...(owner ? { owner } : {}),
        ...(slot ? { readInto: slot } : {}),
        ready: (err) => (err === null ? resolve([transport, protocol]) : reject(err)),
      });
    });
  }

  /**
   * A TLS handshake over `stream`. Until it settles nothing else holds the
   * stream, so close() destroys it from here (a handshake left to its
   * timeout would keep the process alive for up to a minute).
   */
  #handshake(
    stream: Duplex,
    ssl: TlsOptions | true,
    opts: TlsUpgradeOptions,
  ): Promise<tls.TLSSocket> {
    const untrack = this.track({ closeWithLoop: () => stream.destroy() });
    try {
      const secure = upgradeToTls(stream, ssl, opts);
      secure.then(untrack, untrack);
      return secure;
    } catch (err) {
      untrack();
      throw err;
    }
  }

  // --- servers --------------------------------------------------------------

  async createServer(protocolFactory: () => AnyProtocol, host: string | string[] | null, port: number, opts: ServerOptions = {}): Promise<Server<SocketAddress>> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateInteger(port, 'port', 0, 65535);
    if (opts.reusePort && !kListenReusePort) {
      throw notSupported('reusePort (SO_REUSEPORT) on a TCP server before Node 22.12');
    }
    if (opts.sock !== undefined) throw notSupported('sock (a TCP handle of a UvEventLoop)');
    const backlog = this.backlogOf(opts);
    let addresses: ResolvedAddress[];
    if (host === null || host === '') addresses = ANY_HOSTS;
    else if (Array.isArray(host)) addresses = (await Promise.all(host.map((h) => resolveHost(h)))).flat();
    else addresses = await resolveHost(host);
    // The server exists before the first listener listens: a connection
    // can arrive while a later address is still being bound, and is held
    // until serving starts.
    const listeners: Array<NodeListener<SocketAddress>> = [];
    const server: NodeServer<SocketAddress> = new NodeServer(this, listeners, () => this.#servers.delete(server));
    const onConnection = (socket: net.Socket): void =>
      this.dispatch((s) => {
        this.#accepted(server, s, protocolFactory, opts.ssl, opts.sslHandshakeTimeout, tcpExtra);
      }, socket);
    try {
      for (const { address, family } of addresses) {
        const listener = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onConnection);
        // With several addresses the v6 one must not also claim v4.
        await listen(listener, {
          host: address,
          port,
          backlog,
          ipv6Only: family === 6 && addresses.length > 1,
          ...(opts.reusePort ? { reusePort: true } : {}),
        });
        const bound = tcpAddress(listener);
        listeners.push({ server: listener, address: bound });
        // Port 0 with several hosts: the first bound port is used for all.
        if (port === 0 && addresses.length > 1) port = bound.port;
      }
    } catch (err) {
      server.close();
      throw toUvError(err);
    }
    return this.#startServer(server, opts.startServing !== false);
  }

  async createUnixServer(protocolFactory: () => AnyProtocol, path: string, opts: UnixServerOptions = {}): Promise<Server<UnixServerAddress>> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(path, 'path');
    const backlog = this.backlogOf(opts);
    const listeners: Array<NodeListener<UnixServerAddress>> = [];
    const server: NodeServer<UnixServerAddress> = new NodeServer(this, listeners, () => this.#servers.delete(server));
    const extraOf = (socket: net.Socket): Record<string, unknown> => ({ socket, peername: '', sockname: path });
    const listener = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
      this.dispatch((s) => {
        this.#accepted(server, s, protocolFactory, opts.ssl, undefined, extraOf);
      }, socket),
    );
    try {
      await listen(listener, { path, backlog });
    } catch (err) {
      throw toUvError(err);
    }
    listeners.push({ server: listener, address: { path } });
    return this.#startServer(server, opts.startServing !== false);
  }

  async #startServer<A extends ServerAddress>(server: NodeServer<A>, startServing: boolean): Promise<Server<A>> {
    this.#servers.add(server);
    if (startServing) await server.startServing();
    return server;
  }

  #accepted(server: NodeServer, socket: net.Socket, protocolFactory: () => AnyProtocol, ssl: TlsOptions | undefined, handshakeTimeout: number | undefined, extraOf: (s: net.Socket) => Record<string, unknown>): void {
    server.accepted({
      drop: () => socket.destroy(),
      start: () => {
        if (this.isClosed()) return void socket.destroy();
        if (ssl === undefined) return this.#serve(server, socket, protocolFactory, extraOf(socket));
        // Handshake failures are the client's business; asyncio reports
        // them only in debug mode.
        this.#handshake(socket, ssl, { serverSide: true, handshakeTimeout }).then(
          (tlsSocket) => this.#serve(server, tlsSocket, protocolFactory, { ...extraOf(socket), ...tlsExtra(tlsSocket) }),
          (exception) => {
            if (this.getDebug()) this.callExceptionHandler({ message: 'SSL handshake failed', exception });
          },
        );
      },
    });
  }

  #serve(server: NodeServer, stream: Duplex, protocolFactory: () => AnyProtocol, extra: Record<string, unknown>): void {
    let protocol: AnyProtocol;
    try {
      protocol = newProtocol(protocolFactory);
    } catch (exception) {
      stream.destroy();
      this.callExceptionHandler({ message: 'Error in protocol factory', exception });
      return;
    }
    // Accepted sockets cannot take Node's onread (net.Server has no such
    // option), so a BufferedProtocol here is fed by copying.
    const transport = new NodeTransport(this, stream, protocol, { extra, owner: server, onGone: this.trackResource('transport') });
    server.attach(transport);
  }

  // --- datagrams --------------------------------------------------------------

  async createDatagramEndpoint<P extends DatagramProtocol>(protocolFactory: () => P, opts: DatagramOptions): Promise<[DatagramTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    if (typeof opts !== 'object' || opts === null) throw new UsageError('ERR_INVALID_ARG_TYPE', 'opts must be an object');
    if (opts.localAddr === undefined && opts.remoteAddr === undefined) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'createDatagramEndpoint needs localAddr or remoteAddr');
    }
    const local = opts.localAddr ? (await resolveHost(opts.localAddr[0]))[0] : undefined;
    const remote = opts.remoteAddr ? (await resolveHost(opts.remoteAddr[0]))[0] : undefined;
    const family = local?.family ?? remote?.family ?? opts.family ?? 4;
    // reusePort is libuv's UV_UDP_REUSEADDR, which node:dgram's reuseAddr
    // sets too: the same socket option UvEventLoop's endpoints get
    // (SO_REUSEADDR on Linux, SO_REUSEPORT on the BSDs and macOS).
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: opts.reusePort === true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port: opts.localAddr?.[1] ?? 0, ...(local ? { address: local.address } : {}), exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      if (opts.allowBroadcast) socket.setBroadcast(true);
      if (remote) {
        await new Promise<void>((resolve, reject) => {
          socket.connect(opts.remoteAddr![1], remote.address, (err?: Error) => (err ? reject(err) : resolve()));
        });
      }
    } catch (err) {
      socket.close();
      throw toUvError(err);
    }
    const protocol = newProtocol(protocolFactory, () => socket.close());
    return new Promise((resolve, reject) => {
      const transport = new NodeDatagramTransport(
        this,
        socket,
        protocol,
        remote ? [remote.address, opts.remoteAddr![1]] : undefined,
        (err) => (err === null ? resolve([transport, protocol]) : reject(err)),
        this.trackResource('datagram'),
      );
    });
  }

  // --- pipes ----------------------------------------------------------------

  /** The transport owns `fd` from now on and closes it. */
  async connectReadPipe<P extends AnyProtocol>(protocolFactory: () => P, fd: number): Promise<[ReadTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateInteger(fd, 'fd');
    const socket = this.#pipeSocket(fd, true);
    return this.#makeTransportOf(socket, newProtocol(protocolFactory, () => socket.destroy()), { pipe: socket }, true);
  }

  /** The transport owns `fd` from now on and closes it. */
  async connectWritePipe<P extends AnyProtocol>(protocolFactory: () => P, fd: number): Promise<[WriteTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateInteger(fd, 'fd');
    const socket = this.#pipeSocket(fd, false);
    return this.#makeTransportOf(socket, newProtocol(protocolFactory, () => socket.destroy()), { pipe: socket }, false);
  }

  #pipeSocket(fd: number, readable: boolean): net.Socket {
    try {
      return new net.Socket({ fd, readable, writable: !readable, allowHalfOpen: true });
    } catch (err) {
      throw toUvError(err);
    }
  }

  #makeTransportOf<P extends AnyProtocol>(stream: Duplex, protocol: P, extra: Record<string, unknown>, readOnly: boolean): Promise<[Transport, P]> {
    return new Promise((resolve, reject) => {
      const transport = new NodeTransport(this, stream, protocol, {
        extra: { socket: stream, ...extra },
        writable: !readOnly,
        onGone: this.trackResource('transport'),
        ready: (err) => (err === null ? resolve([transport, protocol]) : reject(err)),
      });
    });
  }

  // --- subprocesses -------------------------------------------------------------

  subprocessExec<P extends SubprocessProtocol>(protocolFactory: () => P, program: string, args: string[] = [], opts: SubprocessOptions = {}): Promise<[SubprocessTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(program, 'program');
    if (!Array.isArray(args)) throw new UsageError('ERR_INVALID_ARG_TYPE', 'args must be an array of strings');
    for (const a of args) validateString(a, 'args[i]');
    return this.#spawn(protocolFactory, program, args, opts);
  }

  subprocessShell<P extends SubprocessProtocol>(protocolFactory: () => P, cmd: string, opts: SubprocessOptions = {}): Promise<[SubprocessTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(cmd, 'cmd');
    return this.#spawn(protocolFactory, '/bin/sh', ['-c', cmd], opts);
  }

  async #spawn<P extends SubprocessProtocol>(protocolFactory: () => P, program: string, args: string[], opts: SubprocessOptions): Promise<[SubprocessTransport, P]> {
    // Before the spawn: a factory that throws must not leave a child behind.
    const protocol = newProtocol(protocolFactory);
    const stdin: StdioSpec = opts.stdin ?? 'pipe';
    const stdout: StdioSpec = opts.stdout ?? 'pipe';
    const stderrSpec = opts.stderr ?? 'pipe';
    // stderr 'stdout' (asyncio.STDOUT) means the child's fd 2 is its fd 1.
    // With a piped stdout that is one pipe on two fds, which Node can only
    // build from a stream it can pass twice: a Unix socket pair.
    let merged: [net.Socket, net.Socket] | undefined;
    let stdio: StdioOptions;
    if (stderrSpec === 'stdout') {
      if (stdout === 'pipe') {
        merged = await socketPair();
        stdio = [stdin, merged[1], merged[1]];
      } else stdio = [stdin, stdout, stdout];
    } else stdio = [stdin, stdout, stderrSpec];
    let child: ChildProcess;
    try {
      child = spawn(program, args, { stdio, ...(opts.env ? { env: opts.env } : {}), ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    } catch (err) {
      merged?.forEach((s) => s.destroy());
      throw toUvError(err);
    }
    merged?.[1].destroy(); // the child has its own copy
    if (child.pid === undefined) {
      merged?.[0].destroy();
      // Node reports a failed spawn (ENOENT...) as an 'error' event.
      throw await new Promise<Error>((resolve) => child.once('error', (err) => resolve(toUvError(err))));
    }
    const pipes: ChildPipes = {};
    // Node types them as one-way streams; they are net.Sockets over pipes.
    if (child.stdin) pipes[0] = child.stdin as unknown as Duplex;
    if (merged) pipes[1] = merged[0];
    else if (child.stdout) pipes[1] = child.stdout as unknown as Duplex;
    if (child.stderr) pipes[2] = child.stderr as unknown as Duplex;
    return new Promise((resolve, reject) => {
      const transport = new NodeSubprocessTransport(this, child, protocol, pipes, (err) => (err === null ? resolve([transport, protocol]) : reject(err)), this.trackResource('subprocess'));
    });
  }

  // --- fd watchers: asyncuv's Poll, on Loop.default() inside Node's loop ----

  #fds(): FdWatchers {
    this.#fdWatchers ??= new FdWatchers(Loop.default(), this);
    return this.#fdWatchers;
  }

  /** Calls `cb(...args)` whenever `fd` is readable; replaces an earlier reader of `fd`. */
  addReader<A extends unknown[]>(fd: number, cb: Callback<A>, ...args: A): void {
    this.checkClosed();
    this.#fds().add(fd, 'reader', cb as Callback<unknown[]>, args);
  }

  removeReader(fd: number): boolean {
    return this.#fdWatchers?.remove(fd, 'reader') ?? false;
  }

  /** Calls `cb(...args)` whenever `fd` is writable; replaces an earlier writer of `fd`. */
  addWriter<A extends unknown[]>(fd: number, cb: Callback<A>, ...args: A): void {
    this.checkClosed();
    this.#fds().add(fd, 'writer', cb as Callback<unknown[]>, args);
  }

  removeWriter(fd: number): boolean {
    return this.#fdWatchers?.remove(fd, 'writer') ?? false;
  }

  // --- signals ------------------------------------------------------------------

  /** A process signal listener; the callback runs through the ready queue. */
  addSignalHandler<A extends unknown[]>(signal: number | string, cb: Callback<A>, ...args: A): void {
    this.checkClosed();
    validateFunction(cb, 'callback');
    const signum = toSignalNumber(signal);
    const name = signalNames.get(signum);
    if (name === undefined) throw new UsageError('ERR_UNKNOWN_SIGNAL', `Unknown signal: ${signal}`);
    if (signum === constants.signals.SIGKILL || signum === constants.signals.SIGSTOP) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', `Signal ${signal} cannot be caught`);
    }
    this.removeSignalHandler(signum);
    const listener = (): void => void this.scheduleSoon(cb as Callback<unknown[]>, args);
    process.on(name, listener);
    this.#signals.set(signum, listener);
    this.#updateSignalKeepAlive();
  }

  #updateSignalKeepAlive(): void {
    if (this.#signals.size > 0) this.#signalKeepAlive ??= setInterval(() => {}, 2 ** 31 - 1);
    else if (this.#signalKeepAlive !== undefined) {
      clearInterval(this.#signalKeepAlive);
      this.#signalKeepAlive = undefined;
    }
  }

  removeSignalHandler(signal: number | string): boolean {
    const signum = toSignalNumber(signal);
    const listener = this.#signals.get(signum);
    if (listener === undefined) return false;
    process.off(signalNames.get(signum)!, listener);
    this.#signals.delete(signum);
    this.#updateSignalKeepAlive();
    return true;
  }

  // --- names ----------------------------------------------------------------------

  async getaddrinfo(host: string, port: number | null, opts: { family?: number; type?: number; proto?: number; flags?: number } = {}): Promise<AddrInfo[]> {
    this.checkClosed();
    validateString(host, 'host');
    const family = opts.family === 4 || opts.family === 6 ? opts.family : 0;
    let results;
    try {
      results = await lookup(host, { all: true, family, verbatim: true, ...(opts.flags ? { hints: opts.flags } : {}) });
    } catch (err) {
      throw toUvError(err);
    }
    // node:dns answers addresses only: one entry per address, with the
    // socket type and protocol asked for (stream/TCP by default), where
    // libuv's getaddrinfo lists each address once per socket type.
    return results.map((r) => ({
      family: r.family === 6 ? 6 : 4,
      socktype: opts.type ?? SOCK_STREAM,
      protocol: opts.proto ?? IPPROTO_TCP,
      address: r.address,
      port: port ?? 0,
    }));
  }

  async getnameinfo(addr: string, port: number): Promise<[string, string]> {
    this.checkClosed();
    validateString(addr, 'addr');
    validateInteger(port, 'port', 0, 65535);
    try {
      const { hostname, service } = await lookupService(addr, port);
      return [hostname, service];
    } catch (err) {
      throw toUvError(err);
    }
  }

  // --- TLS upgrade ------------------------------------------------------------------

  /**
   * Wraps an established transport in TLS and returns the new transport;
   * the old one must no longer be used. A NodeTransport hands its Node
   * stream to node:tls directly; any other Transport (a UvEventLoop one)
   * goes through toDuplex().
   */
  async startTls(transport: Transport, protocol: AnyProtocol, ssl: TlsOptions, opts: { serverSide?: boolean; serverHostname?: string; sslHandshakeTimeout?: number } = {}): Promise<Transport> {
    this.checkClosed();
    let stream: Duplex;
    let extra: Record<string, unknown>;
    if (transport instanceof NodeTransport) {
      extra = { socket: transport.getExtraInfo('socket'), peername: transport.getExtraInfo('peername'), sockname: transport.getExtraInfo('sockname') };
      stream = transport.detachStream();
    } else {
      const { toDuplex } = await import('./duplex.js');
      extra = { socket: transport.getExtraInfo('socket'), peername: transport.getExtraInfo('peername'), sockname: transport.getExtraInfo('sockname') };
      stream = toDuplex(transport);
    }
    const tlsSocket: tls.TLSSocket = await this.#handshake(stream, ssl, {
      serverSide: opts.serverSide === true,
      serverHostname: opts.serverHostname,
      handshakeTimeout: opts.sslHandshakeTimeout,
    });
    return new Promise((resolve, reject) => {
      const upgraded = new NodeTransport(this, tlsSocket, protocol, {
        extra: { ...extra, ...tlsExtra(tlsSocket) },
        callConnectionMade: false,
        onGone: this.trackResource('transport'),
        ready: (err) => (err === null ? resolve(upgraded) : reject(err)),
      });
    });
  }
}

// net's listen({ reusePort }) arrived in Node 22.12 (and 23.1); older
// versions ignore the flag.
const [kNodeMajor = 0, kNodeMinor = 0] = process.versions.node.split('.').map(Number);
const kListenReusePort = kNodeMajor > 22 || (kNodeMajor === 22 && kNodeMinor >= 12);

function listen(server: net.Server, options: net.ListenOptions & { reusePort?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A listening TCP server's address, as TCP.getsockname() gives it on UvEventLoop. */
function tcpAddress(server: net.Server): SocketAddress {
  const bound = server.address() as net.AddressInfo;
  return { address: bound.address, port: bound.port, family: bound.family === 'IPv6' ? 'IPv6' : 'IPv4' };
}
