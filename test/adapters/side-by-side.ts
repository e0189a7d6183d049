// The same server-side socket or HTTP server three ways, for tests that run
// one body against each and assert the same thing: node's own ('net', the
// reference), and toDuplex() over a transport of UvEventLoop ('uv') and of
// NodeEventLoop ('node'). Each ends with its loop closed and nothing left on
// it (libuv handles, or NodeEventLoop's live resources).
import type { ExecutionContext } from 'ava';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  Loop,
  NodeEventLoop,
  UvEventLoop,
  serveHttp,
  toDuplex,
  type AbstractEventLoop,
  type Transport,
} from 'asyncuv';
import { waitFor } from '../helpers/loop-test.js';

export const KINDS = ['net', 'uv', 'node'] as const;
export type Kind = (typeof KINDS)[number];

/** What the tests use of a server-side socket: net.Socket's API. */
export type ServerSocket = Duplex &
  Pick<
    net.Socket,
    | 'setTimeout'
    | 'setNoDelay'
    | 'setKeepAlive'
    | 'ref'
    | 'unref'
    | 'destroySoon'
    | 'address'
    | 'remoteAddress'
    | 'remotePort'
    | 'remoteFamily'
    | 'localAddress'
    | 'localPort'
    | 'bytesRead'
    | 'bytesWritten'
    | 'bufferSize'
    | 'timeout'
  >;

interface LoopUnderTest {
  loop: AbstractEventLoop;
  /** Closes the loop and asserts that nothing of it is left. */
  close(t: ExecutionContext): Promise<void>;
}

function loopOf(kind: 'uv' | 'node'): LoopUnderTest {
  const uv = kind === 'uv' ? new Loop() : undefined;
  const loop = uv !== undefined ? new UvEventLoop(uv) : new NodeEventLoop();
  // libuv handles of its own Loop, or what the NodeEventLoop still holds.
  const left = (): Record<string, number> =>
    uv !== undefined ? uv.handleCounts() : (loop as NodeEventLoop).liveResources();
  return {
    loop: loop,
    async close(t) {
      loop.close();
      await waitFor(() => Object.keys(left()).length === 0);
      t.deepEqual(left(), {}, 'nothing of the loop left');
      uv?.close();
    },
  };
}

export interface Pair {
  /** The server's side of the connection, as `kind` gives it. */
  server: ServerSocket;
  /** A node:net client connected to it. */
  client: net.Socket;
  close(): Promise<void>;
}

/**
 * A connection accepted by a `kind` server from a node:net client on
 * 127.0.0.1; `allowHalfOpen` goes to net.createServer or toDuplex (both
 * default to false).
 */
export async function connectedPair(
  t: ExecutionContext,
  kind: Kind,
  opts: { allowHalfOpen?: boolean } = {},
): Promise<Pair> {
  let accepted!: (s: ServerSocket) => void;
  const serverSide = new Promise<ServerSocket>((resolve) => (accepted = resolve));
  let port: number;
  let stop: () => Promise<void>;
  if (kind === 'net') {
    const server = net.createServer(opts, (s) => accepted(s)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    stop = () => new Promise((resolve) => server.close(() => resolve()));
  } else {
    const under = loopOf(kind);
    const server = await under.loop.createServer(
      () => ({
        connectionMade: (transport: Transport) =>
          accepted(toDuplex(transport, opts) as ServerSocket),
      }),
      '127.0.0.1',
      0,
    );
    port = (server.sockets()[0] as { port: number }).port;
    stop = async () => {
      server.close();
      await under.close(t);
    };
  }
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  await once(client, 'connect');
  const server = await serverSide;
  server.on('error', () => {});
  return {
    server,
    client,
    async close() {
      client.destroy();
      server.destroy();
      await stop();
    },
  };
}

export interface HttpUnderTest {
  http: http.Server;
  port: number;
  close(): Promise<void>;
}

/** An HTTP server: node:http listening itself ('net'), or serveHttp() on a `kind` loop. */
export async function httpServer(
  t: ExecutionContext,
  kind: Kind,
  listener: http.RequestListener,
  options: http.ServerOptions = {},
): Promise<HttpUnderTest> {
  if (kind === 'net') {
    const server = http.createServer(options, listener).listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      http: server,
      port: (server.address() as net.AddressInfo).port,
      async close() {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }
  const under = loopOf(kind);
  const served = await serveHttp(under.loop, listener, '127.0.0.1', 0, options);
  return {
    http: served.http,
    port: served.port,
    async close() {
      served.http.closeAllConnections();
      await served.close();
      await under.close(t);
    },
  };
}
