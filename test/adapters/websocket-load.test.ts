// WebSocket servers under many clients at once, on serveHttp (UvEventLoop)
// and on node:http (the reference): a ws server echoing to 200 concurrent
// ws clients, each closing with the close handshake; a socket.io server
// with 100 socket.io-client clients (half long-polling then upgraded, half
// WebSocket only). Both servers must give the same counts, and serveHttp's
// close() must leave nothing on the loop (the harness's onLoop checks).
import test from 'ava';
import { once } from 'node:events';
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { Server as IoServer } from 'socket.io';
import { io as ioClient } from 'socket.io-client';
import { within } from '../helpers/loop-test.js';
import { onLoop, onNode, type Served } from './framework-harness.js';

const notHere: http.RequestListener = (_req, res) => res.end('not a websocket');

async function wsEcho(served: Served): Promise<unknown> {
  const wss = new WebSocketServer({ server: served.http });
  const serverCloses: number[] = [];
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on('close', (code) => serverCloses.push(code));
  });
  const started = performance.now();
  const clients = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const client = new WebSocket(`ws://127.0.0.1:${served.port}/`);
      await once(client, 'open');
      let echoed = 0;
      for (let k = 0; k < 10; k++) {
        const message = k % 2 === 0 ? `text ${i} ${k}` : Buffer.alloc(k * 700, i);
        client.send(message);
        const [data] = (await once(client, 'message')) as [Buffer];
        if (Buffer.from(data).equals(Buffer.from(message))) echoed++;
      }
      client.close(1000, 'bye');
      const [code, reason] = (await once(client, 'close')) as [number, Buffer];
      return `${echoed} ${code} ${String(reason)}`;
    }),
  );
  const ms = performance.now() - started;
  await within(
    new Promise<void>((resolve) => {
      const check = (): void =>
        serverCloses.length === 200 ? resolve() : void setTimeout(check, 5);
      check();
    }),
    "the server's close events",
  );
  wss.close();
  return { clients: new Set(clients), serverCloses: new Set(serverCloses), ms };
}

async function socketIo(served: Served): Promise<unknown> {
  const io = new IoServer(served.http);
  let disconnects = 0;
  io.on('connection', (socket) => {
    socket.on('echo', (data: unknown, ack: (reply: unknown) => void) => ack(data));
    socket.on('disconnect', () => disconnects++);
  });
  const started = performance.now();
  try {
    const clients = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const client = ioClient(`http://127.0.0.1:${served.port}`, {
          reconnection: false,
          forceNew: true,
          ...(i % 2 === 0 ? {} : { transports: ['websocket'] }),
        });
        try {
          await new Promise((resolve, reject) => {
            client.once('connect', () => resolve(undefined));
            client.once('connect_error', reject);
          });
          let acked = 0;
          for (let k = 0; k < 10; k++) {
            const reply = (await client.emitWithAck('echo', { i, k })) as { k: number };
            if (reply.k === k) acked++;
          }
          return acked;
        } finally {
          client.disconnect();
        }
      }),
    );
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => (disconnects === 100 ? resolve() : void setTimeout(check, 5));
        check();
      }),
      "the server's disconnect events",
    );
    return { acked: new Set(clients), disconnects, ms: performance.now() - started };
  } finally {
    await io.close();
  }
}

for (const [name, scenario] of [
  ['a ws server echoing to 200 concurrent ws clients, each closed with 1000', wsEcho],
  ['socket.io with 100 concurrent socket.io-client clients', socketIo],
] as const) {
  test.serial(`${name}: on serveHttp as on node:http, nothing left`, async (t) => {
    const results: Record<string, unknown>[] = [];
    for (const where of ['loop', 'node'] as const) {
      const served = where === 'loop' ? await onLoop(t, notHere) : await onNode(notHere);
      try {
        results.push((await scenario(served)) as Record<string, unknown>);
      } finally {
        await served.close();
      }
    }
    const [ours, reference] = results.map(({ ms, ...rest }) => {
      t.log(`${Number(ms).toFixed(0)} ms`);
      return rest;
    });
    t.deepEqual(ours, reference, 'the same counts on both servers');
    t.log(JSON.stringify(ours, (_k, v: unknown) => (v instanceof Set ? [...v] : v)));
    const r = ours as { clients?: Set<string>; acked?: Set<number> };
    if (r.clients) t.deepEqual([...r.clients], ['10 1000 bye']);
    if (r.acked) t.deepEqual([...r.acked], [10]);
  });
}
