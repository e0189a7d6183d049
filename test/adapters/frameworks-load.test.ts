// Real npm frameworks under load: wrk (2 threads, 100 connections) against
// Express, Fastify, Koa and hapi served by serveHttp on a UvEventLoop and by
// a plain node:http server (the reference), keep-alive, pipelined 16 deep,
// and with `Connection: close` (a new connection per request). Every run
// must end with no socket error, no non-2xx answer and every body right;
// serveHttp's close() must leave nothing on the loop. The rates of both
// servers are logged side by side (a shared machine makes them too noisy
// to assert on; bench/http.bench.ts measures them).
import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import Hapi from '@hapi/hapi';
import { Loop, UvEventLoop, serveHttp } from 'asyncuv';
import { runFixture } from '../helpers/child.js';
import { assertNothingLive, closeEventLoop } from '../helpers/event-loop-test.js';
import { withPrograms } from '../helpers/tools.js';
import { type App, onLoop, onNode } from './framework-harness.js';
import { selfSignedCert } from './tls-cert.js';
import { runWrk, type WrkRun } from './wrk-run.js';

type Factory = () => Promise<{ listener: App; close?: () => Promise<void> }>;

const apps: Record<string, Factory> = {
  Express: () => {
    const app = express();
    app.get('/json', (_req, res) => void res.json({ hello: 'express' }));
    return Promise.resolve({ listener: app });
  },
  Fastify: async () => {
    let handler: http.RequestListener | undefined;
    const app = Fastify({
      serverFactory: (h) => {
        handler = h as http.RequestListener;
        return http.createServer();
      },
    });
    app.get('/json', () => ({ hello: 'fastify' }));
    await app.ready();
    return { listener: handler!, close: () => app.close() };
  },
  Koa: () => {
    const app = new Koa();
    // wrk drops its pipelined requests in flight when its time is up: the
    // EPIPE of the answers is expected, not worth Koa's stderr report.
    app.silent = true;
    app.use((ctx) => {
      ctx.body = { hello: 'koa' };
    });
    return Promise.resolve({ listener: app.callback() });
  },
  hapi: async () => {
    const listener = http.createServer();
    const server = Hapi.server({ listener, autoListen: false });
    server.route({ method: 'GET', path: '/json', handler: () => ({ hello: 'hapi' }) });
    await server.start();
    return { listener, close: () => server.stop() };
  },
};

const modes: Record<string, Partial<WrkRun>> = {
  'keep-alive': {},
  'pipelined 16 deep': { pipeline: 16 },
  'Connection: close': { close: true },
};

/** One wrk run against `factory`'s app on serveHttp or node:http; the rate. */
async function loadOnce(
  t: ExecutionContext,
  where: 'loop' | 'node',
  name: string,
  factory: Factory,
  mode: Partial<WrkRun>,
): Promise<number> {
  const app = await factory();
  const served = where === 'loop' ? await onLoop(t, app.listener) : await onNode(app.listener);
  try {
    const r = await runWrk({
      url: `http://127.0.0.1:${served.port}/json`,
      expect: `"hello":"${name.toLowerCase()}"`,
      ...mode,
    });
    const what = `${name} on ${where === 'loop' ? 'serveHttp' : 'node:http'}:\n${r.output}`;
    t.true(r.requests > 0, what);
    t.deepEqual(r.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 }, what);
    t.is(r.non2xx, 0, what);
    t.is(r.wrongBodies, 0, what);
    return r.rate;
  } finally {
    // onLoop's close() asserts that nothing is left on the loop.
    await served.close();
    await app.close?.();
  }
}

const withWrk = withPrograms(test.serial, ['wrk']);
for (const [name, factory] of Object.entries(apps)) {
  withWrk(
    `${name} under wrk on serveHttp and on node:http: no errors, every body right`,
    async (t) => {
      for (const [mode, options] of Object.entries(modes)) {
        const ours = await loadOnce(t, 'loop', name, factory, options);
        const reference = await loadOnce(t, 'node', name, factory, options);
        t.log(
          `${mode}: serveHttp ${ours.toFixed(0)} req/s, node:http ${reference.toFixed(0)} req/s,` +
            ` ratio ${(ours / reference).toFixed(2)}`,
        );
      }
    },
  );
}

for (const how of ['serveHttp', 'threads'] as const) {
  withWrk(
    `Express on ${how === 'threads' ? 'startThreadedServer' : 'serveHttp'}, loaded by wrk and closed: the process exits by itself`,
    async (t) => {
      const result = await runFixture('serve-load-exits.js', [how], { timeoutMs: 30_000 });
      t.false(result.timedOut, 'the process exited by itself');
      t.is(result.code, 0, result.stderr);
      const clean = 'some requests, socket errors none, non-2xx 0';
      t.is(result.stdout, `${clean}\n${clean}\n`);
    },
  );
}

/** wrk over https against `port`; asserts a clean run and returns the rate. */
async function httpsLoad(t: ExecutionContext, port: number, close: boolean): Promise<number> {
  const r = await runWrk({
    url: `https://127.0.0.1:${port}/json`,
    expect: '"hello":"express"',
    close,
    // 20 connections, not wrk's 100: every connection's first answer waits
    // for its handshake, and on a loaded machine 100 handshakes at once
    // could take the whole second (0 requests counted, seen at load 14).
    connections: 20,
  });
  t.true(r.requests > 0, r.output);
  t.deepEqual(r.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 }, r.output);
  t.is(r.non2xx, 0, r.output);
  t.is(r.wrongBodies, 0, r.output);
  return r.rate;
}

withWrk('Express over TLS under wrk on serveHttp (listen.ssl) and on node:https', async (t) => {
  const { key, cert } = await selfSignedCert();
  const rates: Record<string, number[]> = { keepAlive: [], close: [] };
  const app = (await apps['Express']!()).listener as http.RequestListener;
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  try {
    const web = await serveHttp(loop, app, '127.0.0.1', 0, { listen: { ssl: { key, cert } } });
    try {
      rates['keepAlive']!.push(await httpsLoad(t, web.port, false));
      rates['close']!.push(await httpsLoad(t, web.port, true));
    } finally {
      await web.close();
    }
    await assertNothingLive(t, loop);
  } finally {
    await closeEventLoop(t, loop, uv);
  }
  const reference = https.createServer({ key, cert }, app);
  reference.listen(0, '127.0.0.1');
  await once(reference, 'listening');
  try {
    const port = (reference.address() as AddressInfo).port;
    rates['keepAlive']!.push(await httpsLoad(t, port, false));
    rates['close']!.push(await httpsLoad(t, port, true));
  } finally {
    reference.closeAllConnections();
    reference.close();
    await once(reference, 'close');
  }
  for (const [mode, [ours, theirs]] of Object.entries(rates)) {
    t.log(
      `${mode}: serveHttp ${ours!.toFixed(0)} req/s, node:https ${theirs!.toFixed(0)} req/s,` +
        ` ratio ${(ours! / theirs!).toFixed(2)}`,
    );
  }
});
