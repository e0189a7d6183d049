// node:http2 over our transports, both ways, on both loops: an h2c server
// whose connections are a loop's (http2.createServer() given toDuplex() of
// each accepted transport through its 'connection' event), and an http2
// client whose session runs over toDuplex() of a loop's connection
// (http2.connect's createConnection). Many concurrent streams and bodies
// larger than HTTP/2's flow-control windows, the answers compared with
// node:http2 on net.
import test from 'ava';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { toDuplex, type Transport } from 'asyncuv';
import { assertNothingLive, bothEventLoops } from '../helpers/event-loop-test.js';

const body = Buffer.alloc(1024 * 1024 + 3, 'h2');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Echoes a POST body's hash, answers a GET /big with `body`, anything else with its path. */
function onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const path = headers[':path'];
  if (headers[':method'] === 'POST') {
    const hash = createHash('sha256');
    stream.on('data', (d: Buffer) => hash.update(d));
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end(hash.digest('hex'));
    });
  } else if (path === '/big') {
    stream.respond({ ':status': 200 });
    stream.end(body);
  } else {
    stream.respond({ ':status': 200 });
    stream.end(`path ${path}`);
  }
}

function request(
  session: http2.ClientHttp2Session,
  path: string,
  upload?: Buffer,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ':method': upload ? 'POST' : 'GET' });
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
    req.end(upload);
  });
}

/** 50 concurrent GETs, a 1 MiB download and a 1 MiB upload on one session. */
async function script(session: http2.ClientHttp2Session): Promise<unknown> {
  const paths = Array.from({ length: 50 }, (_, i) => `/p${i}`);
  const small = await Promise.all(paths.map((p) => request(session, p)));
  const [big, uploaded] = await Promise.all([
    request(session, '/big'),
    request(session, '/upload', body),
  ]);
  return [small.map(String), sha256(big), String(uploaded)];
}

const expected = [Array.from({ length: 50 }, (_, i) => `path /p${i}`), sha256(body), sha256(body)];

for (const [name, onEventLoop] of bothEventLoops) {
  test(`an http2 server whose connections are ${name} transports answers as on net`, (t) =>
    onEventLoop(t, async (loop) => {
      const h2 = http2.createServer();
      h2.on('stream', onStream);
      // Half-open: node:http2 ends the socket itself, as with its own server's.
      const server = await loop.createServer(
        () => ({
          connectionMade: (transport: Transport) =>
            h2.emit('connection', toDuplex(transport, { allowHalfOpen: true })),
        }),
        '127.0.0.1',
        0,
      );
      const reference = http2.createServer();
      reference.on('stream', onStream);
      reference.listen(0, '127.0.0.1');
      await once(reference, 'listening');
      try {
        const run = async (port: number): Promise<unknown> => {
          const session = http2.connect(`http://127.0.0.1:${port}`);
          try {
            return await script(session);
          } finally {
            await new Promise<void>((resolve) => session.close(() => resolve()));
          }
        };
        const ours = await run((server.sockets()[0] as { port: number }).port);
        const theirs = await run((reference.address() as AddressInfo).port);
        t.deepEqual(ours, theirs);
        t.deepEqual(ours, expected);
      } finally {
        server.close();
        await server.waitClosed();
        await new Promise((resolve) => reference.close(resolve));
      }
      await assertNothingLive(t, loop);
    }));

  test(`an http2 client session over a ${name} connection gets what it gets over net`, (t) =>
    onEventLoop(t, async (loop) => {
      const h2 = http2.createServer();
      h2.on('stream', onStream);
      h2.listen(0, '127.0.0.1');
      await once(h2, 'listening');
      const { port } = h2.address() as AddressInfo;
      try {
        const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', port);
        const session = http2.connect(`http://127.0.0.1:${port}`, {
          createConnection: () => toDuplex(transport),
        });
        const ours = await script(session);
        await new Promise<void>((resolve) => session.close(() => resolve()));
        const plain = http2.connect(`http://127.0.0.1:${port}`);
        const theirs = await script(plain);
        await new Promise<void>((resolve) => plain.close(() => resolve()));
        t.deepEqual(ours, theirs);
        t.deepEqual(ours, expected);
        t.true(transport.isClosing(), 'the session closed the transport');
      } finally {
        await new Promise((resolve) => h2.close(resolve));
      }
      await assertNothingLive(t, loop);
    }));
}
