// More HTTP clients nobody here wrote, against serveHttp and node:http (the
// reference), side by side: node-fetch, superagent, needle and Node's
// global fetch, each with its own connections and with a LoopAgent's (the
// client's sockets on a UvEventLoop too); node:http's keep-alive Agent with
// maxSockets, whose sockets must be reused as on node:http; and the command
// line: curl (HTTP/1.0, keep-alive reuse, a slow reader, a chunked upload
// from stdin, HEAD) and openssl s_client against serveHttp with ssl.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import needle from 'needle';
import nodeFetch from 'node-fetch';
import superagent from 'superagent';
import { Loop, LoopAgent, UvEventLoop, serveHttp } from 'asyncuv';
import { assertNothingLive, closeEventLoop } from '../helpers/event-loop-test.js';
import { withPrograms } from '../helpers/tools.js';
import {
  chunks,
  hashBody,
  onLoop,
  onNode,
  sha256,
  sideBySide,
  upload,
  writeChunks,
} from './framework-harness.js';
import { selfSignedCert } from './tls-cert.js';

const big = Buffer.alloc(4 * 1024 * 1024, 'slow reader ');

/**
 * The routes: /json, /echo, /stream, /upload (its sha256), /hash (length
 * and sha256), /redirect, /big (4 MiB), /conn (which of the server's
 * connections carried the request, numbered from 1 in order of first use),
 * a 404.
 */
function makeApp(): http.RequestListener {
  const ids = new WeakMap<object, number>();
  let next = 1;
  return (req, res) => {
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
    } else if (url.pathname === '/upload') void hashBody(req).then((d) => res.end(d));
    else if (url.pathname === '/hash') {
      let length = 0;
      req.on('data', (d: Buffer) => (length += d.length));
      void hashBody(req).then((d) => res.end(`${length} ${d}`));
    } else if (url.pathname === '/redirect') {
      res.writeHead(302, { location: '/json?x=redirected' });
      res.end();
    } else if (url.pathname === '/big') {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(big);
    } else if (url.pathname === '/conn') {
      if (!ids.has(req.socket)) ids.set(req.socket, next++);
      json({ conn: ids.get(req.socket) });
    } else {
      res.statusCode = 404;
      res.end('no such page');
    }
  };
}

const factory = (): Promise<{ listener: http.RequestListener }> =>
  Promise.resolve({ listener: makeApp() });

async function hashStream(stream: Readable | NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream as AsyncIterable<Buffer>) parts.push(Buffer.from(part));
  return sha256(Buffer.concat(parts));
}

/** What every client script must get: the same from both servers, and this. */
const expected = (port: number): unknown => ({
  json: [200, 'application/json', { x: '1' }],
  echo: [200, { a: [1, 2, 3], b: 'ü' }],
  stream: [200, sha256(chunks.join(''))],
  upload: [200, sha256(upload)],
  redirect: [200, `http://127.0.0.1:${port}/json?x=redirected`, { x: 'redirected' }],
  missing: [404, 'no such page'],
});

type Script = (port: number, agent?: http.Agent) => Promise<unknown>;

const scripts: Record<string, Script> = {
  'node-fetch': async (port, agent) => {
    const base = `http://127.0.0.1:${port}`;
    const options = agent === undefined ? {} : { agent };
    const json = await nodeFetch(`${base}/json?x=1`, options);
    const echo = await nodeFetch(`${base}/echo`, {
      ...options,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: [1, 2, 3], b: 'ü' }),
    });
    const stream = await nodeFetch(`${base}/stream`, options);
    const uploaded = await nodeFetch(`${base}/upload`, {
      ...options,
      method: 'POST',
      body: upload,
    });
    const redirected = await nodeFetch(`${base}/redirect`, options);
    const missing = await nodeFetch(`${base}/missing`, options);
    return {
      json: [json.status, json.headers.get('content-type'), await json.json()],
      echo: [echo.status, await echo.json()],
      stream: [stream.status, await hashStream(stream.body!)],
      upload: [uploaded.status, await uploaded.text()],
      redirect: [redirected.status, redirected.url, await redirected.json()],
      missing: [missing.status, await missing.text()],
    };
  },
  superagent: async (port, agent) => {
    const base = `http://127.0.0.1:${port}`;
    const get = (path: string): superagent.SuperAgentRequest => {
      const r = superagent.get(`${base}${path}`);
      return agent === undefined ? r : r.agent(agent);
    };
    const post = (path: string): superagent.SuperAgentRequest => {
      const r = superagent.post(`${base}${path}`);
      return agent === undefined ? r : r.agent(agent);
    };
    const json = await get('/json?x=1');
    const echo = await post('/echo').send({ a: [1, 2, 3], b: 'ü' });
    const stream = await get('/stream');
    const uploaded = await post('/upload').type('application/octet-stream').send(upload);
    const redirected = await get('/redirect');
    const missing = await get('/missing').ok(() => true);
    return {
      json: [json.status, json.type, json.body as unknown],
      echo: [echo.status, echo.body as unknown],
      stream: [stream.status, sha256(stream.text)],
      upload: [uploaded.status, uploaded.text],
      redirect: [redirected.status, redirected.redirects[0], redirected.body as unknown],
      missing: [missing.status, missing.text],
    };
  },
  needle: async (port, agent) => {
    const base = `http://127.0.0.1:${port}`;
    const options = agent === undefined ? {} : { agent };
    const json = await needle('get', `${base}/json?x=1`, options);
    const echo = await needle(
      'post',
      `${base}/echo`,
      { a: [1, 2, 3], b: 'ü' },
      { ...options, json: true },
    );
    const stream = await needle('get', `${base}/stream`, options);
    const uploaded = await needle('post', `${base}/upload`, upload, options);
    const redirected = await needle('get', `${base}/redirect`, { ...options, follow_max: 1 });
    const missing = await needle('get', `${base}/missing`, options);
    return {
      json: [json.statusCode, json.headers['content-type'], json.body as unknown],
      echo: [echo.statusCode, echo.body as unknown],
      stream: [stream.statusCode, sha256(stream.body as Buffer | string)],
      upload: [uploaded.statusCode, String(uploaded.body)],
      redirect: [
        redirected.statusCode,
        `${base}${String(redirected.headers['location'] ?? '/json?x=redirected')}`,
        redirected.body as unknown,
      ],
      missing: [missing.statusCode, String(missing.body)],
    };
  },
  'global fetch': async (port) => {
    const base = `http://127.0.0.1:${port}`;
    const json = await fetch(`${base}/json?x=1`);
    const echo = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: [1, 2, 3], b: 'ü' }),
    });
    const stream = await fetch(`${base}/stream`);
    const uploaded = await fetch(`${base}/upload`, { method: 'POST', body: upload });
    const redirected = await fetch(`${base}/redirect`);
    const missing = await fetch(`${base}/missing`);
    return {
      json: [json.status, json.headers.get('content-type'), await json.json()],
      echo: [echo.status, await echo.json()],
      stream: [stream.status, sha256(Buffer.from(await stream.arrayBuffer()))],
      upload: [uploaded.status, await uploaded.text()],
      redirect: [redirected.status, redirected.url, await redirected.json()],
      missing: [missing.status, await missing.text()],
    };
  },
};

for (const [name, script] of Object.entries(scripts)) {
  test(`${name} gets node:http's answers from serveHttp`, async (t) => {
    const results: unknown[] = [];
    for (const where of ['loop', 'node'] as const) {
      const served = where === 'loop' ? await onLoop(t, makeApp()) : await onNode(makeApp());
      try {
        results.push([await script(served.port), expected(served.port)]);
      } finally {
        await served.close();
      }
    }
    for (const [got, want] of results as [unknown, unknown][]) t.deepEqual(got, want);
  });

  if (name === 'global fetch') continue; // undici's own connections: no http.Agent
  test(`${name} with its connections on a UvEventLoop (LoopAgent) against serveHttp`, async (t) => {
    const uv = new Loop();
    const loop = new UvEventLoop(uv);
    const served = await onLoop(t, makeApp());
    try {
      const agent = new LoopAgent(loop, { keepAlive: true, maxSockets: 2 });
      try {
        t.deepEqual(await script(served.port, agent), expected(served.port));
      } finally {
        agent.destroy();
      }
    } finally {
      await served.close();
      await assertNothingLive(t, loop);
      await closeEventLoop(t, loop, uv);
    }
  });
}

/** GET /conn on `agent`: which server connection answered, and whether the agent reused a socket. */
function conn(port: number, agent: http.Agent): Promise<[number, boolean]> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/conn', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve([(JSON.parse(body) as { conn: number }).conn, req.reusedSocket]));
    });
    req.on('error', reject);
  });
}

test("http.Agent keep-alive with maxSockets 2: two connections, reused as on node:http's server", async (t) => {
  const r = await sideBySide(t, factory, async (port) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    try {
      const first = await Promise.all(Array.from({ length: 10 }, () => conn(port, agent)));
      const second = await Promise.all(Array.from({ length: 10 }, () => conn(port, agent)));
      const free = Object.values(agent.freeSockets).flat().length;
      return {
        conns: [...new Set([...first, ...second].map(([id]) => id))].sort(),
        reused: [first.filter(([, r]) => r).length, second.filter(([, r]) => r).length],
        free,
      };
    } finally {
      agent.destroy();
    }
  });
  // reusedSocket marks a socket taken from the free list: none in the first
  // round; in the second, the two free ones (the other 8 requests queue and
  // are handed a socket as it frees, unmarked).
  t.deepEqual(r, { conns: [1, 2], reused: [0, 2], free: 2 });
});

// The command line.

interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `program` with `input` on its stdin (then ended), collecting its output. */
function run(program: string, args: string[], input?: Buffer | string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

const withCurl = withPrograms(test, ['curl']);

withCurl(
  'curl: HTTP/1.0, keep-alive reuse, a slow reader, a chunked upload and HEAD, as on node:http',
  async (t) => {
    const text = 'a line of a chunked upload\n'.repeat(20_000);
    const r = await sideBySide(t, factory, async (port) => {
      const base = `http://127.0.0.1:${port}`;
      const curl = async (...args: string[]): Promise<string> => {
        const ran = await run('curl', ['-sS', ...args]);
        t.is(ran.code, 0, ran.stderr);
        return String(ran.stdout);
      };
      const w = ['-w', ' %{http_code} %{http_version} %{num_connects}\n'];
      // --limit-rate: curl reads the 4 MiB at 2 MB/s, so the server's writes wait on the socket.
      const slow = await run('curl', ['-sS', '--limit-rate', '2M', `${base}/big`]);
      const head = await curl('-I', `${base}/json?x=1`);
      return {
        http10: await curl('--http1.0', ...w, `${base}/json?x=1`),
        reuse: await curl(
          '--http1.1',
          ...w,
          `${base}/json?x=1`,
          `${base}/json?x=2`,
          `${base}/conn`,
        ),
        slow: [slow.code, slow.stdout.length, sha256(slow.stdout)],
        chunkedStdin: String((await run('curl', ['-sS', '-T', '-', `${base}/hash`], text)).stdout),
        head: head.replace(/^Date: .*\r\n/im, ''),
      };
    });
    // node:http answers an HTTP/1.0 request as HTTP/1.1 (and closes after it).
    t.is(r.http10, '{"x":"1"} 200 1.1 1\n');
    t.is(r.reuse, '{"x":"1"} 200 1.1 1\n{"x":"2"} 200 1.1 0\n{"conn":1} 200 1.1 0\n');
    t.deepEqual(r.slow, [0, big.length, sha256(big)]);
    t.is(r.chunkedStdin, `${text.length} ${sha256(text)}`);
    t.regex(r.head, /^HTTP\/1\.1 200 OK\r\n/);
  },
);

/** A scripted exchange through openssl s_client (-ign_eof: read to the server's close). */
async function sClient(port: number): Promise<string> {
  const requests =
    'GET /json?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n' +
    'GET /conn HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
  const s = await run(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', '-ign_eof'],
    requests,
  );
  return String(s.stdout).replace(/^Date: .*\r\n/gim, '');
}

withPrograms(test, ['openssl'])(
  'openssl s_client: two pipelined requests over TLS to serveHttp (listen.ssl), as to node:https',
  async (t: ExecutionContext) => {
    const { key, cert } = await selfSignedCert();
    const uv = new Loop();
    const loop = new UvEventLoop(uv);
    let ours: string;
    const h = await serveHttp(loop, makeApp(), '127.0.0.1', 0, { listen: { ssl: { key, cert } } });
    try {
      ours = await sClient(h.port);
    } finally {
      await h.close();
      await assertNothingLive(t, loop);
      await closeEventLoop(t, loop, uv);
    }
    const server = https.createServer({ key, cert }, makeApp()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    let reference: string;
    try {
      reference = await sClient((server.address() as AddressInfo).port);
    } finally {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    }
    t.is(ours, reference);
    t.regex(
      ours,
      /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n\{"x":"1"\}HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n[^]*\r\n\r\n\{"conn":1\}$/,
    );
  },
);
