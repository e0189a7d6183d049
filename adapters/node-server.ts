// NodeServer (asyncio.Server) over net.Server listeners, and the transports
// they accepted (for waitClosed).
//
// Node binds and listens in one call, so the listeners already listen when
// the server is made (addresses and EADDRINUSE are known then, as in
// asyncio). With startServing: false, connections the kernel accepts meanwhile
// are held, paused, and handed to the protocol factory by startServing();
// asyncio would leave them in the kernel's backlog instead.
import type net from 'node:net';
import type { AbstractEventLoop, Server } from '../loop/events.js';
import type { NodeTransport, NodeTransportOwner } from './node-transport.js';

export interface NodeListener {
  server: net.Server;
  address: { address: string; port: number } | { path: string };
}

/** A connection accepted while not serving: run later, or dropped on close. */
interface Pending {
  start(): void;
  drop(): void;
}

export class NodeServer implements Server, NodeTransportOwner {
  readonly #loop: AbstractEventLoop;
  readonly #listeners: NodeListener[];
  #pending: Pending[] = [];
  readonly #transports = new Set<NodeTransport>();
  #serving = false;
  #closed = false;
  #closedWaiters: Array<() => void> = [];
  #foreverWaiters: Array<() => void> = [];
  readonly #onClose: (() => void) | undefined;

  constructor(loop: AbstractEventLoop, listeners: NodeListener[], onClose?: () => void) {
    this.#loop = loop;
    this.#listeners = listeners;
    this.#onClose = onClose;
  }

  /** @internal A connection arrived: start it now, or when serving starts. */
  accepted(pending: Pending): void {
    if (this.#closed) pending.drop();
    else if (this.#serving) pending.start();
    else this.#pending.push(pending);
  }

  /** @internal */
  attach(transport: NodeTransport): void {
    this.#transports.add(transport);
  }

  /** @internal */
  detach(transport: NodeTransport): void {
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
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.start();
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
    this.#serving = false;
    for (const l of this.#listeners) l.server.close();
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.drop();
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
