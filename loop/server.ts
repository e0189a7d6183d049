// Server (asyncio.Server) over listening libuv streams (TCP, Pipe).
import type { Stream } from '../handles/stream.js';
import { BaseServer, type ServerAddress } from './base-server.js';
import type { AbstractEventLoop } from './events.js';
import type { StreamTransport, TransportOwner } from './stream-transport.js';

export interface Listener {
  stream: Stream;
  address: ServerAddress;
  /** Starts accepting; each accepted stream goes to the loop's accept path. */
  listen(backlog: number): void;
}

export class StreamServer extends BaseServer<StreamTransport> implements TransportOwner {
  readonly #listeners: Listener[];
  readonly #backlog: number;

  constructor(loop: AbstractEventLoop, listeners: Listener[], backlog: number, onClose?: () => void) {
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
