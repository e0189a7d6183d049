// Server (asyncio.Server) over listening libuv streams (TCP, Pipe).
import type { Stream } from '../handles/stream.js';
import { BaseServer } from './base-server.js';
import type { AbstractEventLoop, ServerAddress } from './events.js';
import type { StreamTransport, TransportOwner } from './stream-transport.js';

export interface Listener<A extends ServerAddress> {
  stream: Stream;
  address: A;
  /** Starts accepting; each accepted stream goes to the loop's accept path. */
  listen(backlog: number): void;
}

export class StreamServer<A extends ServerAddress = ServerAddress> extends BaseServer<StreamTransport, A> implements TransportOwner {
  readonly #listeners: Array<Listener<A>>;
  readonly #backlog: number;

  constructor(loop: AbstractEventLoop, listeners: Array<Listener<A>>, backlog: number, onClose?: () => void) {
    super(loop, () => listeners.map((l) => l.address), onClose);
    this.#listeners = listeners;
    this.#backlog = backlog;
  }

  protected beginServing(): void {
    for (const l of this.#listeners) l.listen(this.#backlog);
  }

  protected stopListening(): void {
    for (const l of this.#listeners) l.stream.close();
  }
}
