// Real npm frameworks and clients on our loop, side by side with node:http.
// Each app (Express, Koa, Fastify, a ws WebSocket server) is served twice
// in one test: by serveHttp on a UvEventLoop and by a plain node:http
// server. The same client script (undici's fetch and a keep-alive Pool,
// axios, the ws client) runs against both, and the two transcripts must be
// equal: node:http on net.Socket is the reference behaviour.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { Agent, fetch } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { Loop, UvEventLoop, toDuplex } from 'asyncuv';
import { closeEventLoop } from '../helpers/event-loop-test.js';
import {
  frameworkTests,
  hashBody,
  onLoop,
  onNode,
  type Served,
  sha256,
  writeChunks,
} from './framework-harness.js';

function expressApp(): Promise<{ listener: http.RequestListener }> {
  const app = express();
  app.use(express.json());
  app.get('/json', (req, res) => {
    res.json({ hello: 'express', x: req.query['x'] });
  });
  app.post('/echo', (req, res) => {
    res.json(req.body);
  });
  app.get('/stream', (_req, res) => {
    res.type('text/plain');
    void writeChunks(res);
  });
  app.post('/upload', (req, res) => {
    void hashBody(req).then((digest) => res.send(digest));
  });
  return Promise.resolve({ listener: app });
}

function koaApp(): Promise<{ listener: http.RequestListener }> {
  const app = new Koa();
  app.use(async (ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/json') {
      ctx.body = { hello: 'koa', x: ctx.query['x'] };
    } else if (ctx.method === 'POST' && ctx.path === '/echo') {
      const text = await new Promise<string>((resolve) => {
        let acc = '';
        ctx.req.setEncoding('utf8');
        ctx.req.on('data', (d: string) => (acc += d));
        ctx.req.on('end', () => resolve(acc));
      });
      ctx.body = JSON.parse(text) as unknown;
    } else if (ctx.path === '/stream') {
      ctx.respond = false;
      ctx.status = 200;
      ctx.res.setHeader('content-type', 'text/plain');
      await writeChunks(ctx.res);
    } else if (ctx.path === '/upload') {
      ctx.body = await hashBody(ctx.req);
    }
  });
  return Promise.resolve({ listener: app.callback() });
}

/** Fastify serves through serverFactory: its request handler is what serveHttp runs. */
async function fastifyApp(): Promise<{
  listener: http.RequestListener;
  close: () => Promise<void>;
}> {
  let handler: http.RequestListener | undefined;
  const app = Fastify({
    serverFactory: (h) => {
      handler = h as http.RequestListener;
      return http.createServer();
    },
  });
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => {
    void hashBody(payload as http.IncomingMessage).then((digest) => done(null, digest));
  });
  app.get('/json', (req) => ({ hello: 'fastify', x: (req.query as { x?: string }).x }));
  app.post('/echo', (req) => req.body);
  app.get('/stream', (_req, reply) => {
    reply.hijack();
    reply.raw.setHeader('content-type', 'text/plain');
    void writeChunks(reply.raw);
  });
  app.post('/upload', (req) => req.body);
  await app.ready();
  return { listener: handler!, close: () => app.close() };
}

frameworkTests('Express', expressApp);
frameworkTests('Koa', koaApp);
frameworkTests('Fastify', fastifyApp);

/** A ws server on the served http server: echoes, answers pings, closes on 'bye'. */
const big = randomBytes(1024 * 1024 + 3);
const wide = 'ü'.repeat(70_000);

function wsTranscript(t: ExecutionContext): (served: Served) => Promise<unknown> {
  return async (served) => {
    const wss = new WebSocketServer({ server: served.http });
    const closes: unknown[] = [];
    wss.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => {
        if (!isBinary && String(data) === 'bye') socket.close(4000, 'done');
        else socket.send(data, { binary: isBinary });
      });
      socket.on('close', (code, reason) => closes.push([code, String(reason)]));
    });
    const client = new WebSocket(`ws://127.0.0.1:${served.port}/chat`);
    const messages: unknown[] = [];
    await once(client, 'open');
    const got = new Promise<void>((resolve) => {
      client.on('message', (data: Buffer, isBinary) => {
        messages.push([isBinary ? 'binary' : 'text', data.length, sha256(data)]);
        if (messages.length === 3) resolve();
      });
    });
    client.send('hello');
    client.send(big);
    client.send(wide);
    await got;
    client.ping('p');
    const [pong] = (await once(client, 'pong')) as [Buffer];
    client.send('bye');
    const [code, reason] = (await once(client, 'close')) as [number, Buffer];
    while (closes.length === 0) await new Promise((r) => setTimeout(r, 5));
    wss.close();
    t.is(messages.length, 3);
    return {
      messages,
      expected: ['binary', big.length, sha256(big)],
      pong: String(pong),
      clientClose: [code, String(reason)],
      serverClose: closes,
    };
  };
}

test('a ws WebSocket server on serveHttp talks to the ws client as on node:http', async (t) => {
  const run = wsTranscript(t);
  const results: unknown[] = [];
  for (const where of ['loop', 'node'] as const) {
    const listener: http.RequestListener = (_req, res) => res.end('not a websocket');
    const served = where === 'loop' ? await onLoop(t, listener) : await onNode(listener);
    try {
      results.push(await run(served));
    } finally {
      await served.close();
    }
  }
  t.deepEqual(results[0], results[1], 'the same transcript on both servers');
  const r = results[0] as { messages: unknown[]; expected: unknown; pong: string };
  t.deepEqual(r.messages[0], ['text', 5, sha256('hello')]);
  t.deepEqual(r.messages[1], r.expected);
  t.deepEqual(r.messages[2], ['text', Buffer.byteLength(wide), sha256(wide)]);
  t.is(r.pong, 'p');
  t.deepEqual((results[0] as { clientClose: unknown }).clientClose, [4000, 'done']);
});

/**
 * undici's fetch through an Agent whose connect() makes the connection: on
 * our loop (toDuplex of a transport) or with net.connect (the reference).
 * Returns what the server answered and how many connections were made.
 */
async function undiciVia(
  port: number,
  connect: (host: string, port: number) => Promise<Duplex>,
): Promise<unknown> {
  const made: Duplex[] = [];
  const agent = new Agent({
    connect: (opts, callback) => {
      connect(opts.hostname, Number(opts.port)).then(
        (socket) => {
          made.push(socket);
          callback(null, socket as never);
        },
        (err: Error) => callback(err, null),
      );
    },
  });
  const answers: string[] = [];
  const body = randomBytes(512 * 1024);
  try {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/r${i}`, {
        dispatcher: agent,
        method: i % 2 === 0 ? 'POST' : 'GET',
        ...(i % 2 === 0 ? { body } : {}),
      });
      answers.push((await res.text()).replace(sha256(body), 'hash of the body'));
    }
  } finally {
    await agent.close();
  }
  await Promise.all(made.map((s) => (s.destroyed ? undefined : once(s, 'close'))));
  return { answers, connections: made.length, destroyed: made.every((s) => s.destroyed) };
}

test("undici's client with its connections on our loop, as with net.connect", async (t) => {
  const server = await onNode((req, res) => {
    void hashBody(req).then((digest) => res.end(`${req.method} ${req.url} ${digest}`));
  });
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  try {
    const ours = await undiciVia(server.port, async (host, port) => {
      const [transport] = await loop.createConnection(() => ({}), host, port);
      return toDuplex(transport);
    });
    const reference = await undiciVia(server.port, async (host, port) => {
      const socket = net.connect(port, host);
      await once(socket, 'connect');
      return socket;
    });
    t.deepEqual(ours, reference);
    t.is((ours as { answers: string[] }).answers[0], 'POST /r0 hash of the body');
  } finally {
    await server.close();
    await closeEventLoop(t, loop, uv);
  }
});
