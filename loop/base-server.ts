// What every Server (asyncio.Server) shares, whatever it listens with: the
// serving/closed states, the transports it accepted (waitClosed waits for
// them), serveForever and close. A concrete server says how to start
// accepting and how to stop listening.
import { type AbortOptions, abortable, signalOf, throwIfAborted } from './abort.js';
import type { AbstractEventLoop, Server, ServerAddress } from './events.js';
import { watchUnclosed } from './unclosed-warning.js';

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

export abstract class BaseServer<T extends ServedConnection, A extends ServerAddress = ServerAddress>
  implements Server<A>
{
  readonly #loop: AbstractEventLoop;
  readonly #addresses: () => A[];
  readonly #transports = new Set<T>();
  #serving = false;
  #closed = false;
  #closedWaiters: Array<() => void> = [];
  #foreverWaiters: Array<() => void> = [];
  readonly #onClose: (() => void) | undefined;
  readonly #unwatch: () => void;
  #observer: ConnectionObserver | undefined;

  protected constructor(loop: AbstractEventLoop, addresses: () => A[], onClose?: () => void) {
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

  /**
   * Serves until close(); resolves then. An abort of `signal` closes the
   * server, as cancelling asyncio's serve_forever() does, and rejects with
   * an AbortError; connections already accepted stay open (waitClosed()
   * waits for them).
   */
  async serveForever(opts?: AbortOptions): Promise<void> {
    const signal = signalOf(opts);
    throwIfAborted(signal);
    await this.startServing();
    if (this.#closed) return;
    await this.#wait(this.#foreverWaiters, signal, () => this.close());
  }

  /** Parks a waiter in `list` until it is released, or withdraws it on abort. */
  #wait(
    list: Array<() => void>,
    signal: AbortSignal | undefined,
    onAbort = (): void => {},
  ): Promise<void> {
    let mine: (() => void) | undefined;
    return abortable<void>(
      signal,
      (resolve) => {
        mine = resolve;
        list.push(resolve);
      },
      () => {
        const at = list.indexOf(mine!);
        if (at !== -1) list.splice(at, 1);
        onAbort();
      },
    );
  }

  sockets(): A[] {
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

  /**
   * Resolves once the server is closed and all its connections are gone;
   * rejects with an AbortError if `signal` aborts first.
   */
  async waitClosed(opts?: AbortOptions): Promise<void> {
    const signal = signalOf(opts);
    throwIfAborted(signal);
    if (this.#closed && this.#transports.size === 0) return;
    await this.#wait(this.#closedWaiters, signal);
  }

  #maybeWake(): void {
    if (!this.#closed || this.#transports.size > 0) return;
    const waiters = this.#closedWaiters;
    this.#closedWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
