// Still more real npm servers on our loop, each served three ways: by
// node:http (the reference), by serveHttp on a UvEventLoop, and by
// startThreadedServer (the module threaded-frameworks2.ts, one app per
// test). The same client script runs against each and the transcripts must
// be equal. The apps (test/fixtures/frameworks2-apps.ts): the HTTP
// frameworks hono (@hono/node-server), polka, restify and h3 (its node
// adapter) on the harness routes; WebSocket servers of faye-websocket,
// websocket-driver and the `websocket` package, each talked to by the ws,
// faye-websocket and `websocket` clients; Server-Sent Events from
// node:http, hono's streamSSE, h3's createEventStream and faye-websocket's
// EventSource (which writes on the socket itself), read by undici's
// EventSource and by a fetch that goes away mid-stream; a request without
// Host and a body left unread; and a CONNECT proxy (the server's 'connect'
// event) that undici's ProxyAgent and curl tunnel through.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { WebSocket as WsClient } from 'ws';
import FayeWebSocket from 'faye-websocket';
import websocket from 'websocket';
import { Agent, EventSource, type MessageEvent, ProxyAgent, fetch } from 'undici';
import { Loop, startThreadedServer } from 'asyncuv';
import { waitFor, within } from '../helpers/loop-test.js';
import { missingPrograms } from '../helpers/tools.js';
import { apps, sseEvents } from '../fixtures/frameworks2-apps.js';
import { httpClient, onLoop, onNode, pooled } from './framework-harness.js';

const WHERE = ['node:http', 'serveHttp', 'startThreadedServer'] as const;
type Where = (typeof WHERE)[number];

/** The app `name` served `where`; close() checks that nothing of it is left open. */
async function serve(
  t: ExecutionContext,
  where: Where,
  name: string,
  threads: number,
): Promise<{ port: number; close(): Promise<void> }> {
  if (where === 'startThreadedServer') {
    const module = new URL(`../fixtures/threaded-frameworks2.js?app=${name}`, import.meta.url);
    const server = await within(
      startThreadedServer(module, { host: '127.0.0.1', port: 0, threads }),
      'startThreadedServer',
    );
    t.teardown(() => server.close({ deadlineMs: 0 }));
    return {
      port: server.port,
      async close() {
        await within(server.close(), 'close()');
        const stats = server.stats();
        t.is(stats.open, 0, `${name}: no connection left on the threads`);
        t.true(stats.threads.every((th) => th.state === 'closed' && th.restarts === 0));
        await waitFor(() => Object.keys(Loop.default().handleCounts()).length === 0, 10_000);
        t.deepEqual(Loop.default().handleCounts(), {}, "the supervisor's socket is closed");
      },
    };
  }
  const app = await apps[name]!();
  const served = where === 'serveHttp' ? await onLoop(t, app.listener) : await onNode(app.listener);
  return {
    port: served.port,
    async close() {
      await served.close();
      await app.close?.();
    },
  };
}

/**
 * Runs `client` against the app `name` served the three ways; each answer
 * must equal node:http's, which is returned. `threads` is 1 where the
 * script reads state the app keeps (a thread has its own).
 */
async function threeWays<T>(
  t: ExecutionContext,
  name: string,
  client: (port: number) => Promise<T>,
  threads = 2,
): Promise<T> {
  const results = new Map<Where, T>();
  for (const where of WHERE) {
    const served = await serve(t, where, name, threads);
    try {
      results.set(where, await client(served.port));
    } finally {
      await served.close();
    }
  }
  const reference = results.get('node:http')!;
  t.deepEqual(results.get('serveHttp'), reference, `${name}: serveHttp answers as node:http`);
  t.deepEqual(results.get('startThreadedServer'), reference, `${name}: the threads too`);
  return reference;
}

for (const name of ['hono', 'polka', 'restify', 'h3']) {
  test.serial(
    `${name}: undici and axios get node:http's answers from serveHttp and startThreadedServer`,
    async (t) => {
      const r = (await threeWays(t, name, httpClient)) as Record<string, unknown[]>;
      t.is(r['json']![0], 200);
      t.deepEqual(r['json']![2], { hello: name, x: '1' });
      t.deepEqual(r['echo'], [200, { a: [1, 2, 3], b: 'ü' }]);
      t.is(r['stream']![0], 200);
      t.is(r['stream']![2], r['streamExpected']);
      t.is(r['upload']![1], r['upload']![2], 'the 3 MiB upload arrived intact');
      t.is(r['missing']![0], 404);
      t.deepEqual(r['axios'], [200, { hello: name, x: '2' }, 200, { n: 42 }]);
    },
  );

  test.serial(`${name}: 120 requests pipelined over an undici Pool, three ways`, async (t) => {
    const answers = (await threeWays(t, name, pooled)) as [number, { x: string }][];
    t.deepEqual(
      answers.map(([status, body]) => `${status} ${body.x}`),
      answers.map((_, i) => `200 ${i}`),
    );
  });
}

// WebSocket: three servers, three clients.

type Message = string | Buffer;

/** A client connection, whatever the library: its messages in order, and how it closed. */
interface WsConn {
  protocol: string;
  send(data: Message): void;
  next(): Promise<Message>;
  closed: Promise<[number, string]>;
}

/** Messages in arrival order, handed to next() callers in that order. */
function inbox(): { push(m: Message): void; next(): Promise<Message> } {
  const queued: Message[] = [];
  const waiting: ((m: Message) => void)[] = [];
  return {
    push: (m) => (waiting.length > 0 ? waiting.shift()!(m) : void queued.push(m)),
    next: () =>
      queued.length > 0
        ? Promise.resolve(queued.shift()!)
        : new Promise((resolve) => waiting.push(resolve)),
  };
}

const clients: Record<string, (url: string) => Promise<WsConn>> = {
  ws: (url) =>
    new Promise((resolve, reject) => {
      const box = inbox();
      const ws = new WsClient(url, ['chat']);
      ws.on('message', (data: Buffer, isBinary) => box.push(isBinary ? data : String(data)));
      const closed = new Promise<[number, string]>((done) =>
        ws.on('close', (code, reason) => done([code, String(reason)])),
      );
      ws.on('error', reject);
      ws.on('open', () =>
        resolve({ protocol: ws.protocol, send: (d) => ws.send(d), next: box.next, closed }),
      );
    }),
  'faye-websocket': (url) =>
    new Promise((resolve, reject) => {
      const box = inbox();
      const ws = new FayeWebSocket.Client(url, ['chat']);
      ws.on('message', ({ data }) => box.push(data));
      const closed = new Promise<[number, string]>((done) =>
        ws.on('close', ({ code, reason }) => done([code, reason])),
      );
      ws.on('error', (e) => reject(new Error(e.message)));
      ws.on('open', () =>
        resolve({ protocol: ws.protocol, send: (d) => ws.send(d), next: box.next, closed }),
      );
    }),
  websocket: (url) =>
    new Promise((resolve, reject) => {
      const box = inbox();
      // Its frame and message limits are 1 MiB by default; the big echo is 1.5 MB.
      const limits = { maxReceivedFrameSize: 1 << 24, maxReceivedMessageSize: 1 << 24 };
      const ws = new websocket.w3cwebsocket(url, 'chat', undefined, undefined, undefined, limits);
      ws.binaryType = 'arraybuffer';
      ws.onmessage = ({ data }) =>
        box.push(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer));
      const closed = new Promise<[number, string]>(
        (done) => (ws.onclose = ({ code, reason }) => done([code, reason])),
      );
      ws.onerror = () => reject(new Error('websocket client: error'));
      ws.onopen = () =>
        resolve({
          protocol: ws.protocol ?? '',
          send: (d) => ws.send(d),
          next: box.next,
          closed,
        });
    }),
};

const binary = randomBytes(100_000);
const bigText = `${'ü'.repeat(512 * 1024)}end`;

/** Each client: the server's hello, three echoes (text, binary, 1.5 MB text), its close. */
async function wsScript(port: number): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, connect] of Object.entries(clients)) {
    const conn = await within(connect(`ws://127.0.0.1:${port}/`), `${name}: open`);
    const hello = JSON.parse(String(await within(conn.next(), `${name}: hello`))) as unknown;
    conn.send('hello ü');
    conn.send(binary);
    conn.send(bigText);
    const echoes: Message[] = [];
    for (let i = 0; i < 3; i++) echoes.push(await within(conn.next(), `${name}: echo ${i}`));
    conn.send('close-me');
    const closed = await within(conn.closed, `${name}: the server's close`);
    out[name] = {
      protocol: conn.protocol,
      hello,
      echoes: [
        echoes[0] === 'hello ü',
        Buffer.isBuffer(echoes[1]) && echoes[1].equals(binary),
        echoes[2] === bigText,
      ],
      closed,
    };
  }
  return out;
}

for (const name of ['faye-websocket', 'websocket-driver', 'websocket']) {
  test.serial(
    `${name} server: the ws, faye-websocket and websocket clients, three ways`,
    async (t) => {
      const r = (await threeWays(t, name, wsScript)) as Record<string, unknown>;
      for (const client of Object.keys(clients)) {
        t.deepEqual(
          r[client],
          {
            protocol: 'chat',
            hello: { remote: ['127.0.0.1', 'IPv4'], protocol: 'chat' },
            echoes: [true, true, true],
            closed: [4001, 'bye'],
          },
          client,
        );
      }
    },
  );
}

// Server-Sent Events: a response that stays open until the client goes.

/** The events through a fetch that aborts after them, then undici's EventSource; the server's counts. */
async function sseScript(port: number): Promise<unknown> {
  const base = `http://127.0.0.1:${port}`;
  const dispatcher = new Agent();
  try {
    // A fetch that reads the three events and goes away mid-response.
    const abort = new AbortController();
    const res = await fetch(`${base}/sse`, {
      dispatcher,
      signal: abort.signal,
      headers: { accept: 'text/event-stream' },
    });
    let text = '';
    const decoder = new TextDecoder();
    const reader = res.body!.getReader();
    // Events end with a blank line; faye's lines end with CRLF.
    const events = (): string[] =>
      text.replace(/\r\n/g, '\n').match(/event: tick\n[^]*?\n\n/g) ?? [];
    while (events().length < 3) {
      const { value, done } = await within(reader.read(), 'the SSE body');
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    abort.abort();
    // The server's counts, asked again until it has seen `closed` responses close (or 10 s).
    const closedCount = async (closed: number): Promise<{ closed: number }> => {
      for (const bound = Date.now() + 10_000; ;) {
        const seen = (await (await fetch(`${base}/sse-stats`, { dispatcher })).json()) as {
          closed: number;
        };
        if (seen.closed >= closed || Date.now() > bound) return seen;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const afterFetch = await closedCount(1);

    // EventSource: open, the three events, then close().
    const order: unknown[] = [];
    const es = new EventSource(`${base}/sse`, { dispatcher });
    const three = new Promise<void>((resolve) => {
      es.onopen = () => order.push('open');
      es.addEventListener('tick', (e) => {
        const { type, lastEventId, data } = e as MessageEvent;
        order.push([type, lastEventId, data]);
        if (order.length === 4) resolve();
      });
    });
    await within(three, 'three events');
    es.close();
    const afterEventSource = await closedCount(2);
    return {
      status: res.status,
      type: res.headers.get('content-type')?.split(';')[0],
      events: events().length,
      afterFetch,
      order,
      afterEventSource,
    };
  } finally {
    await dispatcher.close();
  }
}

for (const name of ['sse-node', 'sse-hono', 'sse-h3', 'sse-faye']) {
  test.serial(
    `${name}: a long-lived text/event-stream, its client gone twice, three ways`,
    async (t) => {
      const r = await threeWays(t, name, sseScript, 1);
      t.like(r, {
        status: 200,
        type: 'text/event-stream',
        events: 3,
        afterFetch: { opened: 1, closed: 1 },
        afterEventSource: { opened: 2, closed: 2 },
      });
      t.deepEqual((r as { order: unknown[] }).order, [
        'open',
        ...sseEvents.map((e) => ['tick', e.id, e.data]),
      ]);
    },
  );
}

// Edges a framework reaches through the socket.

/** What `data` written to a raw connection gets back, until the server's close (Date left out). */
async function rawExchange(
  port: number,
  data: Buffer | string,
  halfClose = false,
): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let out = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (out += d));
  socket.on('error', () => {}); // the server may close before it read all of `data`
  socket.write(data);
  if (halfClose) socket.end();
  await within(once(socket, 'close'), "the server's close");
  return out.replace(/^Date: .*\r\n/gim, '').replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT');
}

test.serial(
  'hono and h3: a request without Host, and a body hono leaves unread (drained, then destroySoon), three ways',
  async (t) => {
    const body = Buffer.alloc(2 * 1024 * 1024, 'x');
    // 8 MiB announced, 2 MiB sent: hono drains, gives up after 500 ms and
    // ends the connection with destroySoon() once the answer is flushed.
    const unread = Buffer.concat([
      Buffer.from(`POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: ${4 * body.length}\r\n\r\n`),
      body,
    ]);
    const hono = await threeWays(t, 'hono', async (port) => [
      await rawExchange(port, 'GET /json HTTP/1.0\r\n\r\n'),
      await rawExchange(port, unread),
    ]);
    t.regex(hono[0]!, /^HTTP\/1\.1 400 Bad Request\r\n/);
    t.regex(hono[1]!, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nignored$/);
    // Without Host, h3 (srvx) builds the URL from socket.localAddress and localPort.
    const h3 = await threeWays(t, 'h3', (port) => rawExchange(port, 'GET /json HTTP/1.0\r\n\r\n'));
    t.regex(h3, /\r\n\r\n\{"hello":"h3","x":null\}$/);
  },
);

test.serial(
  'a CONNECT proxy on the server: undici ProxyAgent and curl -p tunnel through it, three ways',
  async (t) => {
    const target = http.createServer((req, res) => res.end(`target saw ${req.method} ${req.url}`));
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    const withCurl = missingPrograms(['curl']).length === 0;
    try {
      const r = await threeWays(t, 'connect-proxy', async (port) => {
        const proxy = `http://127.0.0.1:${port}`;
        const dispatcher = new ProxyAgent({ uri: proxy });
        try {
          const answers: unknown[] = [];
          for (const path of ['/a', '/b']) {
            const res = await fetch(`${targetUrl}${path}`, { dispatcher });
            answers.push([res.status, await res.text()]);
          }
          if (withCurl) {
            const curl = spawn('curl', ['-sS', '-p', '-x', proxy, `${targetUrl}/curl`]);
            let out = '';
            curl.stdout.on('data', (d: Buffer) => (out += String(d)));
            const [code] = (await within(once(curl, 'close'), 'curl')) as [number];
            answers.push([code, out]);
          } else if (process.env['ASYNCUV_REQUIRE_TOOLS'] === '1') t.fail('needs curl');
          return answers;
        } finally {
          await dispatcher.close();
        }
      });
      t.deepEqual(r.slice(0, 2), [
        [200, 'target saw GET /a'],
        [200, 'target saw GET /b'],
      ]);
      if (withCurl) t.deepEqual(r[2], [0, 'target saw GET /curl']);
    } finally {
      target.closeAllConnections();
      target.close();
      await once(target, 'close');
    }
  },
);

test.serial(
  'hono, h3, polka and restify: pipelined requests, then the client half-closes; Expect: 100-continue, three ways',
  async (t) => {
    const pipelined =
      'GET /json?x=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /json?x=2 HTTP/1.1\r\nHost: x\r\n\r\n' +
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}';
    const expect =
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n' +
      'Content-Length: 7\r\nConnection: close\r\n\r\n{"a":1}';
    for (const name of ['hono', 'h3', 'polka', 'restify']) {
      const [answers, continued] = await threeWays(t, name, async (port) => [
        // node:http answers all three after the client's EOF, then ends (allowHalfOpen).
        await rawExchange(port, pipelined, true),
        await rawExchange(port, expect),
      ]);
      t.deepEqual(
        answers!.match(/\r\n\r\n\{[^]*?\}(?=HTTP|$)/g),
        [
          '\r\n\r\n{"hello":"' + name + '","x":"1"}',
          '\r\n\r\n{"hello":"' + name + '","x":"2"}',
          '\r\n\r\n{"a":1}',
        ],
        name,
      );
      t.regex(
        continued!,
        /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 [^]*\r\n\r\n\{"a":1\}$/,
        name,
      );
    }
  },
);
