// UvEventLoop: the PEP 3156 event loop on asyncuv's own libuv loop.
import { Async } from '../handles/async.js';
import * as dns from '../handles/dns.js';
import { Pipe } from '../handles/pipe.js';
import { Process, type StdioOption } from '../handles/process.js';
import { UDP } from '../handles/udp.js';
import { Idle } from '../handles/idle.js';
import { Loop } from '../handles/loop.js';
import { Signal } from '../handles/signal.js';
import { TCP, type SocketAddress } from '../handles/tcp.js';
import type { Stream } from '../handles/stream.js';
import { Timer } from '../handles/timer.js';
import { UsageError } from '../errors/usage-error.js';
import { UvError } from '../handles/uv-error.js';
import {
  invalidArgType,
  toSignalNumber,
  validateFunction,
  validateInteger,
  validateString,
} from '../errors/validate.js';
import { BaseEventLoop } from './base-event-loop.js';
import { CancelledError } from './errors.js';
import type {
  Callback,
  AbstractEventLoop,
  AddrInfo,
  TlsOptions,
  ConnectionOptions,
  DatagramOptions,
  ResourceKind,
  Server,
  ServerOptions,
  UnixServerAddress,
  StdioSpec,
  SubprocessOptions,
  UnixServerOptions,
} from './events.js';
import { type Address, type AnyProtocol, type DatagramProtocol, newProtocol, type SubprocessProtocol } from './protocols.js';
import { UdpTransport } from './datagram-transport.js';
import { FdWatchers } from './fd-watchers.js';
import { UvSubprocessTransport } from './subprocess-transport.js';
import { ANY_HOSTS, resolveHost, type ResolvedAddress } from './resolve.js';
import { StreamServer, type Listener } from './server.js';
import { StreamTransport, type TransportOwner } from './stream-transport.js';
import { tlsUpgrader } from './tls-hook.js';
import type { DatagramTransport, ReadTransport, SubprocessTransport, Transport, WriteTransport } from './transports.js';

function addrTuple(a: { address: string; port: number }): [string, number] {
  return [a.address, a.port];
}

/** Waits for a handle's connect callback; closes the handle on failure or abort. */
function connectStream(stream: Stream, start: (cb: (err: UvError | null) => void) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      stream.close();
      reject(new CancelledError('The connection was aborted', { cause: signal?.reason }));
    };
    try {
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw new UsageError('ERR_INVALID_ARG_TYPE', 'The "signal" option must be an AbortSignal');
      }
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      start((err) => {
        signal?.removeEventListener('abort', onAbort);
        if (stream.closed) return; // aborted meanwhile
        if (err !== null) {
          stream.close();
          reject(err);
        } else resolve();
      });
    } catch (err) {
      // A start that throws at once (an invalid or too long Unix path, a
      // signal that is not an AbortSignal) left the handle open: every
      // failed createUnixConnection('') leaked a Pipe.
      if (signal instanceof AbortSignal) signal.removeEventListener('abort', onAbort);
      if (!stream.closed) stream.close();
      reject(err);
    }
  });
}

export class UvEventLoop extends BaseEventLoop implements Partial<AbstractEventLoop> {
  /** The libuv loop everything of this event loop runs on. */
  readonly uvloop: Loop;
  readonly #idle: Idle;
  readonly #timer: Timer;
  #async: Async | undefined;
  readonly #signals = new Map<number, Signal>();
  // Weak: close() closes the servers still open, but a server dropped
  // unclosed may be collected (and reported in debug mode).
  readonly #servers = new Set<WeakRef<StreamServer>>();
  readonly #fds: FdWatchers;
  // Whether #idle is started, tracked here to save a native call per
  // iteration: it stays started while iterations keep scheduling work.
  #idleStarted = false;
  #rescheduled = false;
  readonly #onIdle = (): void => {
    this.#rescheduled = false;
    this.runOnce();
    // close() from one of its callbacks has closed the idle handle.
    if (this.#idle.closed) return;
    if (!this.#rescheduled && this.#idleStarted) {
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
    this.#fds = new FdWatchers(this.uvloop, this);
  }

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

  protected closeResources(): void {
    this.#idle.close();
    this.#timer.close();
    this.#async?.close();
    for (const signal of this.#signals.values()) signal.close();
    this.#signals.clear();
    for (const server of this.#servers) server.deref()?.close();
    this.#fds.closeAll();
  }

  protected countResources(out: Partial<Record<ResourceKind, number>>): void {
    let servers = 0;
    for (const ref of this.#servers) if (ref.deref()?.isClosed === false) servers++;
    if (servers > 0) out.server = servers;
    if (this.#signals.size > 0) out.signal = this.#signals.size;
    this.#fds.countResources(out);
  }

  /** A stream transport's owner: its server (if any), and liveResources() until it is gone. */
  #owner(server: StreamServer | undefined): TransportOwner {
    const gone = this.trackResource('transport');
    return {
      detach: (transport) => {
        server?.detach(transport);
        gone();
      },
    };
  }

  // --- TCP connections and servers -------------------------------------

  async createConnection<P extends AnyProtocol>(protocolFactory: () => P, host: string, port: number, opts: ConnectionOptions = {}): Promise<[Transport, P]> {
    this.checkConnectionArgs(protocolFactory, host, port, opts);
    const upgrade = opts.ssl ? tlsUpgrader() : undefined;
    const addresses = await resolveHost(this.uvloop, host);
    // close() may have come while we waited: a closed loop drops the
    // callbacks it is given (connectionMade, and with it this promise), so
    // fail now with ERR_LOOP_CLOSED instead of never settling.
    this.checkClosed();
    let lastError: Error | undefined;
    for (const { address } of addresses) {
      const tcp = new TCP(this.uvloop);
      try {
        if (opts.localAddr) tcp.bind(opts.localAddr[0], opts.localAddr[1]);
        await connectStream(tcp, (cb) => tcp.connect(address, port, cb), opts.signal);
        this.checkClosed(); // as above: closed while connecting
      } catch (err) {
        if (!tcp.closed) tcp.close();
        if (err instanceof CancelledError || this.isClosed()) throw err;
        lastError = err as Error;
        continue;
      }
      tcp.setNoDelay(true);
      if (upgrade !== undefined) {
        const protocol = newProtocol(protocolFactory, () => tcp.close());
        const raw = this.#rawTransport(tcp, undefined);
        const secure = await upgrade(this, raw, protocol, opts.ssl as TlsOptions | true, {
          serverSide: false,
          serverHostname: opts.serverHostname ?? host,
          handshakeTimeout: opts.sslHandshakeTimeout,
          callConnectionMade: true,
        });
        return [secure, protocol];
      }
      return this.#makeTransport(tcp, protocolFactory, undefined);
    }
    throw lastError ?? new UvError(-113, 'connect', host);
  }

  async #makeTransport<P extends AnyProtocol>(stream: Stream, protocolFactory: () => P, server: StreamServer | undefined): Promise<[Transport, P]> {
    const protocol = newProtocol(protocolFactory, () => stream.close());
    const extra = this.#extraFor(stream);
    return new Promise((resolve, reject) => {
      const transport = new StreamTransport(this, stream, protocol, extra, this.#owner(server), (err) => {
        if (err !== null) reject(err);
        else resolve([transport, protocol]);
      });
      server?.attach(transport);
    });
  }

  /** A transport with no protocol of its own yet: the TLS layer takes it over. */
  #rawTransport(stream: Stream, server: StreamServer | undefined): StreamTransport {
    const transport = new StreamTransport(this, stream, {}, this.#extraFor(stream), this.#owner(server));
    server?.attach(transport);
    return transport;
  }

  async startTls(transport: Transport, protocol: AnyProtocol, ssl: TlsOptions, opts: { serverSide?: boolean; serverHostname?: string; sslHandshakeTimeout?: number } = {}): Promise<Transport> {
    this.checkClosed();
    return tlsUpgrader()(this, transport, protocol, ssl, {
      serverSide: opts.serverSide === true,
      serverHostname: opts.serverHostname,
      handshakeTimeout: opts.sslHandshakeTimeout,
      callConnectionMade: false,
    });
  }

  #extraFor(stream: Stream): Record<string, unknown> {
    const extra: Record<string, unknown> = { socket: stream };
    if (stream instanceof Pipe) {
      try {
        extra['sockname'] = stream.getsockname();
        extra['peername'] = stream.getpeername();
      } catch {
        // a pipe from an fd has no names
      }
    } else if (stream instanceof TCP) {
      try {
        extra['peername'] = addrTuple(stream.getpeername());
      } catch {
        // not connected (yet): no peername
      }
      try {
        extra['sockname'] = addrTuple(stream.getsockname());
      } catch {
        // no sockname
      }
    }
    return extra;
  }

  async createServer(protocolFactory: () => AnyProtocol, host: string | string[] | null, port: number, opts: ServerOptions = {}): Promise<Server<SocketAddress>> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateInteger(port, 'port', 0, 65535);
    if (opts.ssl) tlsUpgrader(); // fail now, not on the first connection
    const backlog = this.backlogOf(opts);
    let server: StreamServer<SocketAddress>;
    const { ssl, sslHandshakeTimeout: handshake } = opts;
    const listenerOf = (tcp: TCP): Listener<SocketAddress> => {
      return {
        stream: tcp,
        address: tcp.getsockname(),
        listen: (n) =>
          tcp.listen(n, (err) => this.#accept(server, tcp, err, protocolFactory, ssl, handshake)),
      };
    };
    const listeners: Array<Listener<SocketAddress>> = [];
    if (opts.sock !== undefined) {
      listeners.push(listenerOf(this.#boundSocket(opts.sock, host, port)));
    } else {
      let addresses: ResolvedAddress[];
      if (host === null || host === '') addresses = ANY_HOSTS;
      else if (Array.isArray(host)) addresses = (await Promise.all(host.map((h) => resolveHost(this.uvloop, h)))).flat();
      else addresses = await resolveHost(this.uvloop, host);
      // Closed while resolving: a server made now would outlive the loop.
      this.checkClosed();
      const opened: TCP[] = [];
      try {
        for (const { address, family } of addresses) {
          const tcp = new TCP(this.uvloop);
          opened.push(tcp);
          // With several addresses the v6 one must not also claim v4.
          const ipv6Only = family === 6 && addresses.length > 1;
          tcp.bind(address, port, { reusePort: opts.reusePort === true, ipv6Only });
          listeners.push(listenerOf(tcp));
          // Port 0 with several hosts: the first bound port is used for all.
          if (port === 0 && addresses.length > 1) port = tcp.getsockname().port;
        }
      } catch (err) {
        for (const tcp of opened) tcp.close();
        throw err;
      }
    }
    server = new StreamServer(this as unknown as AbstractEventLoop, listeners, backlog, () => this.#servers.delete(ref));
    const ref = new WeakRef(server);
    this.#servers.add(ref);
    if (opts.startServing !== false) await server.startServing();
    return server;
  }

  /** Checks createServer's `sock`: a bound TCP handle of this loop, with no host or port. */
  #boundSocket(sock: unknown, host: unknown, port: number): TCP {
    if (!(sock instanceof TCP)) throw invalidArgType('sock', 'a TCP handle', sock);
    if (host !== null || port !== 0) {
      const why = 'With sock, host must be null and port 0: the socket is already bound';
      throw new UsageError('ERR_INVALID_ARG_VALUE', why);
    }
    if (sock.loop !== this.uvloop) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', "sock must be a TCP of this loop's Loop");
    }
    let port0: boolean;
    try {
      port0 = sock.getsockname().port === 0;
    } catch (err) {
      if (!(err instanceof UvError)) throw err; // a closed handle says so itself
      port0 = true; // no socket yet
    }
    if (port0) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'sock must be bound (bind or open it first)');
    }
    return sock;
  }

  #accept(server: StreamServer, listener: Stream, err: UvError | null, protocolFactory: () => AnyProtocol, ssl?: TlsOptions, handshakeTimeout?: number): void {
    if (err !== null) {
      this.callExceptionHandler({ message: 'Error on accept', exception: err });
      return;
    }
    const client = listener instanceof Pipe ? new Pipe(this.uvloop) : new TCP(this.uvloop);
    try {
      if (listener instanceof Pipe) listener.accept(client);
      else (listener as TCP).accept(client as TCP);
      // asyncio sets TCP_NODELAY on every TCP connection it makes.
      if (client instanceof TCP) client.setNoDelay(true);
    } catch (exception) {
      client.close();
      this.callExceptionHandler({ message: 'Error on accept', exception });
      return;
    }
    let protocol: AnyProtocol;
    try {
      protocol = newProtocol(protocolFactory);
    } catch (exception) {
      client.close();
      this.callExceptionHandler({ message: 'Error in protocol factory', exception });
      return;
    }
    if (ssl !== undefined) {
      // The raw transport stays attached to the server (waitClosed counts
      // it); a failed handshake is reported, not thrown.
      tlsUpgrader()(this, this.#rawTransport(client, server), protocol, ssl, {
        serverSide: true,
        handshakeTimeout,
        callConnectionMade: true,
      }).catch((exception: unknown) => this.callExceptionHandler({ message: 'TLS handshake failed', exception }));
      return;
    }
    const transport = new StreamTransport(this, client, protocol, this.#extraFor(client), this.#owner(server));
    server.attach(transport);
  }

  // --- Unix sockets ------------------------------------------------------

  async createUnixConnection<P extends AnyProtocol>(protocolFactory: () => P, path: string, opts: ConnectionOptions = {}): Promise<[Transport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(path, 'path');
    const upgrade = opts.ssl ? tlsUpgrader() : undefined;
    const pipe = new Pipe(this.uvloop);
    await connectStream(pipe, (cb) => pipe.connect(path, cb), opts.signal);
    // Closed while connecting: connectionMade would be dropped (see createConnection).
    if (this.isClosed()) pipe.close();
    this.checkClosed();
    if (upgrade !== undefined) {
      const protocol = newProtocol(protocolFactory, () => pipe.close());
      const secure = await upgrade(this, this.#rawTransport(pipe, undefined), protocol, opts.ssl as TlsOptions | true, {
        serverSide: false,
        serverHostname: opts.serverHostname,
        handshakeTimeout: opts.sslHandshakeTimeout,
        callConnectionMade: true,
      });
      return [secure, protocol];
    }
    return this.#makeTransport(pipe, protocolFactory, undefined);
  }

  async createUnixServer(protocolFactory: () => AnyProtocol, path: string, opts: UnixServerOptions = {}): Promise<Server<UnixServerAddress>> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(path, 'path');
    if (opts.ssl) tlsUpgrader();
    const backlog = this.backlogOf(opts);
    const pipe = new Pipe(this.uvloop);
    try {
      pipe.bind(path);
    } catch (err) {
      pipe.close();
      throw err;
    }
    let server: StreamServer<UnixServerAddress>;
    const listener: Listener<UnixServerAddress> = {
      stream: pipe,
      address: { path },
      listen: (n) => pipe.listen(n, (err) => this.#accept(server, pipe, err, protocolFactory, opts.ssl)),
    };
    server = new StreamServer(this as unknown as AbstractEventLoop, [listener], backlog, () => this.#servers.delete(ref));
    const ref = new WeakRef(server);
    this.#servers.add(ref);
    if (opts.startServing !== false) await server.startServing();
    return server;
  }

  // --- datagrams ------------------------------------------------------------

  async createDatagramEndpoint<P extends DatagramProtocol>(protocolFactory: () => P, opts: DatagramOptions): Promise<[DatagramTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    if (typeof opts !== 'object' || opts === null) throw new UsageError('ERR_INVALID_ARG_TYPE', 'opts must be an object');
    const { localAddr, remoteAddr } = opts;
    if (localAddr === undefined && remoteAddr === undefined) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'createDatagramEndpoint needs localAddr or remoteAddr');
    }
    const local = localAddr ? (await resolveHost(this.uvloop, localAddr[0], 'dgram'))[0] : undefined;
    const remote = remoteAddr ? (await resolveHost(this.uvloop, remoteAddr[0], 'dgram'))[0] : undefined;
    // Closed while resolving: connectionMade would be dropped (see createConnection).
    this.checkClosed();
    const udp = new UDP(this.uvloop);
    let remoteTuple: Address | undefined;
    try {
      if (local !== undefined) udp.bind(local.address, localAddr![1], { reuseAddr: opts.reusePort === true });
      else udp.bind(remote!.family === 6 ? '::' : '0.0.0.0', 0);
      if (opts.allowBroadcast) udp.setBroadcast(true);
      if (remote !== undefined) {
        udp.connect(remote.address, remoteAddr![1]);
        remoteTuple = [remote.address, remoteAddr![1]];
      }
    } catch (err) {
      udp.close();
      throw err;
    }
    const protocol = newProtocol(protocolFactory, () => udp.close());
    const sock = udp.getsockname();
    const extra: Record<string, unknown> = { socket: udp, sockname: [sock.address, sock.port] };
    if (remoteTuple !== undefined) extra['peername'] = remoteTuple;
    return new Promise((resolve, reject) => {
      const transport = new UdpTransport(this, udp, protocol, extra, remoteTuple, (err) => (err ? reject(err) : resolve([transport, protocol])));
    });
  }

  // --- pipes ----------------------------------------------------------------

  /** Reads the fd (a pipe, FIFO or socket); the transport owns and closes it. */
  async connectReadPipe<P extends AnyProtocol>(protocolFactory: () => P, fd: number): Promise<[ReadTransport, P]> {
    return this.#pipeTransport(protocolFactory, fd, true);
  }

  /** Writes the fd; the transport owns and closes it. */
  async connectWritePipe<P extends AnyProtocol>(protocolFactory: () => P, fd: number): Promise<[WriteTransport, P]> {
    return this.#pipeTransport(protocolFactory, fd, false);
  }

  #pipeTransport<P extends AnyProtocol>(protocolFactory: () => P, fd: number, reads: boolean): Promise<[Transport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    const pipe = new Pipe(this.uvloop);
    try {
      pipe.open(fd);
    } catch (err) {
      pipe.close();
      throw err;
    }
    const protocol = newProtocol(protocolFactory, () => pipe.close());
    return new Promise((resolve, reject) => {
      const transport = new StreamTransport(this, pipe, protocol, { pipe }, this.#owner(undefined), (err) => (err ? reject(err) : resolve([transport, protocol])), reads);
    });
  }

  // --- subprocesses -----------------------------------------------------------

  async subprocessExec<P extends SubprocessProtocol>(protocolFactory: () => P, program: string, args: string[] = [], opts: SubprocessOptions = {}): Promise<[SubprocessTransport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(program, 'program');
    if (!Array.isArray(args)) throw new UsageError('ERR_INVALID_ARG_TYPE', 'args must be an array of strings');
    for (const a of args) validateString(a, 'args[i]');
    if (opts.stderr === 'stdout') {
      // libuv cannot point the child's fd 2 at the pipe it makes for fd 1,
      // so a shell does the dup (asyncio.STDOUT), then execs the program.
      return this.#spawn(protocolFactory, '/bin/sh', ['-c', 'exec "$@" 2>&1', 'sh', program, ...args], opts);
    }
    return this.#spawn(protocolFactory, program, args, opts);
  }

  async subprocessShell<P extends SubprocessProtocol>(protocolFactory: () => P, cmd: string, opts: SubprocessOptions = {}): Promise<[SubprocessTransport, P]> {
    this.checkClosed();
    validateString(cmd, 'cmd');
    const script = opts.stderr === 'stdout' ? `exec 2>&1\n${cmd}` : cmd;
    return this.#spawn(protocolFactory, '/bin/sh', ['-c', script], opts);
  }

  #spawn<P extends SubprocessProtocol>(protocolFactory: () => P, file: string, args: string[], opts: SubprocessOptions): Promise<[SubprocessTransport, P]> {
    validateFunction(protocolFactory, 'protocolFactory');
    const stdio = (spec: StdioSpec | 'stdout' | undefined, fd: number): StdioOption => {
      if (spec === undefined || spec === 'pipe') return 'pipe';
      if (spec === 'stdout') return 'pipe'; // handled by the shell's dup, see above
      if (spec === 'inherit' || spec === 'ignore') return spec;
      if (typeof spec === 'number') return spec;
      throw new UsageError('ERR_INVALID_ARG_VALUE', `Invalid stdio[${fd}]: ${String(spec)}`);
    };
    const stdioList: StdioOption[] = [stdio(opts.stdin, 0), stdio(opts.stdout, 1), opts.stderr === 'stdout' ? 'ignore' : stdio(opts.stderr, 2)];
    const protocol = newProtocol(protocolFactory);
    const transport = new UvSubprocessTransport(this, protocol);
    const process = Process.spawn(this.uvloop, {
      file,
      args,
      ...(opts.env !== undefined ? { env: opts.env } : {}),
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      stdio: stdioList,
      onExit: (status, signal) => transport.onExit(status, signal),
    });
    return new Promise((resolve, reject) => transport.attach(process, (err) => (err ? reject(err) : resolve([transport, protocol]))));
  }

  // --- readers and writers on fds ----------------------------------------------

  addReader<A extends unknown[]>(fd: number, cb: Callback<A>, ...args: A): void {
    this.checkClosed();
    this.#fds.add(fd, 'reader', cb as Callback<unknown[]>, args);
  }

  addWriter<A extends unknown[]>(fd: number, cb: Callback<A>, ...args: A): void {
    this.checkClosed();
    this.#fds.add(fd, 'writer', cb as Callback<unknown[]>, args);
  }

  removeReader(fd: number): boolean {
    return this.#fds.remove(fd, 'reader');
  }

  removeWriter(fd: number): boolean {
    return this.#fds.remove(fd, 'writer');
  }


  // --- names ---------------------------------------------------------------------

  async getaddrinfo(host: string, port: number | null, opts: { family?: number; type?: number; proto?: number; flags?: number } = {}): Promise<AddrInfo[]> {
    this.checkClosed();
    const family = opts.family === 4 || opts.family === 6 ? opts.family : 0;
    const results = await dns.getaddrinfo(this.uvloop, host, port ?? undefined, {
      family,
      ...(opts.type !== undefined ? { socktype: opts.type } : {}),
      ...(opts.proto !== undefined ? { protocol: opts.proto } : {}),
      ...(opts.flags !== undefined ? { flags: opts.flags } : {}),
    });
    return results.map((r) => ({ family: r.family === 'IPv6' ? 6 : 4, socktype: r.socktype, protocol: r.protocol, address: r.address, port: r.port }));
  }

  async getnameinfo(addr: string, port: number): Promise<[string, string]> {
    this.checkClosed();
    const info = await dns.getnameinfo(this.uvloop, addr, port);
    return [info.host, info.service];
  }

  // --- signals ------------------------------------------------------------

  addSignalHandler<A extends unknown[]>(signal: number | string, cb: Callback<A>, ...args: A): void {
    this.checkClosed();
    validateFunction(cb, 'callback');
    const signum = toSignalNumber(signal);
    if (signum === 9 || signum === 19) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', `Signal ${signal} cannot be caught`);
    }
    this.#signals.get(signum)?.close();
    const handle = new Signal(this.uvloop);
    try {
      handle.start(() => {
        this.scheduleSoon(cb as Callback<unknown[]>, args);
      }, signum);
    } catch (err) {
      handle.close();
      throw err;
    }
    this.#signals.set(signum, handle);
  }

  removeSignalHandler(signal: number | string): boolean {
    const signum = toSignalNumber(signal);
    const handle = this.#signals.get(signum);
    if (handle === undefined) return false;
    handle.close();
    this.#signals.delete(signum);
    return true;
  }
}
