// Server (asyncio.Server), the same on every loop: the serving and closed
// states, the connections it accepted (waitClosed waits for them),
// serveForever and close. What it listens with is the concrete loop's: a
// listener starts handing accepted connections to the loop, and stops.
import { type AsyncContext, captureContext } from '../handles/async-context.js';
import { UsageError } from '../errors/usage-error.js';
import { type AbortOptions, abortable, signalOf, throwIfAborted } from './abort.js';
import type { LoopResource } from './event-loop-core.js';
import type { AbstractEventLoop, Server, ServerAddress } from './events.js';
import { watchUnclosed } from './unclosed-warning.js';

/** One listening socket of a server. */
export interface Listener<A extends ServerAddress> {
  readonly address: A;
  /** Starts handing accepted connections to the loop (called once, by startServing). */
  start(): void;
  /** Stops listening (called once, by close); connections not handed over yet are dropped. */
  close(): void;
}

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

export class StreamServer<A extends ServerAddress = ServerAddress>
  implements Server<A>, LoopResource
{
  readonly #loop: AbstractEventLoop;
  readonly #listeners: ReadonlyArray<Listener<A>>;
  readonly #connections = new Set<ServedConnection>();
  #serving = false;
  #closed = false;
  #closedWaiters: Array<() => void> = [];
  #foreverWaiters: Array<() => void> = [];
  // A serveForever() is in progress (set before its first await).
  #servingForever = false;
  readonly #onClose: (() => void) | undefined;
  readonly #unwatch: () => void;
  #observer: ConnectionObserver | undefined;
  /**
   * @internal The async context of the createServer call: its accepting,
   * its protocol factory and its connections' protocols run in it
   * (handles/async-context.ts), whoever calls startServing().
   */
  readonly context: AsyncContext = captureContext('asyncuv.Server');

  /** @internal The loops' createServer and createUnixServer make servers. */
  constructor(
    loop: AbstractEventLoop,
    listeners: ReadonlyArray<Listener<A>>,
    onClose?: () => void,
  ) {
    this.#loop = loop;
    this.#listeners = listeners;
    this.#onClose = onClose;
    this.#unwatch = watchUnclosed(loop.getDebug(), this, 'A Server');
  }

  /** @internal A connection of this server: waitClosed() waits until it is detached. */
  attach(connection: ServedConnection): void {
    if (this.#connections.has(connection)) return;
    this.#connections.add(connection);
    this.#observer?.attached();
  }

  /** @internal */
  detach(connection: ServedConnection): void {
    if (this.#connections.delete(connection)) this.#observer?.detached();
    this.#maybeWake();
  }

  /**
   * @internal Reports attaches and detaches to `observer` from now on; the
   * connections already open are reported as attached at once.
   */
  observe(observer: ConnectionObserver): void {
    this.#observer = observer;
    for (let i = 0; i < this.#connections.size; i++) observer.attached();
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
    this.context.runInAsyncScope(() => {
      for (const listener of this.#listeners) listener.start();
    });
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
    // As asyncio: one serveForever() at a time, and none on a closed server
    // (it would resolve at once, as if it had served).
    if (this.#servingForever) {
      throw new UsageError(
        'ERR_INVALID_STATE',
        'The server is already being awaited on serveForever()',
      );
    }
    if (this.#closed) throw new UsageError('ERR_INVALID_STATE', 'The server is closed');
    this.#servingForever = true;
    try {
      await this.startServing();
      if (this.#closed) return;
      await this.#wait(this.#foreverWaiters, signal, () => this.close());
    } finally {
      this.#servingForever = false;
    }
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
    return this.#closed ? [] : this.#listeners.map((l) => l.address);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }

  /** Stops listening. Connections already accepted stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch();
    this.#serving = false;
    for (const listener of this.#listeners) listener.close();
    this.#onClose?.();
    const forever = this.#foreverWaiters;
    this.#foreverWaiters = [];
    for (const resolve of forever) resolve();
    this.#maybeWake();
  }

  /** @internal The loop closed: stop listening (the connections close with the loop too). */
  closeWithLoop(): void {
    this.close();
  }

  closeClients(): void {
    for (const connection of [...this.#connections]) connection.close();
  }

  abortClients(): void {
    for (const connection of [...this.#connections]) connection.abort();
  }

  /**
   * Resolves once the server is closed and all its connections are gone;
   * rejects with an AbortError if `signal` aborts first.
   */
  async waitClosed(opts?: AbortOptions): Promise<void> {
    const signal = signalOf(opts);
    throwIfAborted(signal);
    if (this.#closed && this.#connections.size === 0) return;
    await this.#wait(this.#closedWaiters, signal);
  }

  #maybeWake(): void {
    if (!this.#closed || this.#connections.size > 0) return;
    const waiters = this.#closedWaiters;
    this.#closedWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
