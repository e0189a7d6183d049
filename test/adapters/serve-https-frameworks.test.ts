// What frameworks read of a TLS connection, on serveHttp with listen.ssl
// (both loops) and on node:https (the reference): the request's scheme as
// Express (req.secure, req.protocol), Koa (ctx.protocol, ctx.secure) and
// hono (the URL it builds from socket.encrypted) see it, and the
// tls.TLSSocket API an app may call on req.socket (ALPN, protocol, cipher,
// the peer's certificate). A plain TCP connection must show none of it, as
// a net.Socket has none.
import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import express from 'express';
import Koa from 'koa';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import { Agent, fetch } from 'undici';
import { Loop, NodeEventLoop, UvEventLoop, serveHttp, type AbstractEventLoop } from 'asyncuv';
import { assertNothingLive, closeEventLoop } from '../helpers/event-loop-test.js';
import { selfSignedCert } from './tls-cert.js';

function apps(): Record<string, http.RequestListener> {
  const ex = express();
  ex.get('/', (req, res) => void res.json({ secure: req.secure, protocol: req.protocol }));
  const koa = new Koa();
  koa.use((ctx) => {
    ctx.body = { secure: ctx.secure, protocol: ctx.protocol };
  });
  const hono = new Hono();
  hono.get('/', (c) => c.json({ url: new URL(c.req.url).protocol }));
  return {
    express: ex,
    koa: koa.callback(),
    hono: getRequestListener(hono.fetch),
    // What an app reads of the socket itself.
    socket: (req, res) => {
      const s = req.socket as Partial<tls.TLSSocket>;
      res.end(
        JSON.stringify({
          encrypted: s.encrypted ?? null,
          authorized: s.authorized ?? null,
          alpn: s.alpnProtocol ?? null,
          protocol: s.getProtocol?.() ?? null,
          cipher: s.getCipher?.().name ?? null,
          peerCert: s.getPeerCertificate?.() ?? null,
        }),
      );
    },
  };
}

async function answers(scheme: string, port: number): Promise<Record<string, unknown>> {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const out: Record<string, unknown> = {};
    for (const name of Object.keys(apps())) {
      const res = await fetch(`${scheme}://127.0.0.1:${port}/${name}`, { dispatcher });
      out[name] = await res.json();
    }
    return out;
  } finally {
    await dispatcher.close();
  }
}

/** One listener dispatching /<app> to each app (with the path reset to /). */
function router(): http.RequestListener {
  const all = apps();
  return (req, res) => {
    const name = req.url!.slice(1);
    req.url = '/';
    all[name]!(req, res);
  };
}

async function onNode(tls: boolean): Promise<Record<string, unknown>> {
  const { key, cert } = await selfSignedCert();
  const server = tls ? https.createServer({ key, cert }, router()) : http.createServer(router());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await answers(tls ? 'https' : 'http', (server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  }
}

async function onLoop(
  t: ExecutionContext,
  tls: boolean,
  make: () => [AbstractEventLoop, (t: ExecutionContext) => Promise<void>],
): Promise<Record<string, unknown>> {
  const { key, cert } = await selfSignedCert();
  const [loop, closeLoop] = make();
  try {
    // node:https's default ALPN, which serveHttp leaves to the caller (docs/adapters.md).
    const listen = tls ? { ssl: { key, cert, ALPNProtocols: ['http/1.1'] } } : {};
    const h = await serveHttp(loop, router(), '127.0.0.1', 0, { listen });
    try {
      return await answers(tls ? 'https' : 'http', h.port);
    } finally {
      await h.close();
      await assertNothingLive(t, loop);
    }
  } finally {
    await closeLoop(t);
  }
}

/** A loop, and what closes it and checks that nothing of it is left. */
const loops: Record<string, () => [AbstractEventLoop, (t: ExecutionContext) => Promise<void>]> = {
  UvEventLoop: () => {
    const uv = new Loop();
    const loop = new UvEventLoop(uv);
    return [loop, (t) => closeEventLoop(t, loop, uv)];
  },
  NodeEventLoop: () => {
    const loop = new NodeEventLoop();
    return [loop, () => Promise.resolve(loop.close())];
  },
};

for (const [name, make] of Object.entries(loops)) {
  test(`serveHttp over TLS on ${name}: frameworks see https, the socket is a TLSSocket's, as on node:https`, async (t) => {
    const reference = await onNode(true);
    t.deepEqual(await onLoop(t, true, make), reference);
    t.like(reference, {
      express: { secure: true, protocol: 'https' },
      koa: { secure: true, protocol: 'https' },
      hono: { url: 'https:' },
      socket: { encrypted: true, alpn: 'http/1.1', protocol: 'TLSv1.3', peerCert: {} },
    });
  });

  test(`serveHttp over TCP on ${name}: frameworks see http, and the socket has no TLS API`, async (t) => {
    const reference = await onNode(false);
    t.deepEqual(await onLoop(t, false, make), reference);
    t.like(reference, {
      express: { secure: false, protocol: 'http' },
      koa: { secure: false, protocol: 'http' },
      hono: { url: 'http:' },
      socket: { encrypted: null, alpn: null, protocol: null, cipher: null, peerCert: null },
    });
  });
}
