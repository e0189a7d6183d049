// The echo servers the TCP benchmarks compare, each started in this process
// on an ephemeral loopback port: node:net, asyncuv's TCP handle with a JS
// read callback, and the C++-only ceiling on an asyncuv loop.
import { createServer, type Socket } from 'node:net';
import { Loop, TCP } from 'asyncuv';
import { benchEchoServer } from '../bench-echo-server.js';

export interface EchoServer {
  readonly port: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const kHost = '127.0.0.1';

/** node:net, the way Node code echoes: socket.on('data', d => socket.write(d)). */
export function startNodeEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  // noDelay: the same setting as the other servers, so Nagle is not measured.
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('data', (d) => socket.write(d));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, kHost, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      resolve({
        port: address.port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** asyncuv's TCP handle: one JS read callback per read, which writes the data back. */
export function startUvEchoServer(loop: Loop = Loop.default()): EchoServer {
  const clients = new Set<TCP>();
  const server = new TCP(loop);
  server.bind(kHost, 0);
  server.listen(511, (err) => {
    if (err !== null) return;
    const client = new TCP(loop);
    server.accept(client);
    client.setNoDelay(true);
    clients.add(client);
    client.readStart((_err, data) => {
      if (data) {
        client.write(data);
      } else {
        // EOF or a read error. Forget it now: close() on a closing handle
        // would never call back, and close() below waits for callbacks.
        clients.delete(client);
        client.close();
      }
    });
  });
  return {
    port: server.getsockname().port,
    close: async () => {
      const closed = [...clients].map((c) => new Promise<void>((done) => c.close(done)));
      closed.push(new Promise<void>((done) => server.close(done)));
      await Promise.all(closed);
    },
  };
}

/** The ceiling: echo in C++ only, on an asyncuv loop (bench/native/bench_echo.cc). */
export function startCeilingEchoServer(loop: Loop = Loop.default()): EchoServer {
  return benchEchoServer(kHost, 0, loop);
}
