// got, an HTTP client nobody here wrote, against serveHttp and against
// node:http (the reference), and with its connections on our loops (a
// LoopAgent); and node:http's own client given
// a `createConnection` that connects on our loops, without an Agent; the
// ws client the same way (its `createConnection` option). Each case runs
// the same script both ways and requires the same transcript.
import test from 'ava';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import got, { HTTPError } from 'got';
import { WebSocket, WebSocketServer } from 'ws';
import { LoopAgent, toDuplex, type AbstractEventLoop } from 'asyncuv';
import { assertNothingLive, bothEventLoops } from '../helpers/event-loop-test.js';
import {
  chunks,
  hashBody,
  onLoop,
  onNode,
  sha256,
  upload,
  writeChunks,
} from './framework-harness.js';

/** JSON, an echo, a chunked stream, an upload's hash, a redirect and a 404. */
const app: http.RequestListener = (req, res) => {
  const url = new URL(req.url!, 'http://localhost');
  const json = (value: unknown): void => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(value));
  };
  if (url.pathname === '/json') json({ x: url.searchParams.get('x') });
  else if (url.pathname === '/echo') {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => json(JSON.parse(Buffer.concat(parts).toString()) as unknown));
  } else if (url.pathname === '/stream') {
    res.setHeader('content-type', 'text/plain');
    void writeChunks(res);
  } else if (url.pathname === '/upload') void hashBody(req).then((digest) => res.end(digest));
  else if (url.pathname === '/redirect') {
    res.writeHead(302, { location: '/json?x=redirected' });
    res.end();
  } else {
    res.statusCode = 404;
    res.end('no such page');
  }
};

/** got's requests, with its connections made by `agent` (got's default: Node's global Agent). */
async function gotScript(port: number, agent?: http.Agent): Promise<unknown> {
  const client = got.extend({
    prefixUrl: `http://127.0.0.1:${port}`,
    retry: { limit: 0 },
    ...(agent === undefined ? {} : { agent: { http: agent } }),
  });
  const json = await client.get('json', { searchParams: { x: 1 } });
  const echo = await client.post('echo', { json: { a: [1, 2, 3], b: 'ü' } }).json();
  const hash = createHash('sha256');
  await pipeline(client.stream('stream'), hash);
  const uploaded = await client.post('upload', { body: upload }).text();
  const redirected = await client.get('redirect');
  const missing = await client.get('missing').then(
    () => 'no error',
    (err: unknown) =>
      err instanceof HTTPError ? [err.response.statusCode, err.response.body] : err,
  );
  return {
    json: [json.statusCode, json.headers['content-type'], JSON.parse(json.body) as unknown],
    echo,
    stream: [hash.digest('hex'), sha256(chunks.join(''))],
    upload: [uploaded, sha256(upload)],
    redirect: [redirected.statusCode, redirected.redirectUrls.map(String), redirected.body],
    missing,
  };
}

const expected = (port: number): unknown => ({
  json: [200, 'application/json', { x: '1' }],
  echo: { a: [1, 2, 3], b: 'ü' },
  stream: [sha256(chunks.join('')), sha256(chunks.join(''))],
  upload: [sha256(upload), sha256(upload)],
  redirect: [200, [`http://127.0.0.1:${port}/json?x=redirected`], '{"x":"redirected"}'],
  missing: [404, 'no such page'],
});

test('got against serveHttp gets what it gets from node:http', async (t) => {
  for (const where of ['loop', 'node'] as const) {
    const served = where === 'loop' ? await onLoop(t, app) : await onNode(app);
    try {
      t.deepEqual(await gotScript(served.port), expected(served.port), where);
    } finally {
      await served.close();
    }
  }
});

/** A node:http server counting its connections, for the client-side cases. */
async function countingServer(): Promise<{
  port: number;
  connections: () => number;
  close(): Promise<void>;
}> {
  let connections = 0;
  const server = http.createServer(app);
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Connects on `loop` and hands node:http toDuplex(transport), the createConnection(options, cb) way. */
function connectOn(loop: AbstractEventLoop) {
  return (
    options: http.ClientRequestArgs,
    cb: (err: Error | null, socket: Duplex) => void,
  ): undefined => {
    loop
      // options.port as node:http and ws give it: a number or a decimal string.
      .createConnection(() => ({}), options.host ?? '127.0.0.1', options.port ?? 80)
      .then(
        ([transport]) => cb(null, toDuplex(transport)),
        (err: Error) => cb(err, undefined as never),
      );
    return undefined;
  };
}

for (const [name, onEventLoop] of bothEventLoops) {
  test(`got with a keep-alive Agent whose connections are ${name} transports, as with Node's`, (t) =>
    onEventLoop(t, async (loop) => {
      const server = await countingServer();
      try {
        const transcripts: unknown[] = [];
        for (const agent of [
          new LoopAgent(loop, { keepAlive: true, maxSockets: 1 }),
          new http.Agent({ keepAlive: true, maxSockets: 1 }),
        ]) {
          const before = server.connections();
          transcripts.push([await gotScript(server.port, agent), server.connections() - before]);
          agent.destroy();
        }
        t.deepEqual(transcripts[0], transcripts[1]);
        t.deepEqual(transcripts[0], [expected(server.port), 1], 'one keep-alive connection');
      } finally {
        await server.close();
      }
    }));

  test(`node:http's request with a createConnection on ${name}, without an Agent, as with net`, (t) =>
    onEventLoop(t, async (loop) => {
      const server = await countingServer();
      const made: Duplex[] = [];
      const request = (
        path: string,
        createConnection: ReturnType<typeof connectOn>,
        body?: Buffer,
      ): Promise<[number, string]> =>
        new Promise((resolve, reject) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port: server.port,
              path,
              method: body ? 'POST' : 'GET',
              createConnection: (options, cb) =>
                createConnection(options, (err, socket) => {
                  if (socket) made.push(socket);
                  cb(err, socket as never);
                }),
            },
            (res) => {
              const parts: Buffer[] = [];
              res.on('data', (d: Buffer) => parts.push(d));
              res.on('end', () => resolve([res.statusCode!, Buffer.concat(parts).toString()]));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const script = async (createConnection: ReturnType<typeof connectOn>): Promise<unknown> => [
        await request('/json?x=7', createConnection),
        await request('/upload', createConnection, upload),
        await request('/missing', createConnection),
      ];
      try {
        const ours = await script(connectOn(loop));
        const reference = await script((options, cb) => {
          const socket = net.connect(Number(options.port), options.host ?? '127.0.0.1');
          socket.once('connect', () => cb(null, socket));
          socket.once('error', (err) => cb(err, socket));
          return undefined;
        });
        t.deepEqual(ours, reference);
        t.deepEqual(ours, [
          [200, '{"x":"7"}'],
          [200, sha256(upload)],
          [404, 'no such page'],
        ]);
        await Promise.all(made.map((s) => (s.destroyed ? undefined : once(s, 'close'))));
        t.is(made.length, 6, 'a connection per request (no Agent), each closed');
      } finally {
        await server.close();
      }
    }));

  test(`the ws client with its connection on ${name} (createConnection) talks to a ws server as over net`, (t) =>
    onEventLoop(t, async (loop) => {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      await once(wss, 'listening');
      wss.on('connection', (ws) => {
        ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo ${String(data)}`));
      });
      const { port } = wss.address() as AddressInfo;
      const script = async (createConnection?: ReturnType<typeof connectOn>): Promise<unknown> => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
          ...(createConnection === undefined
            ? {}
            : { createConnection: createConnection as never }),
        });
        const received: unknown[] = [];
        ws.on('message', (data: Buffer, isBinary) =>
          received.push(isBinary ? data.length : String(data)),
        );
        await once(ws, 'open');
        ws.send('hello');
        ws.send(Buffer.alloc(300_000, 7)); // frames over several reads
        while (received.length < 2) await once(ws, 'message');
        const closed = once(ws, 'close');
        ws.close(1000, 'done');
        const [code, reason] = (await closed) as [number, Buffer];
        return [received, code, String(reason)];
      };
      try {
        const ours = await script(connectOn(loop));
        const reference = await script();
        t.deepEqual(ours, reference);
        t.deepEqual(ours, [['echo hello', 300_000], 1000, 'done']);
      } finally {
        for (const client of wss.clients) client.terminate();
        await new Promise((resolve) => wss.close(resolve));
      }
      await assertNothingLive(t, loop);
    }));
}
