// A listening net.Server as a Listener of the loop's StreamServer.
//
// Node binds and listens in one call, so the listener already listens when
// the server is made (addresses and EADDRINUSE are known then, as in
// asyncio). Connections the kernel accepts before start() (startServing:
// false) are held, paused, and handed over by start(); asyncio would leave
// them in the kernel's backlog instead.
import net from 'node:net';
import type { ServerAddress } from '../loop/events.js';
import type { Listener } from '../loop/server.js';
import { toUvError } from './node-errors.js';

export class NodeListener<A extends ServerAddress> implements Listener<A> {
  readonly #server: net.Server;
  readonly #serve: (socket: net.Socket) => void;
  #address: A | undefined;
  #started = false;
  #closed = false;
  #held: net.Socket[] = [];

  /**
   * A net.Server not listening yet; `dispatch` runs each connection event
   * (the loop's dispatch(), so that a stop() inside takes effect when it
   * returns), and `serve` takes each connection handed over.
   */
  constructor(
    options: net.ServerOpts,
    dispatch: (run: () => void) => void,
    serve: (socket: net.Socket) => void,
  ) {
    this.#serve = serve;
    this.#server = net.createServer(options, (socket) => dispatch(() => this.#connection(socket)));
  }

  /**
   * Listens; rejects with the UvError of a failed bind or listen. With
   * `fd`, net takes over that listening socket (and closes it with the
   * server); its backlog is `backlog` again, as net sets it anew.
   */
  async listen(
    options: net.ListenOptions & { reusePort?: boolean; fd?: number },
    address: (server: net.Server) => A,
  ): Promise<void> {
    const server = this.#server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const listening = (): void => {
          server.off('error', reject);
          resolve();
        };
        // net reads the backlog of a handle or fd from its arguments only.
        if (options.fd !== undefined) server.listen({ fd: options.fd }, options.backlog, listening);
        else server.listen(options, listening);
      });
    } catch (err) {
      throw toUvError(err);
    }
    this.#address = address(server);
  }

  get address(): A {
    return this.#address!;
  }

  #connection(socket: net.Socket): void {
    if (this.#closed) socket.destroy();
    else if (this.#started) this.#serve(socket);
    else this.#held.push(socket);
  }

  start(): void {
    this.#started = true;
    for (const socket of this.#take()) this.#serve(socket);
  }

  close(): void {
    this.#closed = true;
    this.#server.close();
    for (const socket of this.#take()) socket.destroy();
  }

  #take(): net.Socket[] {
    const held = this.#held;
    this.#held = [];
    return held;
  }
}
