// What the framework tests share: an app served by serveHttp on a private
// UvEventLoop and by a plain node:http server (the reference), the client
// script both must answer the same (undici's fetch and a pipelining Pool,
// axios), and the bodies it sends and expects.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { Agent, Pool, fetch, request } from 'undici';
import { Loop, UvEventLoop, serveHttp } from 'asyncuv';
import { chunks, sha256 } from '../fixtures/framework-routes.js';
import { assertNothingLive, closeEventLoop } from '../helpers/event-loop-test.js';

export interface Served {
  port: number;
  http: http.Server;
  close(): Promise<void>;
}

/** What an app gives serveHttp or node:http: a request listener, or a server it attached to. */
export type App = http.RequestListener | http.Server;

/** `app` served by serveHttp on a private Loop; close() checks that no handle is left. */
export async function onLoop(t: ExecutionContext, app: App): Promise<Served> {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  const h = await serveHttp(loop, app, '127.0.0.1', 0);
  return {
    port: h.port,
    http: h.http,
    async close() {
      await h.close();
      // serveHttp's close() ends every connection: nothing may be left.
      await assertNothingLive(t, loop);
      await closeEventLoop(t, loop, uv);
    },
  };
}

/** The reference: the same listener, or the server itself, on node:http. */
export async function onNode(app: App): Promise<Served> {
  const server = app instanceof http.Server ? app : http.createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    http: server,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Runs `client` against the app on both servers; the transcripts must be equal. */
export async function sideBySide<T>(
  t: ExecutionContext,
  listener: AppFactory,
  client: (port: number) => Promise<T>,
): Promise<T> {
  const results: T[] = [];
  for (const where of ['loop', 'node'] as const) {
    const app = await listener();
    const served = where === 'loop' ? await onLoop(t, app.listener) : await onNode(app.listener);
    try {
      results.push(await client(served.port));
    } finally {
      await served.close();
      await app.close?.();
    }
  }
  t.deepEqual(results[0], results[1], 'serveHttp answers as node:http does');
  return results[0]!;
}

/** An app of the framework `name`: its /json answers `{ hello: name in lowercase, x }`. */
export type AppFactory = () => Promise<{ listener: App; close?: () => Promise<void> }>;

/** The framework's two tests: httpClient's requests, and pooled()'s, side by side. */
export function frameworkTests(name: string, app: AppFactory): void {
  test(`${name} on serveHttp answers undici and axios as on node:http`, async (t) => {
    const result = (await sideBySide(t, app, httpClient)) as Record<string, unknown[]>;
    const hello = name.toLowerCase();
    t.is(result['json']![0], 200);
    t.deepEqual(result['json']![2], { hello, x: '1' });
    t.deepEqual(result['echo'], [200, { a: [1, 2, 3], b: 'ü' }]);
    t.is(result['stream']![0], 200);
    t.is(result['stream']![2], result['streamExpected']);
    t.is(result['upload']![1], result['upload']![2], 'the 3 MiB upload arrived intact');
    t.is(result['missing']![0], 404);
    t.deepEqual(result['axios'], [200, { hello, x: '2' }, 200, { n: 42 }]);
  });

  test(`${name} on serveHttp: 120 requests over a pipelining undici Pool`, async (t) => {
    const answers = (await sideBySide(t, app, pooled)) as [number, { x: string }][];
    t.is(answers.length, 120);
    answers.forEach(([status, body], i) => {
      t.is(status, 200);
      t.is(body.x, String(i));
    });
  });
}

export { chunks, hashBody, sha256, writeChunks } from '../fixtures/framework-routes.js';
export const upload = randomBytes(3 * 1024 * 1024 + 17);

/** The routes every app implements, and what each client checks of them. */
export async function httpClient(port: number): Promise<unknown> {
  const base = `http://127.0.0.1:${port}`;
  const dispatcher = new Agent({ keepAliveTimeout: 1000 });
  try {
    const json = await fetch(`${base}/json?x=1`, { dispatcher });
    const echo = await fetch(`${base}/echo`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: [1, 2, 3], b: 'ü' }),
    });
    const stream = await fetch(`${base}/stream`, { dispatcher });
    const streamText = await stream.text();
    const hashed = await fetch(`${base}/upload`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: upload,
    });
    const missing = await fetch(`${base}/missing`, { dispatcher });
    const viaAxios = await axios.get<unknown>(`${base}/json?x=2`);
    const axiosPost = await axios.post<unknown>(`${base}/echo`, { n: 42 });
    return {
      json: [json.status, json.headers.get('content-type'), await json.json()],
      echo: [echo.status, await echo.json()],
      stream: [stream.status, stream.headers.get('transfer-encoding'), sha256(streamText)],
      streamExpected: sha256(chunks.join('')),
      upload: [hashed.status, await hashed.text(), sha256(upload)],
      missing: [missing.status, (await missing.text()).length > 0],
      axios: [viaAxios.status, viaAxios.data, axiosPost.status, axiosPost.data],
    };
  } finally {
    await dispatcher.close();
  }
}

/** 120 requests over a keep-alive undici Pool: 4 connections, 4 requests pipelined on each. */
export async function pooled(port: number): Promise<unknown> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4, pipelining: 4 });
  try {
    const answers = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        const { statusCode, body } = await request(`http://127.0.0.1:${port}/json?x=${i}`, {
          dispatcher: pool,
        });
        return [statusCode, await body.json()];
      }),
    );
    return answers;
  } finally {
    await pool.close();
  }
}
