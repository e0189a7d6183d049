// Server (asyncio.Server): listening streams plus the transports they made.
import type { Stream } from '../handles/stream.js';
import type { AbstractEventLoop, Server } from './events.js';
import type { StreamTransport, TransportOwner } from './stream-transport.js';
import { watchUnclosed } from './unclosed-warning.js';

export interface Listener {
  stream: Stream;
  address: { address: string; port: number } | { path: string };
  /** Starts accepting; each accepted stream goes to onStream. */
  listen(backlog: number): void;
}

export class StreamServer implements Server, TransportOwner {
  readonly #loop: AbstractEventLoop;
  readonly #listeners: Listener[];
  readonly #backlog: number;
  readonly #transports = new Set<StreamTransport>();
  #serving = false;
  #closed = false;
  #closedWaiters: Array<() => void> = [];
  #foreverWaiters: Array<() => void> = [];
  readonly #onClose: (() => void) | undefined;
  readonly #unwatch: () => void;

  constructor(loop: AbstractEventLoop, listeners: Listener[], backlog: number, onClose?: () => void) {
    this.#loop = loop;
    this.#unwatch = watchUnclosed(loop.getDebug(), this, 'A Server');
    this.#listeners = listeners;
    this.#backlog = backlog;
    this.#onClose = onClose;
  }

  /** @internal */
  attach(transport: StreamTransport): void {
    this.#transports.add(transport);
  }

  /** @internal */
  detach(transport: StreamTransport): void {
    this.#transports.delete(transport);
    this.#maybeWake();
  }

  getLoop(): AbstractEventLoop {
    return this.#loop;
  }

  isServing(): boolean {
    return this.#serving;
  }

  async startServing(): Promise<void> {
    if (this.#serving || this.#closed) return;
    this.#serving = true;
    for (const l of this.#listeners) l.listen(this.#backlog);
  }

  async serveForever(): Promise<void> {
    await this.startServing();
    if (this.#closed) return;
    await new Promise<void>((resolve) => this.#foreverWaiters.push(resolve));
  }

  sockets(): Array<{ address: string; port: number } | { path: string }> {
    return this.#closed ? [] : this.#listeners.map((l) => l.address);
  }

  /** Stops listening. Connections already accepted stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch();
    this.#serving = false;
    for (const l of this.#listeners) l.stream.close();
    this.#onClose?.();
    const forever = this.#foreverWaiters;
    this.#foreverWaiters = [];
    for (const resolve of forever) resolve();
    this.#maybeWake();
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
