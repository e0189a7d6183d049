// UvEventLoop: the PEP 3156 event loop on asyncuv's own libuv loop. The
// algorithms are BaseEventLoop's; this is the mechanics: an Idle and a
// Timer handle drive the ready queue, and TCP, Pipe, UDP, Process and
// Signal handles do the I/O.
import { closeSync } from 'node:fs';
import { Async } from '../handles/async.js';
import * as dns from '../handles/dns.js';
import type { Handle } from '../handles/handle.js';
import { Idle } from '../handles/idle.js';
import { Loop } from '../handles/loop.js';
import { Pipe } from '../handles/pipe.js';
import { childPipe, Process, type StdioOption } from '../handles/process.js';
import { Signal } from '../handles/signal.js';
import type { Stream } from '../handles/stream.js';
import { type SocketAddress, TCP, tcpNames } from '../handles/tcp.js';
import { Timer } from '../handles/timer.js';
import { UDP } from '../handles/udp.js';
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
} from './base-event-loop.js';
import { CancelledError, loopClosed } from './errors.js';
import type { AbstractEventLoop, AddrInfo, TlsOptions, UnixServerAddress } from './events.js';
import { kernelKeepAliveSec } from './keep-alive.js';
import { UdpTransport } from './datagram-transport.js';
import {
  type Address,
  type AnyProtocol,
  type DatagramProtocol,
  newProtocol,
  type SubprocessProtocol,
} from './protocols.js';
import { type ResolvedAddress, type SockType, uvLookup } from './resolve.js';
import type { Listener } from './server.js';
import { checkSockLoop, claimSock, serverSockAddress } from './server-sock.js';
import type { SendfileRequest } from './sendfile.js';
import { readerGone, watchReaderGone } from './reader-gone.js';
import { keepReplacedSocketFile } from './unix-socket-file.js';
import { StreamTransport } from './stream-transport.js';
import { UvSubprocessTransport } from './subprocess-transport.js';
import { prepareTlsServer, tlsUpgrader } from './tls-hook.js';
import { type TransportOwner, whenStarted } from './transport-base.js';
import type { DatagramTransport, SubprocessTransport, Transport } from './transports.js';

/** Waits for a handle's connect callback; closes the handle on failure or abort. */
function connectStream(
  stream: Stream,
  start: (cb: (err: UvError | null) => void) => void,
  signal: AbortSignal | undefined,
): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      stream.close();
      reject(new CancelledError('The connection was aborted', { cause: signal?.reason }));
    };
    try {
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      start((err) => {
        signal?.removeEventListener('abort', onAbort);
        if (stream.closed) return; // aborted meanwhile
        if (err !== null) {
          stream.close();
          reject(err);
        } else resolve(stream);
      });
    } catch (err) {
      // A start that throws at once (an invalid or too long Unix path)
      // leaves the handle open: close it.
      signal?.removeEventListener('abort', onAbort);
      if (!stream.closed) stream.close();
      reject(err);
    }
  });
}

function addrTuple(a: { address: string; port: number }): Address {
  return [a.address, a.port];
}

/** getExtraInfo()'s table for a connected stream: the handle and both ends' names. */
function streamExtra(stream: Stream): Record<string, unknown> {
  const extra: Record<string, unknown> = { socket: stream };
  if (stream instanceof Pipe) {
    try {
      extra['sockname'] = stream.getsockname();
      extra['peername'] = stream.getpeername();
    } catch {
      // a pipe from an fd has no names
    }
  } else if (stream instanceof TCP) {
    // One native call for both: a name the socket has not (not connected
    // yet) is left out, as asyncio leaves it None.
    try {
      const [peer, sock] = tcpNames(stream);
      if (peer !== undefined) extra['peername'] = peer;
      if (sock !== undefined) extra['sockname'] = sock;
    } catch {
      // a handle no longer usable: no names
    }
  }
  return extra;
}

/**
 * libuv defers a TCP bind's EADDRINUSE to the next call on the handle
 * (getsockname, listen or connect), which then reports it under its own
 * name without the address. asyncio's message names the address it could
 * not bind ("error while attempting to bind on address"), and
 * NodeEventLoop's is "bind EADDRINUSE: ... host:port": the same here.
 */
function bindError(err: unknown, host: string, port: number): unknown {
  if (!(err instanceof UvError) || err.code !== 'EADDRINUSE' || err.syscall === 'bind') return err;
  return new UvError(err.errno, 'bind', `${host}:${port}`);
}

/** A handle that closes once it is bound, if binding throws. */
function bound<H extends { close(): void }>(handle: H, bind: (h: H) => void): H {
  try {
    bind(handle);
  } catch (err) {
    handle.close();
    throw err;
  }
  return handle;
}

export class UvEventLoop extends BaseEventLoop<Stream> implements AbstractEventLoop {
  /** The libuv loop everything of this event loop runs on. */
  readonly uvloop: Loop;
  readonly #idle: Idle;
  readonly #timer: Timer;
  #async: Async | undefined;
  readonly #lookup: (host: string, socktype: SockType) => Promise<ResolvedAddress[]>;
  // Whether #idle is started, tracked here to save a native call per
  // iteration: it stays started while iterations keep scheduling work.
  #idleStarted = false;
  #rescheduled = false;
  // Iterations in a row that scheduled nothing. The idle stops after the
  // second, not the first: code resumed by an await runs after the pass
  // (in its microtasks) and typically schedules again (callSoon after
  // await), and a stop and start per iteration cost two native calls and
  // made every pass a full one (a started or stopped handle ends light
  // passes, native/loop_wrap.h rule 9).
  #emptyRuns = 0;
  readonly #onIdle = (): void => {
    this.#rescheduled = false;
    this.runOnce();
    // close() from one of its callbacks has closed the idle handle.
    if (this.#idle.closed) return;
    if (this.#rescheduled) {
      this.#emptyRuns = 0;
    } else if (this.#idleStarted && ++this.#emptyRuns >= 2) {
      this.#emptyRuns = 0;
      this.#idleStarted = false;
      this.#idle.stop();
    }
  };
  readonly #onTimer = (): void => this.timerFired();

  constructor(loop?: Loop) {
    super();
    this.uvloop = loop ?? Loop.default();
    this.#idle = new Idle(this.uvloop);
    this.#timer = new Timer(this.uvloop);
    this.#lookup = uvLookup(this.uvloop);
  }

  // --- scheduling ------------------------------------------------------------

  protected scheduleRun(): void {
    this.#rescheduled = true;
    if (this.#idleStarted || this.#idle.closed) return;
    this.#idleStarted = true;
    this.#idle.start(this.#onIdle);
  }

  protected armTimer(delayMs: number | null): void {
    if (this.#timer.closed) return;
    if (delayMs === null) this.#timer.stop();
    else this.#timer.start(this.#onTimer, delayMs);
  }

  /** Every callback of this loop runs inside a batch of its libuv loop. */
  protected override inIoCallback(): boolean {
    return this.uvloop.running;
  }

  protected override yieldToAwaiters(): void {
    this.uvloop.requestCheckpoint();
  }

  protected wakeup(): void {
    if (this.#async === undefined) {
      this.#async = new Async(this.uvloop, () => {});
      this.#async.unref();
    }
    this.#async.send();
  }

  protected closeScheduling(): void {
    this.#idle.close();
    this.#timer.close();
    this.#async?.close();
  }

  // --- names -----------------------------------------------------------------

  protected lookupHost(host: string, socktype: SockType): Promise<ResolvedAddress[]> {
    return this.#lookup(host, socktype);
  }

  protected async lookupAddrInfo(
    host: string | null,
    port: number | null,
    query: AddrInfoQuery,
  ): Promise<AddrInfo[]> {
    const results = await dns.getaddrinfo(this.uvloop, host ?? undefined, port ?? undefined, {
      family: query.family,
      ...(query.type !== undefined ? { socktype: query.type } : {}),
      ...(query.proto !== undefined ? { protocol: query.proto } : {}),
      ...(query.flags !== undefined ? { flags: query.flags } : {}),
    });
    return results.map((r) => ({
      family: r.family === 'IPv6' ? 6 : 4,
      socktype: r.socktype,
      protocol: r.protocol,
      address: r.address,
      port: r.port,
    }));
  }

  protected async lookupName(addr: string, port: number): Promise<[string, string]> {
    const info = await dns.getnameinfo(this.uvloop, addr, port);
    return [info.host, info.service];
  }

  // --- stream connections ------------------------------------------------------

  protected async connectTcp(address: string, port: number, opts: ConnectOptions): Promise<Stream> {
    const tcp = new TCP(this.uvloop);
    const { localAddr } = opts;
    try {
      if (localAddr) tcp.bind(localAddr[0], localAddr[1]);
    } catch (err) {
      tcp.close();
      throw err;
    }
    try {
      await connectStream(tcp, (cb) => tcp.connect(address, port, cb), opts.signal);
    } catch (err) {
      throw localAddr ? bindError(err, localAddr[0], localAddr[1]) : err;
    }
    // asyncio sets TCP_NODELAY on every TCP connection it makes.
    tcp.setNoDelay(true);
    return tcp;
  }

  protected connectUnix(path: string, opts: ConnectOptions): Promise<Stream> {
    const pipe = new Pipe(this.uvloop);
    return connectStream(pipe, (cb) => pipe.connect(path, cb), opts.signal);
  }

  /** A `sock` of this loop's Loop: its callbacks run in this loop's batches. */
  protected override checkSock(sock: Handle): void {
    checkSockLoop(sock, this.uvloop);
  }

  protected adoptStream(sock: TCP | Pipe): Stream {
    // asyncio sets TCP_NODELAY on every TCP connection it makes or accepts.
    if (sock instanceof TCP) sock.setNoDelay(true);
    return sock;
  }

  protected discard(stream: Stream): void {
    if (!stream.closed) stream.close();
  }

  protected startConnection<P extends AnyProtocol>(
    stream: Stream,
    protocol: P,
    tls: TlsRequest | undefined,
  ): Promise<[Transport, P]> {
    if (tls !== undefined) return this.#startTls(stream, protocol, tls, undefined);
    return whenStarted(protocol, (ready) => this.#transport(stream, protocol, undefined, ready));
  }

  /** A transport over a connected or accepted stream, counted until it is gone. */
  #transport(
    stream: Stream,
    protocol: AnyProtocol,
    owner: TransportOwner | undefined,
    ready?: (err: Error | null) => void,
  ): StreamTransport {
    const extra = streamExtra(stream);
    const kind = 'transport';
    return new StreamTransport({ loop: this, stream, protocol, extra, owner, ready, kind });
  }

  /**
   * The TLS transport over `stream`: node:tls over a raw transport with no
   * protocol of its own yet (the TLS layer takes it over).
   */
  async #startTls<P extends AnyProtocol>(
    stream: Stream,
    protocol: P,
    tls: TlsRequest,
    server: ServeRequest['server'] | undefined,
  ): Promise<[Transport, P]> {
    const raw = this.#transport(stream, {}, server);
    server?.attach(raw);
    const secure = await this.#beforeClose(
      tlsUpgrader()(this, raw, protocol, tls.ssl, {
        serverSide: server !== undefined || tls.serverSide === true,
        serverHostname: tls.serverHostname,
        handshakeTimeout: tls.handshakeTimeout,
        shutdownTimeout: tls.shutdownTimeout,
        signal: tls.signal,
        callConnectionMade: true,
      }),
    );
    return [secure, protocol];
  }

  /**
   * A TLS handshake, or ERR_LOOP_CLOSED once the loop closes. The loop's
   * close closes the raw transport under the handshake and tells nobody
   * (no connectionLost: a closed loop runs nothing), and drops the
   * handshake's timer, so node:tls above it would wait forever.
   */
  async #beforeClose<T>(handshake: Promise<T>): Promise<T> {
    let closed!: (err: Error) => void;
    const onClose = new Promise<never>((_, reject) => (closed = reject));
    const release = this.hold({ closeWithLoop: () => closed(loopClosed()) });
    try {
      return await this.closedWins(Promise.race([handshake, onClose]));
    } finally {
      release();
      // Whatever the handshake does later is nobody's business.
      handshake.catch(() => {});
      onClose.catch(() => {});
    }
  }

  protected override checkTls(serverSsl?: TlsOptions): void {
    tlsUpgrader();
    if (serverSsl !== undefined) prepareTlsServer(serverSsl);
  }

  protected upgradeTls(
    transport: Transport,
    protocol: AnyProtocol,
    ssl: TlsOptions,
    opts: UpgradeTlsOptions,
  ): Promise<Transport> {
    return this.#beforeClose(
      tlsUpgrader()(this, transport, protocol, ssl, { ...opts, callConnectionMade: false }),
    );
  }

  // --- servers ---------------------------------------------------------------------

  protected async listenTcp(
    address: string,
    port: number,
    opts: { ipv6Only: boolean; reusePort: boolean; backlog: number },
    serve: (stream: Stream) => void,
  ): Promise<Listener<SocketAddress>> {
    let sockname!: SocketAddress;
    // libuv defers a bind's EADDRINUSE to the next call (getsockname or
    // listen): the handle closes if either throws.
    const tcp = bound(new TCP(this.uvloop), (t) => {
      try {
        t.bind(address, port, { reusePort: opts.reusePort, ipv6Only: opts.ipv6Only });
        sockname = t.getsockname();
      } catch (err) {
        throw bindError(err, address, port);
      }
    });
    return this.#listener(tcp, sockname, opts.backlog, serve);
  }

  /** createServer's `sock`: a bound TCP handle of this loop, with no host or port. */
  protected listenOn(
    sock: TCP,
    host: unknown,
    port: number,
    backlog: number,
    serve: (stream: Stream) => void,
  ): Listener<SocketAddress> {
    const address = serverSockAddress(sock, host, port);
    this.checkSock(sock);
    return this.#listener(sock, address, backlog, serve);
  }

  /**
   * createUnixServer's `sock`: the server listens on the handle and closes
   * it, and the handle's close takes its socket file as it would anyway
   * (libuv unlinks the path of a Pipe bound with bind(), not of one opened
   * from an fd), unless another file replaced it (as every Unix server's).
   */
  protected async listenUnixOn(
    sock: Pipe,
    path: string,
    backlog: number,
    serve: (stream: Stream) => void,
  ): Promise<Listener<UnixServerAddress>> {
    return keepReplacedSocketFile(this.#listener(sock, { path }, backlog, serve), path);
  }

  protected async listenUnix(
    path: string,
    backlog: number,
    serve: (stream: Stream) => void,
  ): Promise<Listener<UnixServerAddress>> {
    const pipe = bound(new Pipe(this.uvloop), (p) => p.bind(path));
    return this.#listener(pipe, { path }, backlog, serve);
  }

  /** Listens once started; each connection accepted goes to `serve`. */
  #listener<A extends SocketAddress | UnixServerAddress>(
    stream: TCP | Pipe,
    address: A,
    backlog: number,
    serve: (stream: Stream) => void,
  ): Listener<A> {
    claimSock(stream);
    return {
      address,
      start: () => stream.listen(backlog, (err) => this.#accept(stream, err, serve)),
      close: () => stream.close(),
    };
  }

  #accept(listener: TCP | Pipe, err: UvError | null, serve: (stream: Stream) => void): void {
    if (err !== null) {
      this.callExceptionHandler({ message: 'Error on accept', exception: err });
      return;
    }
    const client = listener instanceof Pipe ? new Pipe(this.uvloop) : new TCP(this.uvloop);
    try {
      if (listener instanceof Pipe) listener.accept(client);
      else listener.accept(client as TCP);
      // asyncio sets TCP_NODELAY on every TCP connection it makes.
      if (client instanceof TCP) client.setNoDelay(true);
    } catch (exception) {
      client.close();
      this.callExceptionHandler({ message: 'Error on accept', exception });
      return;
    }
    serve(client);
  }

  protected serveAccepted(
    stream: Stream,
    { server, protocolFactory, tls, keepAlive }: ServeRequest,
  ): void {
    if (keepAlive === true && stream instanceof TCP) {
      try {
        // SO_KEEPALIVE, the idle time left at the kernel's (asyncio sets
        // the option alone); uv_tcp_keepalive sets TCP_KEEPIDLE with it.
        stream.setKeepAlive(true, kernelKeepAliveSec());
      } catch (exception) {
        stream.close();
        this.callExceptionHandler({ message: 'Error on accept', exception });
        return;
      }
    }
    let protocol: AnyProtocol;
    try {
      protocol = newProtocol(protocolFactory);
    } catch (exception) {
      stream.close();
      this.callExceptionHandler({ message: 'Error in protocol factory', exception });
      return;
    }
    if (tls !== undefined) {
      // The raw transport stays attached to the server (waitClosed counts
      // it). A failed handshake is the client's business: as asyncio (an
      // SSLError is an OSError there), it is reported in debug mode only,
      // so that scanners and bad clients do not flood the handler.
      this.#startTls(stream, protocol, tls, server).catch((exception: unknown) => {
        if (!this.getDebug()) return;
        this.callExceptionHandler({ message: 'TLS handshake failed', exception });
      });
      return;
    }
    server.attach(this.#transport(stream, protocol, server));
  }

  // --- datagrams, pipes, subprocesses, signals ---------------------------------------

  protected openDatagram<P extends DatagramProtocol>(
    protocolFactory: () => P,
    { local, remote, family, reusePort, allowBroadcast }: DatagramPlan,
  ): Promise<[DatagramTransport, P]> {
    const udp = bound(new UDP(this.uvloop), (u) => {
      if (local !== undefined) u.bind(local.address, local.port, { reuseAddr: reusePort });
      else u.bind(family === 6 ? '::' : '0.0.0.0', 0);
      if (allowBroadcast) u.setBroadcast(true);
      if (remote !== undefined) u.connect(remote.address, remote.port);
    });
    const protocol = newProtocol(protocolFactory, () => udp.close());
    const sock = udp.getsockname();
    const extra: Record<string, unknown> = { socket: udp, sockname: addrTuple(sock) };
    const peer: Address | undefined = remote && addrTuple(remote);
    if (peer !== undefined) extra['peername'] = peer;
    return whenStarted(protocol, (ready) => {
      return new UdpTransport({ loop: this, udp, protocol, extra, remote: peer, ready });
    });
  }

  protected openDatagramOn<P extends DatagramProtocol>(
    protocolFactory: () => P,
    udp: UDP,
    remote: Address | undefined,
  ): Promise<[DatagramTransport, P]> {
    const protocol = newProtocol(protocolFactory, () => udp.close());
    const extra: Record<string, unknown> = { socket: udp, sockname: addrTuple(udp.getsockname()) };
    if (remote !== undefined) extra['peername'] = remote;
    return whenStarted(protocol, (ready) => {
      return new UdpTransport({ loop: this, udp, protocol, extra, remote, ready });
    });
  }

  protected openPipe<P extends AnyProtocol>(
    protocolFactory: () => P,
    fd: number,
    reads: boolean,
  ): Promise<[Transport, P]> {
    // A write pipe learns that its reader went away (loop/reader-gone.ts).
    let transport: StreamTransport | undefined;
    const owner = reads ? undefined : watchReaderGone(this.uvloop, fd, () => readerGone(transport));
    let pipe: Pipe;
    try {
      pipe = bound(new Pipe(this.uvloop), (p) => p.open(fd));
    } catch (err) {
      owner?.detach();
      throw err;
    }
    const protocol = newProtocol(protocolFactory, () => {
      owner?.detach();
      pipe.close();
    });
    return whenStarted(protocol, (ready) => {
      const opts = { protocol, extra: { pipe }, kind: 'transport' as const, reads, ready, owner };
      transport = new StreamTransport({ loop: this, stream: pipe, ...opts });
      return transport;
    });
  }

  protected spawnSubprocess<P extends SubprocessProtocol>(
    protocol: P,
    file: string,
    args: string[],
    { stdin, stdout, stderr }: StdioPlan,
    plan: SpawnPlan,
  ): Promise<[SubprocessTransport, P]> {
    // Every piped fd of the child is a pipe(2) of ours, as Popen's are
    // (asyncio on Linux): libuv would make a Unix socket pair, which the
    // child cannot open again by name (/dev/stdin, /dev/stdout: ENXIO). The
    // child's end is given as its fd, our end becomes the pipe transport's
    // Pipe. stderr 'stdout' (asyncio.STDOUT): the child's fd 2 is what its
    // fd 1 is, the same pipe. The child is the program itself (no shell in
    // between), so a missing program fails the spawn, its pid is the
    // program's, and `executable` keeps its argv[0]. 'inherit' for both
    // means our fd 1, not our fd 2.
    const ours: Array<Pipe | undefined> = [];
    const theirs: number[] = [];
    /** A pipe for the child's `fd`: ours opened in a Pipe, the child's end returned. */
    const pipeFor = (fd: 0 | 1 | 2): number => {
      const [readFd, writeFd] = childPipe();
      const [mine, child] = fd === 0 ? [writeFd, readFd] : [readFd, writeFd];
      theirs.push(child);
      try {
        const pipe = new Pipe(this.uvloop);
        ours[fd] = pipe;
        pipe.open(mine);
      } catch (err) {
        // The Pipe owns nothing until open() succeeds.
        closeSync(mine);
        throw err;
      }
      return child;
    };
    let transport: UvSubprocessTransport | undefined;
    let process: Process;
    try {
      const childStdin = stdin === 'pipe' ? pipeFor(0) : stdin;
      const childStdout = stdout === 'pipe' ? pipeFor(1) : stdout;
      let childStderr: StdioOption;
      if (stderr === 'stdout') childStderr = stdout === 'inherit' ? 1 : childStdout;
      else childStderr = stderr === 'pipe' ? pipeFor(2) : stderr;
      const stdio: StdioOption[] = [
        childStdin,
        childStdout,
        childStderr,
        ...passedFdsStdio(plan.passFds),
      ];
      process = Process.spawn(this.uvloop, {
        // The file run is `executable` if given; `file` stays argv[0].
        file: plan.executable ?? file,
        argv0: file,
        args,
        ...(plan.env !== undefined ? { env: plan.env } : {}),
        ...(plan.cwd !== undefined ? { cwd: plan.cwd } : {}),
        ...(plan.uid !== undefined ? { uid: plan.uid } : {}),
        ...(plan.gid !== undefined ? { gid: plan.gid } : {}),
        // UV_PROCESS_DETACHED is only the setsid: the handle stays referenced,
        // so the loop still waits for the exit, and close() still kills it.
        detached: plan.startNewSession,
        stdio,
        // libuv reports the exit from a later callback, never from spawn().
        onExit: (status, signal) => transport?.onExit(status, signal),
      });
    } catch (err) {
      for (const pipe of ours) pipe?.close();
      throw err;
    } finally {
      // The child has its own copies of its ends (or never came).
      for (const fd of theirs) closeSync(fd);
    }
    return whenStarted(protocol, (ready) => {
      transport = new UvSubprocessTransport({ loop: this, process, protocol, ready, pipes: ours });
      return transport;
    });
  }

  protected watchSignal(signum: number, fire: () => void): () => void {
    const handle = bound(new Signal(this.uvloop), (h) => h.start(fire, signum));
    return () => handle.close();
  }

  /** sendfile's zero-copy path: a StreamTransport over a TCP or Unix socket (StreamTransport.sendfile). */
  protected override sendfileNative(
    transport: Transport,
  ): ((request: SendfileRequest, size: number) => Promise<number>) | undefined {
    if (!(transport instanceof StreamTransport) || !transport.canSendfile()) return undefined;
    return (request, size) => transport.sendfile(request, size);
  }

  protected fdLoop(): Loop {
    return this.uvloop;
  }
}
