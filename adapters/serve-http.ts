// serveHttp: a node:http server whose connections live on an asyncuv event
// loop. node:http parses and writes; the bytes move through the loop's
// transports (toDuplex), so keep-alive, pipelining, large bodies and
// upgrades behave as in node:http.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType } from '../errors/validate.js';
import type { SocketAddress } from '../handles/tcp.js';
import type { AbstractEventLoop, Server, ServerOptions } from '../loop/events.js';
import type { Transport } from '../loop/transports.js';
import { toDuplex } from './duplex.js';

export interface HttpOnLoop {
  /** The node:http server: listen for 'upgrade', 'request', 'clientError'... on it. */
  readonly http: http.Server;
  /** The loop's listening server. */
  readonly server: Server<SocketAddress>;
  /** The bound port (useful with port 0). */
  readonly port: number;
  /**
   * Stops accepting and ends idle keep-alive connections at once and the
   * others after the response in flight; resolves when all are gone.
   */
  close(): Promise<void>;
}

/**
 * The state of net.Server that serveHttp keeps for the connections it
 * hands node:http: its count of open connections, and the check that emits
 * 'close' once a closed server has none left (net.js's own names).
 */
type NetServerState = http.Server & { _connections: number; _emitCloseIfDrained(): void };

/** The backlog of node:http (net.Server.listen()'s default), serveHttp's too. */
const kNodeBacklog = 511;

export interface ServeHttpOptions extends http.ServerOptions {
  /**
   * How the loop listens (createServer's options): backlog (default 511,
   * node:http's), reusePort, ssl (then it is HTTPS), sslHandshakeTimeout,
   * sock.
   */
  listen?: Omit<ServerOptions, 'startServing'>;
}

/**
 * Serves `requestListener` on `loop`: node:http's server code over the
 * loop's connections. `host` and `port` are createServer's (null and 0 with
 * `options.listen.sock`); the other options are node:http's.
 *
 * `requestListener` may instead be an `http.Server` that does not listen,
 * made by the caller: serveHttp then serves it as `server.listen()` would.
 * Frameworks that attach to a server before it listens (hapi's `listener`
 * option waits for its 'listening' event) need that: serveHttp emits
 * 'listening' before it resolves, too late for a server it made itself.
 */
export async function serveHttp(
  loop: AbstractEventLoop,
  requestListener: http.RequestListener | http.Server,
  host: string | null,
  port: number | string,
  options: ServeHttpOptions = {},
): Promise<HttpOnLoop> {
  const given = requestListener instanceof http.Server;
  if (!given && typeof requestListener !== 'function')
    throw invalidArgType('requestListener', 'a function or an http.Server', requestListener);
  if (typeof options !== 'object' || options === null)
    throw new UsageError('ERR_INVALID_ARG_TYPE', 'options must be an object');
  const { listen = {}, ...httpOptions } = options;
  if (typeof listen !== 'object' || listen === null) {
    throw new UsageError('ERR_INVALID_ARG_TYPE', 'options.listen must be an object');
  }
  if (given && requestListener.listening)
    throw new UsageError('ERR_INVALID_ARG_VALUE', 'the http.Server given already listens');
  if (given && Object.keys(httpOptions).length > 0) {
    const names = Object.keys(httpOptions).join(', ');
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      `node:http options (${names}) are http.createServer()'s: give them to the http.Server given`,
    );
  }
  const httpServer = (
    given ? requestListener : http.createServer(httpOptions, requestListener)
  ) as NetServerState;
  // The open connections, so that close() finds the responses in flight.
  // Tracked per connection, not per request: a per-request entry (a Set of
  // responses and a 'close' listener each) kept every request's objects
  // alive through the young-generation GCs and made them cost 30-100 times
  // what node:http's cost (bench/PROFILE.md, "serveHttp").
  const connections = new Set<Duplex>();
  // One listener for every connection ('close' comes once per socket):
  // no closure and no once() wrapper per connection.
  function forget(this: Duplex): void {
    connections.delete(this);
    httpServer._connections--;
    // Once closed, the last connection to go lets the server emit 'close'.
    if (!serving) httpServer._emitCloseIfDrained();
  }
  // Whether the loop's server accepts: until http.close() or close().
  let serving = true;
  // One protocol for every connection: it only hands the transport over.
  const handOver = {
    connectionMade(transport: Transport) {
      // Half-open, as the sockets of node:http's own net.Server: node:http
      // ends a socket itself after the peer's EOF (httpAllowHalfOpen).
      const socket = toDuplex(transport, { allowHalfOpen: true });
      connections.add(socket);
      // net.Server's count, as if it had accepted the connection itself:
      // getConnections() answers with it, and close() emits 'close' (and
      // calls its callback) only once it is back to 0, as on node:http.
      httpServer._connections++;
      socket.on('close', forget);
      httpServer.emit('connection', socket);
    },
  };
  const server = await loop.createServer(
    () => handOver,
    host,
    port,
    // node:http's backlog (net.Server's 511), not createServer's 100: a
    // burst of connections (200 WebSocket clients opening at once, a load
    // generator's ramp) overflowed 100, and each dropped handshake cost its
    // client a 1 s SYN retransmission, or a reset of a request already sent.
    { ...listen, backlog: listen.backlog ?? kNodeBacklog, startServing: true },
  );
  // Ends `socket` after the response it is sending, or now if it is idle.
  // node:http's ServerResponse is the socket's `_httpMessage` while it owns
  // the socket; a pipelined response queued behind it takes over at once
  // when it finishes, so the check repeats then.
  const endAfterResponse = (socket: Duplex): void => {
    const res = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (res === null || res === undefined) httpServer.closeIdleConnections();
    else if (!res.headersSent) res.shouldKeepAlive = false;
    else res.once('finish', () => setImmediate(() => endAfterResponse(socket)));
  };
  // http.close(cb) (a framework's own stop: hapi's server.stop(),
  // fastify.close(), restify's close(cb), socket.io's io.close()) stops
  // accepting at once, as it closes a listening node:http server's socket;
  // the connections already open stay, as there, and 'close' and `cb()`
  // come once they are gone. net.Server's own close() would give `cb` an
  // ERR_SERVER_NOT_RUNNING (it never listened itself): only a second close
  // gets that, as on node:http.
  const httpClose = httpServer.close;
  httpServer.close = function (this: NetServerState, cb?: (err?: Error) => void) {
    if (!serving) return httpClose.call(this, cb);
    serving = false;
    server.close();
    if (typeof cb === 'function') this.once('close', cb);
    return httpClose.call(this);
  };
  const bound = server.sockets()[0];
  if (bound === undefined) {
    // createServer gives none without one; a server serving nothing would leak here.
    server.close();
    throw new UsageError('ERR_INVALID_STATE', 'serveHttp: the server has no listening address');
  }
  // node:http tracks its connections (which are idle, for
  // closeIdleConnections() and close(); which overran headersTimeout or
  // requestTimeout) from its 'listening' event on: a server fed connections
  // by 'connection' events never listens by itself.
  // The loop's server is what listens, so address() answers for it.
  httpServer.address = () => ({ address: bound.address, family: bound.family, port: bound.port });
  httpServer.emit('listening');
  return {
    http: httpServer,
    server,
    port: bound.port,
    async close() {
      server.close();
      // Requests that come after close() (pipelined, or on a connection
      // still open) are answered with Connection: close. The listener only
      // exists from now on: with a second 'request' listener node:http's
      // emit copies its listener array on every request.
      httpServer.prependListener('request', (_req: http.IncomingMessage, res) => {
        res.shouldKeepAlive = false;
      });
      // Connections with a request in flight end after their response
      // (Connection: close); those whose response is already on its way are
      // ended once idle. The idle ones end now (httpServer.close()).
      for (const socket of connections) {
        if ((socket as { _httpMessage?: unknown })._httpMessage) endAfterResponse(socket);
      }
      httpServer.close();
      await server.waitClosed();
    },
  };
}
