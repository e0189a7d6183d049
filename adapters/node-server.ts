// NodeServer (asyncio.Server) over net.Server listeners, and the transports
// they accepted (for waitClosed).
//
// Node binds and listens in one call, so the listeners already listen when
// the server is made (addresses and EADDRINUSE are known then, as in
// asyncio). With startServing: false, connections the kernel accepts meanwhile
// are held, paused, and handed to the protocol factory by startServing();
// asyncio would leave them in the kernel's backlog instead.
import type net from 'node:net';
import { BaseServer } from '../loop/base-server.js';
import type { AbstractEventLoop, ServerAddress } from '../loop/events.js';
import type { NodeTransport, NodeTransportOwner } from './node-transport.js';

export interface NodeListener<A extends ServerAddress> {
  server: net.Server;
  address: A;
}

/** A connection accepted while not serving: run later, or dropped on close. */
interface Pending {
  start(): void;
  drop(): void;
}

export class NodeServer<A extends ServerAddress = ServerAddress> extends BaseServer<NodeTransport, A> implements NodeTransportOwner {
  readonly #listeners: Array<NodeListener<A>>;
  #pending: Pending[] = [];

  /** @internal NodeEventLoop.createServer and friends make servers. */
  constructor(loop: AbstractEventLoop, listeners: Array<NodeListener<A>>, onClose?: () => void) {
    super(loop, () => listeners.map((l) => l.address), onClose);
    this.#listeners = listeners;
  }

  /** @internal A connection arrived: start it now, or when serving starts. */
  accepted(pending: Pending): void {
    if (this.isClosed) pending.drop();
    else if (this.isServing()) pending.start();
    else this.#pending.push(pending);
  }

  protected beginServing(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.start();
  }

  protected stopListening(): void {
    for (const l of this.#listeners) l.server.close();
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.drop();
  }
}
