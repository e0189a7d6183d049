// The other end of a connection, written with node:net so that it does not
// depend on the loop under test.
import net from 'node:net';
import { once } from 'node:events';
import { networkInterfaces } from 'node:os';
import {
  type AbstractEventLoop,
  openConnection,
  type Protocol,
  type StreamReader,
  type StreamWriter,
  type Transport,
} from 'asyncuv';
import { within } from '../helpers/loop-test.js';

export interface NetServer {
  port: number;
  /** Sockets accepted so far. */
  sockets: net.Socket[];
  /** Resolves with the next accepted socket. */
  nextSocket(): Promise<net.Socket>;
  close(): Promise<void>;
}

/** A node:net server on 127.0.0.1:0 whose connections `onSocket` handles. */
export async function netServer(
  onSocket: (socket: net.Socket) => void = () => {},
  host = '127.0.0.1',
  opts: net.ServerOpts = {},
): Promise<NetServer> {
  const sockets: net.Socket[] = [];
  const waiting: Array<(s: net.Socket) => void> = [];
  const server = net.createServer(opts, (socket) => {
    sockets.push(socket);
    socket.on('error', () => {}); // resets are part of several tests
    onSocket(socket);
    waiting.shift()?.(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    nextSocket: () => new Promise((resolve) => waiting.push(resolve)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A stream connection of the loop's and the node:net peer at its other end. */
export interface StreamConn {
  reader: StreamReader;
  writer: StreamWriter;
  /** The peer's end (node:net). */
  peer: net.Socket;
}

/**
 * Runs `body` with a connection from openConnection({ limit }) to a
 * node:net peer the body writes through; closes both afterwards.
 */
export async function withConnection(
  loop: AbstractEventLoop,
  limit: number | undefined,
  body: (c: StreamConn) => Promise<void>,
): Promise<void> {
  const server = await netServer();
  try {
    const accepted = server.nextSocket();
    const { reader, writer } = await openConnection('127.0.0.1', server.port, {
      loop,
      ...(limit === undefined ? {} : { limit }),
    });
    const peer = await within(accepted, 'accept');
    try {
      await body({ reader, writer, peer });
    } finally {
      writer.close();
      await within(
        writer.waitClosed().catch(() => {}),
        'waitClosed',
      );
    }
  } finally {
    await server.close();
  }
}

/** Answers an HTTP/1.0-looking request with a fixed response and closes (CPython's test server). */
export const HTTP_RESPONSE = 'HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nhello world';
export function httpLikeServer(): Promise<NetServer> {
  return netServer((socket) => {
    let got = '';
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n\r\n')) socket.end(HTTP_RESPONSE);
    });
  });
}

/** Echoes every byte back; ends its side when the peer does. */
export function echoServer(host = '127.0.0.1'): Promise<NetServer> {
  return netServer((socket) => socket.pipe(socket), host);
}

/** A port nobody listens on (bound, then released). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A node:net client connected to host:port. */
export async function netConnect(
  port: number,
  host = '127.0.0.1',
  opts: { allowHalfOpen?: boolean } = {},
): Promise<net.Socket> {
  const socket = net.connect({ port, host, allowHalfOpen: opts.allowHalfOpen ?? false });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/**
 * How a connect to 127.0.0.1:`port` ends: the error code, or 'connected'.
 * A connection with itself (the kernel picked `port` as the client's own
 * port: a TCP simultaneous open, possible only while nothing listens
 * there) counts as 'ECONNREFUSED', the answer a listener's absence gives
 * every other time.
 */
export async function connectOutcome(port: number): Promise<string> {
  try {
    const socket = await netConnect(port);
    const self = socket.localPort === socket.remotePort;
    socket.destroy();
    return self ? 'ECONNREFUSED' : 'connected';
  } catch (err) {
    return String((err as NodeJS.ErrnoException).code);
  }
}

/** Collects what a socket receives until it ends. */
export function readToEnd(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) =>
    socket
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('close', () => resolve(Buffer.concat(chunks))),
  );
}

/** Whether this host has IPv6 loopback (some containers do not). */
export function hasIPv6(): boolean {
  return Object.values(networkInterfaces()).some((list) =>
    list?.some((i) => i.family === 'IPv6' && i.internal),
  );
}

/**
 * A transport of `make()`'s protocol on `loop`, connected to a fresh
 * node:net server (half-open allowed) whose sockets `onSocket` sees; with
 * the server's end of the connection.
 */
export async function connectedTo<P extends Protocol>(
  loop: AbstractEventLoop,
  make: () => P,
  onSocket: (s: net.Socket) => void = () => {},
): Promise<{ server: NetServer; transport: Transport; proto: P; peer: net.Socket }> {
  const server = await netServer(onSocket, '127.0.0.1', { allowHalfOpen: true });
  const accepted = server.nextSocket();
  const [transport, proto] = await loop.createConnection(make, '127.0.0.1', server.port);
  const peer = await within(accepted, 'accept');
  return { server, transport, proto, peer };
}

/** The port a TCP server listens on (its first address). */
export function portOf(server: { sockets(): unknown[] }): number {
  return (server.sockets()[0] as { port: number }).port;
}

/** Whether `promise` has settled, after the callbacks queued now have run. */
export async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}
