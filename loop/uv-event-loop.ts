// UvEventLoop: the PEP 3156 event loop on asyncuv's own libuv loop.
import { Async } from '../handles/async.js';
import { Idle } from '../handles/idle.js';
import { Loop } from '../handles/loop.js';
import { Signal } from '../handles/signal.js';
import { TCP } from '../handles/tcp.js';
import type { Stream } from '../handles/stream.js';
import { Timer } from '../handles/timer.js';
import { UsageError } from '../handles/usage-error.js';
import { UvError } from '../handles/uv-error.js';
import { toSignalNumber, validateFunction, validateInteger, validateString } from '../handles/validate.js';
import { BaseEventLoop } from './base-event-loop.js';
import { CancelledError } from './errors.js';
import type { AbstractEventLoop, ConnectionOptions, Server, ServerOptions } from './events.js';
import type { AnyProtocol } from './protocols.js';
import { ANY_HOSTS, resolveHost, type ResolvedAddress } from './resolve.js';
import { StreamServer, type Listener } from './server.js';
import { StreamTransport } from './stream-transport.js';
import type { Transport } from './transports.js';

type Callback<A extends unknown[]> = (...args: A) => void;

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
  });
}

export class UvEventLoop extends BaseEventLoop implements Partial<AbstractEventLoop> {
  /** The libuv loop everything of this event loop runs on. */
  readonly uvloop: Loop;
  readonly #idle: Idle;
  readonly #timer: Timer;
  #async: Async | undefined;
  readonly #signals = new Map<number, Signal>();
  readonly #servers = new Set<StreamServer>();
  readonly #onIdle = (): void => {
    this.#idle.stop();
    this.runOnce();
  };
  readonly #onTimer = (): void => this.timerFired();

  constructor(loop?: Loop) {
    super();
    this.uvloop = loop ?? Loop.default();
    this.#idle = new Idle(this.uvloop);
    this.#timer = new Timer(this.uvloop);
  }

  protected scheduleRun(): void {
    this.#idle.start(this.#onIdle);
  }

  protected armTimer(delayMs: number | null): void {
    if (this.#timer.closed) return;
    if (delayMs === null) this.#timer.stop();
    else this.#timer.start(this.#onTimer, delayMs);
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
    for (const server of this.#servers) server.close();
  }

  // --- TCP connections and servers -------------------------------------

  async createConnection<P extends AnyProtocol>(protocolFactory: () => P, host: string, port: number, opts: ConnectionOptions = {}): Promise<[Transport, P]> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateString(host, 'host');
    validateInteger(port, 'port', 0, 65535);
    if (opts.ssl) throw new UsageError('ERR_TLS_UNSUPPORTED', 'TLS on UvEventLoop needs the adapters layer: use startTls from asyncuv/adapters');
    const addresses = await resolveHost(host);
    let lastError: Error | undefined;
    for (const { address } of addresses) {
      const tcp = new TCP(this.uvloop);
      try {
        if (opts.localAddr) tcp.bind(opts.localAddr[0], opts.localAddr[1]);
        await connectStream(tcp, (cb) => tcp.connect(address, port, cb), opts.signal);
      } catch (err) {
        if (!tcp.closed) tcp.close();
        if (err instanceof CancelledError) throw err;
        lastError = err as Error;
        continue;
      }
      return this.#makeTransport(tcp, protocolFactory, undefined);
    }
    throw lastError ?? new UvError(-113, 'connect', host);
  }

  async #makeTransport<P extends AnyProtocol>(stream: Stream, protocolFactory: () => P, server: StreamServer | undefined): Promise<[Transport, P]> {
    const protocol = protocolFactory();
    const extra = this.#extraFor(stream);
    return new Promise((resolve, reject) => {
      const transport = new StreamTransport(this, stream, protocol, extra, server, (err) => {
        if (err !== null) reject(err);
        else resolve([transport, protocol]);
      });
      server?.attach(transport);
    });
  }

  #extraFor(stream: Stream): Record<string, unknown> {
    const extra: Record<string, unknown> = { socket: stream };
    if (stream instanceof TCP) {
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

  async createServer(protocolFactory: () => AnyProtocol, host: string | string[] | null, port: number, opts: ServerOptions = {}): Promise<Server> {
    this.checkClosed();
    validateFunction(protocolFactory, 'protocolFactory');
    validateInteger(port, 'port', 0, 65535);
    if (opts.ssl) throw new UsageError('ERR_TLS_UNSUPPORTED', 'TLS on UvEventLoop needs the adapters layer: use startTls from asyncuv/adapters');
    const backlog = opts.backlog ?? 100;
    validateInteger(backlog, 'backlog', 0, 65535);
    let addresses: ResolvedAddress[];
    if (host === null || host === '') addresses = ANY_HOSTS;
    else if (Array.isArray(host)) addresses = (await Promise.all(host.map((h) => resolveHost(h)))).flat();
    else addresses = await resolveHost(host);
    const listeners: Listener[] = [];
    let server: StreamServer;
    try {
      for (const { address, family } of addresses) {
        const tcp = new TCP(this.uvloop);
        listeners.push({
          stream: tcp,
          address: { address, port },
          listen: (n) => tcp.listen(n, (err) => this.#accept(server, tcp, err, protocolFactory)),
        });
        // With several addresses the v6 one must not also claim v4.
        tcp.bind(address, port, { reusePort: opts.reusePort === true, ipv6Only: family === 6 && addresses.length > 1 });
        const bound = tcp.getsockname();
        listeners[listeners.length - 1]!.address = { address: bound.address, port: bound.port };
        // Port 0 with several hosts: the first bound port is used for all.
        if (port === 0 && addresses.length > 1) port = bound.port;
      }
    } catch (err) {
      for (const l of listeners) l.stream.close();
      throw err;
    }
    server = new StreamServer(this as unknown as AbstractEventLoop, listeners, backlog, () => this.#servers.delete(server));
    this.#servers.add(server);
    if (opts.startServing !== false) await server.startServing();
    return server;
  }

  #accept(server: StreamServer, listener: Stream, err: UvError | null, protocolFactory: () => AnyProtocol): void {
    if (err !== null) {
      this.callExceptionHandler({ message: 'Error on accept', exception: err });
      return;
    }
    const client = new TCP(this.uvloop);
    try {
      (listener as TCP).accept(client);
      client.setNoDelay(true);
    } catch (exception) {
      client.close();
      this.callExceptionHandler({ message: 'Error on accept', exception });
      return;
    }
    let protocol: AnyProtocol;
    try {
      protocol = protocolFactory();
    } catch (exception) {
      client.close();
      this.callExceptionHandler({ message: 'Error in protocol factory', exception });
      return;
    }
    const transport = new StreamTransport(this, client, protocol, this.#extraFor(client), server);
    server.attach(transport);
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
