// What every Server (asyncio.Server) shares, whatever it listens with: the
// serving/closed states, the transports it accepted (waitClosed waits for
// them), serveForever and close. A concrete server says how to start
// accepting and how to stop listening.
import type { AbstractEventLoop, Server } from './events.js';
import { watchUnclosed } from './unclosed-warning.js';

export type ServerAddress = { address: string; port: number } | { path: string };

/** What a server can do to the connections it accepted. */
export interface ServedConnection {
  close(): void;
  abort(): void;
}

/**
 * @internal Told of every connection a server attaches and detaches, once
 * each (adapters/threaded-server counts them in shared memory).
 */
export interface ConnectionObserver {
  attached(): void;
  detached(): void;
}

export abstract class BaseServer<T extends ServedConnection> implements Server {
  readonly #loop: AbstractEventLoop;
  readonly #addresses: () => ServerAddress[];
  readonly #transports = new Set<T>();
  #serving = false;
  #closed = false;
  #closedWaiters: Array<() => void> = [];
  #foreverWaiters: Array<() => void> = [];
  readonly #onClose: (() => void) | undefined;
  readonly #unwatch: () => void;
  #observer: ConnectionObserver | undefined;

  protected constructor(loop: AbstractEventLoop, addresses: () => ServerAddress[], onClose?: () => void) {
    this.#loop = loop;
    this.#addresses = addresses;
    this.#onClose = onClose;
    this.#unwatch = watchUnclosed(loop.getDebug(), this, 'A Server');
  }

  /** Starts accepting connections (called once, by startServing). */
  protected abstract beginServing(): void;
  /** Stops listening (called once, by close). */
  protected abstract stopListening(): void;

  /** @internal */
  attach(transport: T): void {
    if (this.#transports.has(transport)) return;
    this.#transports.add(transport);
    this.#observer?.attached();
  }

  /** @internal */
  detach(transport: T): void {
    if (this.#transports.delete(transport)) this.#observer?.detached();
    this.#maybeWake();
  }

  /**
   * @internal Reports attaches and detaches to `observer` from now on; the
   * connections already open are reported as attached at once.
   */
  observe(observer: ConnectionObserver): void {
    this.#observer = observer;
    for (let i = 0; i < this.#transports.size; i++) observer.attached();
  }

  getLoop(): AbstractEventLoop {
    return this.#loop;
  }

  isServing(): boolean {
    return this.#serving;
  }

  /** @internal true once close() was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  async startServing(): Promise<void> {
    if (this.#serving || this.#closed) return;
    this.#serving = true;
    this.beginServing();
  }

  /** Serves until close(); resolves then. */
  async serveForever(): Promise<void> {
    await this.startServing();
    if (this.#closed) return;
    await new Promise<void>((resolve) => this.#foreverWaiters.push(resolve));
  }

  sockets(): ServerAddress[] {
    return this.#closed ? [] : this.#addresses();
  }

  /** Stops listening. Connections already accepted stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch();
    this.#serving = false;
    this.stopListening();
    this.#onClose?.();
    const forever = this.#foreverWaiters;
    this.#foreverWaiters = [];
    for (const resolve of forever) resolve();
    this.#maybeWake();
  }

  closeClients(): void {
    for (const transport of [...this.#transports]) transport.close();
  }

  abortClients(): void {
    for (const transport of [...this.#transports]) transport.abort();
  }

  /** Resolves once the server is closed and all its connections are gone. */
  waitClosed(): Promise<void> {
    if (this.#closed && this.#transports.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#closedWaiters.push(resolve));
  }

  #maybeWake(): void {
    if (!this.#closed || this.#transports.size > 0) return;
    const waiters = this.#closedWaiters;
    this.#closedWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
