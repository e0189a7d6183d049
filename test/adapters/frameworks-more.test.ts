// More real npm frameworks on our loop, side by side with node:http (the
// harness of frameworks.test.ts): hapi, served through its documented
// custom listener (`Hapi.server({ listener, autoListen: false })`, then the
// listener listens: serveHttp given the http.Server on our side,
// `server.listen()` on node's), and a socket.io server attached to the
// served http.Server, with socket.io-client on WebSocket and on
// long-polling upgraded to WebSocket.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import Hapi from '@hapi/hapi';
import { Server as IoServer } from 'socket.io';
import { within } from '../helpers/loop-test.js';
import { io as ioClient } from 'socket.io-client';
import {
  type App,
  chunks,
  frameworkTests,
  hashBody,
  onLoop,
  onNode,
  type Served,
  sha256,
} from './framework-harness.js';

/** The routes of the harness as hapi routes, on a server attached to a fresh http.Server. */
async function hapiApp(): Promise<{ listener: App; close: () => Promise<void> }> {
  const listener = http.createServer();
  const server = Hapi.server({ listener, autoListen: false });
  server.route([
    {
      method: 'GET',
      path: '/json',
      handler: (request) => ({ hello: 'hapi', x: request.query['x'] as unknown }),
    },
    { method: 'POST', path: '/echo', handler: (request) => request.payload },
    {
      method: 'GET',
      path: '/stream',
      handler: (_request, h) =>
        h.response(Readable.from(chunks, { objectMode: false })).type('text/plain'),
    },
    {
      method: 'POST',
      path: '/upload',
      options: { payload: { output: 'stream', parse: false, maxBytes: 16 * 1024 * 1024 } },
      handler: (request) => hashBody(request.payload as http.IncomingMessage),
    },
  ]);
  await server.start();
  return { listener, close: () => server.stop() };
}

frameworkTests('hapi', hapiApp);

const payload = randomBytes(256 * 1024 + 5);

/** The arguments of `emitter`'s next `event` (socket.io's emitters are not node's EventEmitter). */
function next(
  emitter: { once(event: string, listener: (...args: unknown[]) => void): unknown },
  event: string,
): Promise<unknown[]> {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

/**
 * A socket.io server on the served http server, and the socket.io client
 * with `transports` (undefined: its default, HTTP long-polling first, then
 * the upgrade to a WebSocket): events with acknowledgements, binary, a room
 * broadcast, and the disconnects both sides see.
 */
async function socketIoTranscript(served: Served, transports?: string[]): Promise<unknown> {
  const io = new IoServer(served.http);
  const seen: unknown[] = [];
  io.on('connection', (socket) => {
    seen.push('connection');
    void socket.join('room');
    socket.on('echo', (data: unknown, ack: (reply: unknown) => void) => ack(data));
    socket.on('hash', (data: Buffer, ack: (reply: unknown) => void) =>
      ack([Buffer.isBuffer(data), data.length, sha256(data)]),
    );
    socket.on('shout', (text: string) => io.to('room').emit('heard', text.toUpperCase()));
    socket.on('disconnect', (reason) =>
      seen.push(['disconnect', reason, socket.conn.transport.name]),
    );
  });
  const client = ioClient(`http://127.0.0.1:${served.port}`, {
    ...(transports === undefined ? {} : { transports }),
    reconnection: false,
    forceNew: true,
  });
  // The engine's first transport; by the end it must be the WebSocket.
  const first = client.io.engine.transport.name;
  // The upgrade may be done before 'connect' is (both race on a loaded machine).
  const upgraded: Promise<unknown> =
    first === 'websocket' ? Promise.resolve() : next(client.io.engine, 'upgrade');
  try {
    await within(next(client, 'connect'), 'the connect event');
    const echo = (await client.emitWithAck('echo', { a: [1, 2], b: 'ü' })) as unknown;
    const hashed = (await client.emitWithAck('hash', payload)) as unknown;
    await within(upgraded, "the engine's upgrade");
    const heard = next(client, 'heard');
    client.emit('shout', 'hello room');
    const [loud] = (await within(heard, 'the broadcast')) as [string];
    // After the upgrade (or from the start), the same events over the WebSocket.
    const again = (await client.emitWithAck('echo', 'after')) as unknown;
    const serverSaw = new Promise<void>((resolve) => {
      const check = (): void => (seen.length === 2 ? resolve() : void setTimeout(check, 5));
      check();
    });
    client.disconnect();
    await within(serverSaw, "the server's disconnect event");
    return {
      echo,
      hashed,
      expected: [true, payload.length, sha256(payload)],
      loud,
      again,
      transports: [first, client.io.engine.transport.name],
      seen,
    };
  } finally {
    client.disconnect();
    await io.close();
  }
}

for (const [name, transports] of [
  ['polling, then the upgrade to WebSocket (the default)', undefined],
  ['the websocket transport only', ['websocket']],
] as const) {
  test(`socket.io on serveHttp talks to socket.io-client as on node:http: ${name}`, async (t) => {
    const results: unknown[] = [];
    for (const where of ['loop', 'node'] as const) {
      const listener: http.RequestListener = (_req, res) => res.end('not socket.io');
      const served = where === 'loop' ? await onLoop(t, listener) : await onNode(listener);
      try {
        results.push(await socketIoTranscript(served, transports ? [...transports] : undefined));
      } finally {
        await served.close();
      }
    }
    t.deepEqual(results[0], results[1], 'the same transcript on both servers');
    const r = results[0] as Record<string, unknown>;
    t.deepEqual(r['echo'], { a: [1, 2], b: 'ü' });
    t.deepEqual(r['hashed'], r['expected']);
    t.is(r['loud'], 'HELLO ROOM');
    t.is(r['again'], 'after');
    t.deepEqual(r['transports'], [transports ? 'websocket' : 'polling', 'websocket']);
    t.deepEqual(r['seen'], [
      'connection',
      ['disconnect', 'client namespace disconnect', 'websocket'],
    ]);
  });
}
