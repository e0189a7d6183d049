// NodeEventLoop: the PEP 3156 event loop on Node's own loop and modules
// (node:net, node:tls, node:dgram, node:child_process, node:dns, timers).
// Protocol code written for AbstractEventLoop runs unchanged on it or on
// UvEventLoop. The algorithms are BaseEventLoop's; this is the mechanics.
//
// Node cannot watch an arbitrary fd, so addReader/addWriter use asyncuv's
// own Poll handle on Loop.default(), which runs embedded in Node's loop.
// reusePort on TCP servers is net's listen({ reusePort }) from Node 22.12
// on; before that (Node ignores the flag there) asyncuv's TCP handle makes
// the listening socket and node:net is given its fd.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync } from 'node:fs';
import { lookup, lookupService } from 'node:dns/promises';
import net from 'node:net';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import { isatty } from 'node:tty';
import { UsageError } from '../errors/usage-error.js';
import * as dns from '../handles/dns.js';
import { Loop } from '../handles/loop.js';
import { Pipe } from '../handles/pipe.js';
import { type SocketAddress, TCP } from '../handles/tcp.js';
import type { UDP } from '../handles/udp.js';
import { UvError } from '../handles/uv-error.js';
import {
  type AddrInfoQuery,
  BaseEventLoop,
  type ConnectOptions,
  type DatagramPlan,
  passedFdsStdio,
  type ServeRequest,
  type SpawnPlan,
  type StdioPlan,
  type TlsRequest,
  type UpgradeTlsOptions,
} from '../loop/base-event-loop.js';
import { CancelledError } from '../loop/errors.js';
import type {
  AbstractEventLoop,
  AddrInfo,
  ServerAddress,
  TlsOptions,
  UnixServerAddress,
} from '../loop/events.js';
import {
  type Address,
  type AnyProtocol,
  type DatagramProtocol,
  type SubprocessProtocol,
  isBufferedProtocol,
  newProtocol,
} from '../loop/protocols.js';
import type { ResolvedAddress } from '../loop/resolve.js';
import type { Listener, StreamServer } from '../loop/server.js';
import { serverSockAddress } from '../loop/server-sock.js';
import { closeKeepingSocketFile, removeSocketFileOnClose } from '../loop/unix-socket-file.js';
import type { DatagramTransport, SubprocessTransport, Transport } from '../loop/transports.js';
import { NodeDatagramTransport } from './node-datagram-transport.js';
import { notSupported, toUvError } from './node-errors.js';
import { NodeListener } from './node-listener.js';
import { NodeSubprocessTransport, type ChildPipes } from './node-subprocess-transport.js';
import { serverSecureContext, tlsExtra, type TlsUpgradeOptions, upgradeToTls } from './node-tls.js';
import { NodeTransport, ReadIntoSlot } from './node-transport.js';
import { whenStarted } from '../loop/transport-base.js';
import { readerGone, watchReaderGone } from '../loop/reader-gone.js';
import { childPipe } from '../handles/process.js';

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, num]) => [num, name as NodeJS.Signals]),
);

/** A connected or accepted socket, with getExtraInfo()'s table and its read slot, if any. */
interface Connection {
  socket: net.Socket;
  extra: Record<string, unknown>;
  /** Set when the socket reads into a BufferedProtocol's buffers (Node's onread). */
  slot?: ReadIntoSlot | undefined;
}

function aborted(signal: AbortSignal | undefined): CancelledError {
  return new CancelledError('The connection was aborted', { cause: signal?.reason });
}

/** Connects `socket`; rejects with a UvError (destroying the socket) or on abort. */
function connectSocket(
  socket: net.Socket,
  options: net.NetConnectOpts,
  signal: AbortSignal | undefined,
): Promise<void> {
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
  const peer = socketName(socket, 'getpeername');
  if (peer !== undefined) extra['peername'] = peer;
  const local = socketName(socket, 'getsockname');
  if (local !== undefined) extra['sockname'] = local;
  return extra;
}

interface NameOut {
  address?: string;
  port?: number;
}

/**
 * A TCP socket's peer or local address, asked of its libuv handle. The
 * socket's remoteAddress and localAddress getters would ask the same and
 * keep the answer on the socket (`_peername`, `_sockname`): two more
 * properties give every accepted socket a map of its own, unlike the one
 * Node's stream code met while the socket was being set up, and that code
 * then runs polymorphic on every read and write (callgrind, a node:net
 * echo at 50 connections: +861 instructions per round trip with the two
 * getters read once per connection). The getters are the fallback.
 */
function socketName(
  socket: net.Socket,
  which: 'getpeername' | 'getsockname',
): [string, number] | undefined {
  const handle = (socket as { _handle?: Record<string, unknown> | null })._handle;
  const ask = handle?.[which];
  if (typeof ask === 'function') {
    const out: NameOut = {};
    if (ask.call(handle, out) === 0 && out.address !== undefined) return [out.address, out.port!];
    return undefined;
  }
  const address = which === 'getpeername' ? socket.remoteAddress : socket.localAddress;
  const port = which === 'getpeername' ? socket.remotePort : socket.localPort;
  return address === undefined ? undefined : [address, port!];
}

/** A socket for a connection: with Node's onread into a BufferedProtocol's buffers, without TLS. */
function newSocket(protocol: AnyProtocol, ssl: unknown): [net.Socket, ReadIntoSlot | undefined] {
  // TLS decrypts into Node's buffers instead.
  const slot = !ssl && isBufferedProtocol(protocol) ? new ReadIntoSlot() : undefined;
  const onread = slot ? { onread: slot.option() } : {};
  const socket = new net.Socket({ allowHalfOpen: true, ...onread });
  socket.pause();
  return [socket, slot];
}

export class NodeEventLoop extends BaseEventLoop<Connection> implements AbstractEventLoop {
  #immediate: NodeJS.Immediate | undefined;
  #timeout: NodeJS.Timeout | undefined;
  // Node's signal listeners do not keep the process alive; libuv's signal
  // handles (UvEventLoop) do. A ref'd timer that never fires stands in for
  // them while any handler is installed.
  #signalKeepAlive: NodeJS.Timeout | undefined;
  #signalsWatched = 0;
  readonly #onImmediate = (): void => {
    this.#immediate = undefined;
    this.runOnce();
  };
  readonly #onTimeout = (): void => {
    this.#timeout = undefined;
    this.timerFired();
  };

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

  protected closeScheduling(): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    this.armTimer(null);
  }

  // --- names ------------------------------------------------------------------

  protected async lookupHost(host: string): Promise<ResolvedAddress[]> {
    let results;
    try {
      results = await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw toUvError(err);
    }
    return results.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
  }

  protected async lookupAddrInfo(
    host: string | null,
    port: number | null,
    query: AddrInfoQuery,
  ): Promise<AddrInfo[]> {
    let results: Array<{ address: string; family: number }>;
    if (host === null) {
      // getaddrinfo(3) with no host: the loopback addresses, IPv6 first
      // (with AI_PASSIVE: the wildcard ones, IPv4 first), where
      // node:dns would answer nothing.
      const passive = ((query.flags ?? 0) & dns.constants.AI_PASSIVE) !== 0;
      const v4 = { address: passive ? '0.0.0.0' : '127.0.0.1', family: 4 };
      const v6 = { address: passive ? '::' : '::1', family: 6 };
      results = (passive ? [v4, v6] : [v6, v4]).filter(
        (r) => query.family === 0 || r.family === query.family,
      );
    } else {
      try {
        const hints = query.flags ? { hints: query.flags } : {};
        results = await lookup(host, { all: true, family: query.family, verbatim: true, ...hints });
      } catch (err) {
        throw toUvError(err);
      }
    }
    // node:dns answers addresses only; getaddrinfo(3) (UvEventLoop's, and
    // asyncio's) lists each address once per socket type the query
    // allows: stream, datagram and raw when it names none.
    const kinds = socketKinds(query.type, query.proto);
    return results.flatMap((r) =>
      kinds.map(([socktype, protocol]) => ({
        family: r.family === 6 ? 6 : 4,
        socktype,
        protocol,
        address: r.address,
        port: port ?? 0,
      })),
    );
  }

  protected async lookupName(addr: string, port: number): Promise<[string, string]> {
    try {
      const { hostname, service } = await lookupService(addr, port);
      return [hostname, service];
    } catch (err) {
      // node:dns asks getnameinfo(3) with NI_NAMEREQD: an address with no
      // name fails. asyncio's (flags 0) answers its numeric form then; so
      // does libuv's getnameinfo, here on Loop.default() (which runs
      // inside Node's loop, as the fd watchers' Polls).
      const uvErr = toUvError(err);
      if (!(uvErr instanceof UvError) || uvErr.code !== 'EAI_NONAME') throw uvErr;
      const info = await dns.getnameinfo(Loop.default(), addr, port);
      return [info.host, info.service];
    }
  }

  // --- stream connections -----------------------------------------------------

  protected async connectTcp(
    host: string,
    port: number,
    opts: ConnectOptions,
    protocol: AnyProtocol,
  ): Promise<Connection> {
    const [socket, slot] = newSocket(protocol, opts.ssl);
    const connect: net.NetConnectOpts = { host, port, noDelay: true };
    if (opts.localAddr) {
      Object.assign(connect, { localAddress: opts.localAddr[0], localPort: opts.localAddr[1] });
    }
    await connectSocket(socket, connect, opts.signal);
    return { socket, slot, extra: tcpExtra(socket) };
  }

  protected async connectUnix(
    path: string,
    opts: ConnectOptions,
    protocol: AnyProtocol,
  ): Promise<Connection> {
    const [socket, slot] = newSocket(protocol, opts.ssl);
    await connectSocket(socket, { path }, opts.signal);
    return { socket, slot, extra: { socket, peername: path, sockname: '' } };
  }

  /**
   * A `sock` given to createConnection, createUnixConnection or
   * connectAcceptedSocket: a net.Socket over a duplicate of the handle's fd
   * (net takes an fd, not one of our handles); the handle closes at once.
   * A Unix socket's names are the handle's (net.Socket has none).
   */
  protected adoptStream(sock: TCP | Pipe): Connection {
    const names = sock instanceof Pipe ? pipeNames(sock) : undefined;
    // Bytes the handle read and nobody took (beyond a sockRecv's request):
    // the transport's first.
    const unread = sock.takeUnread();
    let socket: net.Socket;
    try {
      socket = new net.Socket({ fd: sock.dupFileno(), allowHalfOpen: true });
    } catch (err) {
      throw toUvError(err);
    } finally {
      sock.close();
    }
    socket.pause();
    if (unread.length > 0) socket.unshift(Buffer.concat(unread));
    if (names !== undefined) return { socket, extra: { socket, ...names } };
    socket.setNoDelay(true);
    return { socket, extra: tcpExtra(socket) };
  }

  protected discard({ socket }: Connection): void {
    socket.destroy();
  }

  protected async startConnection<P extends AnyProtocol>(
    { socket, slot, extra }: Connection,
    protocol: P,
    tls: TlsRequest | undefined,
  ): Promise<[Transport, P]> {
    if (tls === undefined) return this.#transport(socket, protocol, extra, slot);
    const tlsSocket = await this.#handshake(socket, tls.ssl, {
      serverSide: tls.serverSide === true,
      serverHostname: tls.serverHostname,
      handshakeTimeout: tls.handshakeTimeout,
      signal: tls.signal,
    });
    const tlsInfo = { ...extra, ...tlsExtra(tlsSocket) };
    return this.#transport(tlsSocket, protocol, tlsInfo, undefined, tls.shutdownTimeout);
  }

  /** A transport whose connectionMade has run; rejects if it failed or the peer left first. */
  #transport<P extends AnyProtocol>(
    stream: Duplex,
    protocol: P,
    extra: Record<string, unknown>,
    slot?: ReadIntoSlot,
    shutdownTimeout?: number,
  ): Promise<[Transport, P]> {
    return whenStarted(protocol, (ready) => {
      const kind = 'transport' as const;
      const opts = { protocol, extra, kind, readInto: slot, ready, shutdownTimeout };
      return new NodeTransport({ loop: this, stream, ...opts });
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
    opts: Omit<TlsUpgradeOptions, 'loop'>,
  ): Promise<tls.TLSSocket> {
    const untrack = this.hold({ closeWithLoop: () => stream.destroy() });
    try {
      const secure = upgradeToTls(stream, ssl, { ...opts, loop: this });
      secure.then(untrack, untrack);
      return this.closedWins(secure);
    } catch (err) {
      untrack();
      throw err;
    }
  }

  protected override checkTls(serverSsl?: TlsOptions): void {
    if (serverSsl !== undefined) serverSecureContext(serverSsl);
  }

  /**
   * Wraps an established transport in TLS and returns the new transport;
   * the old one must no longer be used. A NodeTransport hands its Node
   * stream to node:tls directly; any other Transport (a UvEventLoop one)
   * goes through toDuplex().
   */
  protected async upgradeTls(
    transport: Transport,
    protocol: AnyProtocol,
    ssl: TlsOptions,
    opts: UpgradeTlsOptions,
  ): Promise<Transport> {
    const extra = {
      socket: transport.getExtraInfo('socket'),
      peername: transport.getExtraInfo('peername'),
      sockname: transport.getExtraInfo('sockname'),
    };
    let stream: Duplex;
    if (transport instanceof NodeTransport) stream = transport.detachStream();
    else {
      const { toDuplex } = await import('./duplex.js');
      // Half-open: the TLS socket above decides when the raw side ends.
      stream = toDuplex(transport, { allowHalfOpen: true });
    }
    const tlsSocket = await this.#handshake(stream, ssl, opts);
    return new Promise((resolve, reject) => {
      const upgraded = new NodeTransport({
        loop: this,
        stream: tlsSocket,
        protocol,
        extra: { ...extra, ...tlsExtra(tlsSocket) },
        callConnectionMade: false,
        kind: 'transport',
        shutdownTimeout: opts.shutdownTimeout,
        ready: (err) => (err === null ? resolve(upgraded) : reject(err)),
      });
    });
  }

  // --- servers --------------------------------------------------------------

  protected async listenTcp(
    host: string,
    port: number,
    opts: { ipv6Only: boolean; reusePort: boolean; backlog: number },
    serve: (connection: Connection) => void,
  ): Promise<Listener<SocketAddress>> {
    const options = { allowHalfOpen: true, pauseOnConnect: true, noDelay: true };
    const listener = this.#listener<SocketAddress>(options, serve, tcpExtra);
    const { ipv6Only, reusePort, backlog } = opts;
    if (reusePort && !kListenReusePort) {
      const fd = reusePortSocket(host, port, ipv6Only, backlog);
      await listener.listen({ fd, backlog }, tcpAddress);
    } else {
      try {
        await listener.listen(
          { host, port, backlog, ipv6Only, ...(reusePort ? { reusePort: true } : {}) },
          tcpAddress,
        );
      } catch (err) {
        // net.Server binds and listens in one call and names the failed
        // bind 'listen'; asyncio's error is the bind's, as UvEventLoop's.
        if (!(err instanceof UvError) || err.code !== 'EADDRINUSE' || err.syscall !== 'listen') {
          throw err;
        }
        throw new UvError(err.errno, 'bind', `${host}:${port}`);
      }
    }
    return listener;
  }

  /**
   * createServer's `sock`: the net.Server listens on a duplicate of the
   * handle's fd (net takes an fd, not one of our handles), and the handle,
   * which no Loop of ours ever listens on, is closed once the server
   * listens on the copy or fails to.
   */
  protected async listenOn(
    sock: TCP,
    host: unknown,
    port: number,
    backlog: number,
    serve: (connection: Connection) => void,
  ): Promise<Listener<SocketAddress>> {
    serverSockAddress(sock, host, port);
    const options = { allowHalfOpen: true, pauseOnConnect: true, noDelay: true };
    const listener = this.#listener<SocketAddress>(options, serve, tcpExtra);
    try {
      // From here on the server owns sock, as on UvEventLoop, where a
      // listen that fails closes the server and its socket.
      await listener.listen({ fd: sock.dupFileno(), backlog }, tcpAddress);
    } finally {
      sock.close();
    }
    return listener;
  }

  protected async listenUnix(
    path: string,
    backlog: number,
    serve: (connection: Connection) => void,
  ): Promise<Listener<UnixServerAddress>> {
    const listener = this.#unixListener(path, serve);
    await listener.listen({ path, backlog }, () => ({ path }));
    return listener;
  }

  /**
   * createUnixServer's `sock`: the net.Server listens on a duplicate of the
   * handle's fd, and the handle closes once it listens (or fails to, as
   * listenOn). Its socket file stays while the server listens, and goes
   * when the server closes if the handle's own close would have taken it
   * (unix-socket-file.ts).
   */
  protected async listenUnixOn(
    sock: Pipe,
    path: string,
    backlog: number,
    serve: (connection: Connection) => void,
  ): Promise<Listener<UnixServerAddress>> {
    const listener = this.#unixListener(path, serve);
    try {
      await listener.listen({ fd: sock.dupFileno(), backlog }, () => ({ path }));
    } catch (err) {
      sock.close();
      throw err;
    }
    return closeKeepingSocketFile(sock, path) ? removeSocketFileOnClose(listener, path) : listener;
  }

  #unixListener(
    path: string,
    serve: (connection: Connection) => void,
  ): NodeListener<UnixServerAddress> {
    const extraOf = (socket: net.Socket): Record<string, unknown> => {
      return { socket, peername: '', sockname: path };
    };
    const options = { allowHalfOpen: true, pauseOnConnect: true };
    return this.#listener<UnixServerAddress>(options, serve, extraOf);
  }

  #listener<A extends ServerAddress>(
    options: net.ServerOpts,
    serve: (connection: Connection) => void,
    extraOf: (socket: net.Socket) => Record<string, unknown>,
  ): NodeListener<A> {
    return new NodeListener<A>(
      options,
      (run) => this.dispatch(run, undefined),
      (socket) => serve({ socket, extra: extraOf(socket) }),
    );
  }

  protected serveAccepted(
    { socket, extra }: Connection,
    { server, protocolFactory, tls, keepAlive }: ServeRequest,
  ): void {
    // SO_KEEPALIVE; a delay of 0 leaves the idle time at the kernel's.
    if (keepAlive === true) socket.setKeepAlive(true, 0);
    if (tls === undefined) return this.#serve(server, socket, protocolFactory, extra);
    // Handshake failures are the client's business; asyncio reports
    // them only in debug mode.
    const { handshakeTimeout, shutdownTimeout } = tls;
    this.#handshake(socket, tls.ssl, { serverSide: true, handshakeTimeout }).then(
      (secure) =>
        this.#serve(
          server,
          secure,
          protocolFactory,
          { ...extra, ...tlsExtra(secure) },
          shutdownTimeout,
        ),
      (exception) => {
        if (!this.getDebug()) return;
        this.callExceptionHandler({ message: 'TLS handshake failed', exception });
      },
    );
  }

  #serve(
    server: StreamServer,
    stream: Duplex,
    protocolFactory: () => AnyProtocol,
    extra: Record<string, unknown>,
    shutdownTimeout?: number,
  ): void {
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
    const owner = server;
    const kind = 'transport';
    server.attach(
      new NodeTransport({ loop: this, stream, protocol, extra, owner, kind, shutdownTimeout }),
    );
  }

  // --- datagrams, pipes, subprocesses, signals ----------------------------------

  protected async openDatagram<P extends DatagramProtocol>(
    protocolFactory: () => P,
    { local, remote, family, reusePort, allowBroadcast }: DatagramPlan,
  ): Promise<[DatagramTransport, P]> {
    // reusePort is libuv's UV_UDP_REUSEADDR, which node:dgram's reuseAddr
    // sets too: the same socket option UvEventLoop's endpoints get
    // (SO_REUSEADDR on Linux, SO_REUSEPORT on the BSDs and macOS).
    const type = family === 6 ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, reuseAddr: reusePort });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        const address = local ? { address: local.address } : {};
        socket.bind({ port: local?.port ?? 0, ...address, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      if (allowBroadcast) socket.setBroadcast(true);
      if (remote) {
        await new Promise<void>((resolve, reject) => {
          const connected = (err?: Error): void => (err ? reject(err) : resolve());
          socket.connect(remote.port, remote.address, connected);
        });
      }
    } catch (err) {
      socket.close();
      throw toUvError(err);
    }
    return this.#datagram(protocolFactory, socket, remote && [remote.address, remote.port]);
  }

  /**
   * createDatagramEndpoint's `sock`: a dgram socket bound to a duplicate of
   * the handle's fd (dgram's bind({ fd })); the handle closes at once. A
   * connected handle's socket is disconnected and connected again to its
   * peer through dgram, which must know of it to send without an address.
   */
  protected async openDatagramOn<P extends DatagramProtocol>(
    protocolFactory: () => P,
    sock: UDP,
    remote: Address | undefined,
  ): Promise<[DatagramTransport, P]> {
    const type = sock.getsockname().family === 'IPv6' ? 'udp6' : 'udp4';
    let fd: number;
    try {
      // libuv marks a socket that is connected already as such, and dgram
      // (which does not know) could then neither connect it nor send on it.
      if (remote) sock.disconnect();
      fd = sock.dupFileno();
    } finally {
      sock.close();
    }
    const socket = dgram.createSocket({ type });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ fd }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      if (remote) {
        await new Promise<void>((resolve, reject) => {
          socket.connect(remote[1], remote[0], (err?: Error) => (err ? reject(err) : resolve()));
        });
      }
    } catch (err) {
      socket.close();
      throw toUvError(err);
    }
    return this.#datagram(protocolFactory, socket, remote);
  }

  /** The transport of a bound (and maybe connected) dgram socket, which it owns. */
  #datagram<P extends DatagramProtocol>(
    protocolFactory: () => P,
    socket: dgram.Socket,
    remote: Address | undefined,
  ): Promise<[DatagramTransport, P]> {
    const protocol = newProtocol(protocolFactory, () => socket.close());
    return whenStarted(protocol, (ready) => {
      return new NodeDatagramTransport({ loop: this, socket, protocol, remote, ready });
    });
  }

  /** The transport owns `fd` from now on and closes it. */
  protected openPipe<P extends AnyProtocol>(
    protocolFactory: () => P,
    fd: number,
    reads: boolean,
  ): Promise<[Transport, P]> {
    // net.Socket takes pipes and sockets only; tty.ReadStream would read a
    // terminal through a file libuv reopens, leaving the fd given open.
    if (isatty(fd)) throw notSupported('a terminal (TTY) as a pipe transport');
    // A write pipe learns that its reader went away (loop/reader-gone.ts),
    // through a Poll on the fd watchers' loop.
    let transport: NodeTransport | undefined;
    const owner = reads
      ? undefined
      : watchReaderGone(this.fdLoop(), fd, () => readerGone(transport));
    let socket: net.Socket;
    try {
      socket = new net.Socket({ fd, readable: reads, writable: !reads, allowHalfOpen: true });
    } catch (err) {
      owner?.detach();
      throw toUvError(err);
    }
    const protocol = newProtocol(protocolFactory, () => {
      owner?.detach();
      socket.destroy();
    });
    return whenStarted(protocol, (ready) => {
      const extra = { socket, pipe: socket };
      const opts = { protocol, extra, writable: !reads, readable: reads, ready, owner };
      transport = new NodeTransport({ loop: this, stream: socket, kind: 'transport', ...opts });
      return transport;
    });
  }

  protected async spawnSubprocess<P extends SubprocessProtocol>(
    protocol: P,
    program: string,
    args: string[],
    { stdin, stdout, stderr }: StdioPlan,
    plan: SpawnPlan,
  ): Promise<[SubprocessTransport, P]> {
    // Every piped fd of the child is a pipe(2) of ours, as Popen's are
    // (asyncio on Linux): child_process would make a Unix socket pair,
    // which the child cannot open again by name (/dev/stdin, /dev/stdout:
    // ENXIO). The child's end is given as its fd, our end becomes a
    // net.Socket over the fd (as openPipe's). stderr 'stdout'
    // (asyncio.STDOUT): the child's fd 2 is what its fd 1 is, the same
    // pipe. 'inherit' for both means our fd 1, not our fd 2.
    const pipes: ChildPipes = {};
    const theirs: number[] = [];
    /** A pipe for the child's `fd`: ours as a net.Socket in `pipes`, the child's end returned. */
    const pipeFor = (fd: 0 | 1 | 2): number => {
      const [readFd, writeFd] = childPipe();
      const [mine, child] = fd === 0 ? [writeFd, readFd] : [readFd, writeFd];
      theirs.push(child);
      try {
        pipes[fd] = new net.Socket({
          fd: mine,
          readable: fd !== 0,
          writable: fd === 0,
          allowHalfOpen: true,
        });
      } catch (err) {
        closeSync(mine);
        throw toUvError(err);
      }
      return child;
    };
    const destroyPipes = (): void => {
      for (const fd of [0, 1, 2] as const) pipes[fd]?.destroy();
    };
    let child: ChildProcess;
    try {
      const childStdin = stdin === 'pipe' ? pipeFor(0) : stdin;
      const childStdout = stdout === 'pipe' ? pipeFor(1) : stdout;
      let childStderr: StdioPlan['stdout'];
      if (stderr === 'stdout') childStderr = stdout === 'inherit' ? 1 : childStdout;
      else childStderr = stderr === 'pipe' ? pipeFor(2) : stderr;
      const stdio: Extract<StdioOptions, unknown[]> = [childStdin, childStdout, childStderr];
      stdio.push(...passedFdsStdio(plan.passFds));
      const env = plan.env ? { env: plan.env } : {};
      const cwd = plan.cwd ? { cwd: plan.cwd } : {};
      const uid = plan.uid !== undefined ? { uid: plan.uid } : {};
      const gid = plan.gid !== undefined ? { gid: plan.gid } : {};
      // detached is only the setsid here too: Node refs the child until
      // child.unref(), which is never called, so the exit is still awaited.
      const detached = plan.startNewSession;
      // The file run is `executable` if given; `program` stays argv[0].
      const argv0 = program;
      child = spawn(plan.executable ?? program, args, {
        stdio,
        detached,
        argv0,
        ...env,
        ...cwd,
        ...uid,
        ...gid,
      });
    } catch (err) {
      destroyPipes();
      throw err instanceof UvError || err instanceof UsageError ? err : toUvError(err);
    } finally {
      // The child has its own copies of its ends (or never came).
      for (const fd of theirs) closeSync(fd);
    }
    if (child.pid === undefined) {
      destroyPipes();
      // Node reports a failed spawn (ENOENT...) as an 'error' event.
      throw await new Promise<Error>((resolve) => {
        child.once('error', (err) => resolve(toUvError(err)));
      });
    }
    return whenStarted(protocol, (ready) => {
      return new NodeSubprocessTransport({ loop: this, child, protocol, pipes, ready });
    });
  }

  /** A process signal listener. */
  protected watchSignal(signum: number, fire: () => void): () => void {
    const name = signalNames.get(signum);
    if (name === undefined) throw new UsageError('ERR_UNKNOWN_SIGNAL', `Unknown signal: ${signum}`);
    const listener = (): void => fire();
    process.on(name, listener);
    this.#keepAliveForSignals(+1);
    return () => {
      process.off(name, listener);
      this.#keepAliveForSignals(-1);
    };
  }

  #keepAliveForSignals(change: number): void {
    this.#signalsWatched += change;
    if (this.#signalsWatched > 0) this.#signalKeepAlive ??= setInterval(() => {}, 2 ** 31 - 1);
    else if (this.#signalKeepAlive !== undefined) {
      clearInterval(this.#signalKeepAlive);
      this.#signalKeepAlive = undefined;
    }
  }

  /** asyncuv's Poll, on Loop.default(), which runs embedded in Node's loop. */
  protected fdLoop(): Loop {
    return Loop.default();
  }
}

// net's listen({ reusePort }) arrived in Node 22.12 (and 23.1); older
// versions ignore the flag.
const [kNodeMajor = 0, kNodeMinor = 0] = process.versions.node.split('.').map(Number);
const kListenReusePort = kNodeMajor > 22 || (kNodeMajor === 22 && kNodeMinor >= 12);

/**
 * The fd of a socket listening on host:port with SO_REUSEPORT, for
 * net.Server's listen({ fd }), which owns it from then on. Made by a TCP
 * handle of a private Loop: a taken port fails here (bind or listen), as
 * net's own listen would. The handle's fd is closed with the loop before
 * any pass of it, so no connection is accepted on it; the socket and its
 * queue live on in the copy.
 */
/**
 * The [socktype, protocol] pairs getaddrinfo(3) (glibc) lists for each
 * address: those of stream/TCP, datagram/UDP and raw that the query's
 * type and protocol (0 or absent: any) allow.
 */
function socketKinds(type: number | undefined, proto: number | undefined): Array<[number, number]> {
  const { SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, IPPROTO_TCP, IPPROTO_UDP } = dns.constants;
  if (type === SOCK_RAW) return [[SOCK_RAW, proto ?? 0]];
  const all: Array<[number, number]> = [
    [SOCK_STREAM, IPPROTO_TCP],
    [SOCK_DGRAM, IPPROTO_UDP],
    [SOCK_RAW, 0],
  ];
  return all.filter(([t, p]) => (!type || t === type) && (!proto || p === proto));
}

function reusePortSocket(host: string, port: number, ipv6Only: boolean, backlog: number): number {
  const loop = new Loop();
  try {
    const tcp = new TCP(loop);
    tcp.bind(host, port, { ipv6Only, reusePort: true });
    tcp.listen(backlog, () => {});
    return tcp.dupFileno();
  } finally {
    loop.close();
  }
}

/** A connected Unix socket's names, as getExtraInfo() gives them on UvEventLoop. */
function pipeNames(sock: Pipe): { sockname: string; peername: string } {
  return { sockname: sock.getsockname(), peername: sock.getpeername() };
}

/** A listening TCP server's address, as TCP.getsockname() gives it on UvEventLoop. */
function tcpAddress(server: net.Server): SocketAddress {
  const bound = server.address() as net.AddressInfo;
  const family = bound.family === 'IPv6' ? 'IPv6' : 'IPv4';
  return { address: bound.address, port: bound.port, family };
}
