// serveHttp over TLS (listen.ssl) at the edges command-line clients reach:
// node:http's answers that go out just before it destroys the socket (400
// and 431 from its clientError path, and an app's `res.end(); destroy()`),
// which a node:https server on net.Socket always delivers. Each case runs on
// both servers; the transcripts must be equal.
import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { Loop, UvEventLoop, serveHttp } from 'asyncuv';
import { assertNothingLive, closeEventLoop } from '../helpers/event-loop-test.js';
import { selfSignedCert } from './tls-cert.js';

const listener: http.RequestListener = (req, res) => {
  // An app that answers and then drops the connection at once.
  if (req.url === '/destroy') {
    res.end('bye');
    req.socket.destroy();
  } else res.end('ok');
};

/** What `request` gets back on a TLS connection made to `port`: all of it, until the close. */
async function transcript(port: number, request: string): Promise<string> {
  const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  // Written at once after the handshake, as curl and openssl s_client do:
  // the server may still be sending its session tickets.
  socket.write(request);
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => {});
  await once(socket, 'close');
  // The Date header differs between the two runs.
  return Buffer.concat(chunks)
    .toString('latin1')
    .replace(/^Date: .*\r\n/m, '');
}

const requests = {
  garbage: 'HELLO THERE\r\n\r\n',
  oversized: `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`,
  destroy: 'GET /destroy HTTP/1.1\r\nHost: x\r\n\r\n',
};
const rounds = 8;

async function run(port: number): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [name, request] of Object.entries(requests)) {
    out[name] = [];
    for (let i = 0; i < rounds; i++) out[name].push(await transcript(port, request));
  }
  return out;
}

async function onLoopTls(t: ExecutionContext): Promise<Record<string, string[]>> {
  const { key, cert } = await selfSignedCert();
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  try {
    const h = await serveHttp(loop, listener, '127.0.0.1', 0, { listen: { ssl: { key, cert } } });
    try {
      return await run(h.port);
    } finally {
      await h.close();
      await assertNothingLive(t, loop);
    }
  } finally {
    await closeEventLoop(t, loop, uv);
  }
}

async function onNodeTls(): Promise<Record<string, string[]>> {
  const { key, cert } = await selfSignedCert();
  const server = https.createServer({ key, cert }, listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await run((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  }
}

test('serveHttp over TLS delivers what node:http writes right before it destroys the socket', async (t) => {
  const ours = await onLoopTls(t);
  const reference = await onNodeTls();
  t.deepEqual(ours, reference, 'the same answers as node:https');
  t.true(
    ours['garbage']!.every((a) => a === 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'),
  );
  t.true(ours['oversized']!.every((a) => a.startsWith('HTTP/1.1 431 ')));
  t.true(
    ours['destroy']!.every((a) => a.startsWith('HTTP/1.1 200 OK') && a.endsWith('\r\n\r\nbye')),
  );
});
