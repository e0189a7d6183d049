// serveHttp: a node:http server whose connections live on an asyncuv event
// loop. node:http parses and writes; the bytes move through the loop's
// transports (toDuplex), so keep-alive, pipelining, large bodies and
// upgrades behave as in node:http.
import http from 'node:http';
import { UsageError } from '../handles/usage-error.js';
import { validateFunction } from '../handles/validate.js';
import type { SocketAddress } from '../handles/tcp.js';
import type { AbstractEventLoop, Server } from '../loop/events.js';
import type { Transport } from '../loop/transports.js';
import { toDuplex } from './duplex.js';

export interface HttpOnLoop {
  /** The node:http server: listen for 'upgrade', 'request', 'clientError'... on it. */
  readonly http: http.Server;
  /** The loop's listening server. */
  readonly server: Server<SocketAddress>;
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Stops accepting, ends idle keep-alive connections; resolves when all are gone. */
  close(): Promise<void>;
}

export async function serveHttp(loop: AbstractEventLoop, requestListener: http.RequestListener, host: string, port: number, options: http.ServerOptions = {}): Promise<HttpOnLoop> {
  validateFunction(requestListener, 'requestListener');
  if (typeof options !== 'object' || options === null) throw new UsageError('ERR_INVALID_ARG_TYPE', 'options must be an object');
  const httpServer = http.createServer(options, requestListener);
  const server = await loop.createServer(() => ({
    connectionMade(transport: Transport) {
      httpServer.emit('connection', toDuplex(transport));
    },
  }), host, port);
  const bound = server.sockets()[0]!;
  // node:http starts its connection bookkeeping on 'listening': the checks
  // behind headersTimeout and requestTimeout (every
  // connectionsCheckingInterval), and closeIdleConnections(). The loop's
  // server is what listens, so address() answers for it.
  httpServer.address = () => ({ address: bound.address, family: bound.family, port: bound.port });
  httpServer.emit('listening');
  return {
    http: httpServer,
    server,
    port: bound.port,
    async close() {
      server.close();
      httpServer.closeIdleConnections();
      // Connections with a request in flight end after their response.
      httpServer.close();
      await server.waitClosed();
    },
  };
}
