import test from 'ava';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Loop, UvEventLoop, type Protocol, type Transport } from 'asyncuv';
import { CollectProtocol, EchoProtocol } from '../adapters/protocols.js';
import { selfSignedCert } from '../adapters/tls-cert.js';
import { withPrograms } from '../helpers/tools.js';
import { closeEventLoop } from '../helpers/event-loop-test.js';
import { runCommand } from '../helpers/child.js';

// These tests make a certificate with openssl (test/adapters/tls-cert.ts).
const tlsTest = withPrograms(test, ['openssl']);

tlsTest('UvEventLoop: ssl on createServer and createConnection, 300 kB both ways', async (t) => {
  const { key, cert } = await selfSignedCert();
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  const served: EchoProtocol[] = [];
  const server = await loop.createServer(
    () => {
      const p = new EchoProtocol();
      served.push(p);
      return p;
    },
    '127.0.0.1',
    0,
    { ssl: { key, cert } },
  );
  const port = (server.sockets()[0] as { port: number }).port;
  const [transport, client] = await loop.createConnection(
    () => new CollectProtocol(),
    '127.0.0.1',
    port,
    { ssl: { ca: cert }, serverHostname: 'localhost' },
  );
  t.is(transport.getExtraInfo('peercert')!.subject.CN, 'localhost');
  t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', port]);
  const payload = randomBytes(300_000);
  transport.write(payload);
  await client.until(payload.length);
  t.true(client.data().equals(payload));
  transport.close();
  t.is(await client.lost, null);
  t.is(await served[0]!.lost, null);
  server.close();
  await server.waitClosed();
  await closeEventLoop(t, loop, uv);
});

tlsTest(
  'UvEventLoop TLS server answers a node:tls client; an untrusted cert is refused',
  async (t) => {
    const { key, cert } = await selfSignedCert();
    const uv = new Loop();
    const loop = new UvEventLoop(uv);
    const reported: string[] = [];
    loop.setExceptionHandler((_l, context) => reported.push(context.message));
    // A failed server-side handshake is reported in debug mode only, as in asyncio.
    loop.setDebug(true);
    const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0, {
      ssl: { key, cert },
    });
    const port = (server.sockets()[0] as { port: number }).port;
    const reply = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' }, () =>
        s.write('over node:tls'),
      );
      s.on('data', (d) => {
        resolve(d.toString());
        s.end();
      });
      s.on('error', reject);
    });
    t.is(reply, 'over node:tls');
    const err = await t.throwsAsync(
      loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port, { ssl: true }),
    );
    t.regex((err as { code?: string }).code ?? '', /SELF_SIGNED|UNABLE_TO_VERIFY/);
    // The server reports the failed handshake to the exception handler (debug mode).
    const deadline = Date.now() + 10_000;
    while (reported.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    t.deepEqual(reported, ['TLS handshake failed']);
    server.close();
    await server.waitClosed();
    await closeEventLoop(t, loop, uv);
  },
);

tlsTest('UvEventLoop.startTls upgrades a plain connection (STARTTLS)', async (t) => {
  const { key, cert } = await selfSignedCert();
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  // The server says 'go', then both sides upgrade and echo.
  let serverSide: Promise<Transport> | undefined;
  const server = await loop.createServer(
    () => {
      const p: Protocol & { t?: Transport } = {
        connectionMade(tr) {
          p.t = tr;
          tr.write('go');
          // As with asyncio's start_tls, the app keeps the transport it returns.
          let secure: Transport | undefined;
          const echo: Protocol = { dataReceived: (d) => secure!.write(d) };
          serverSide = loop
            .startTls(tr, echo, { key, cert }, { serverSide: true })
            .then((s) => (secure = s));
        },
      };
      return p;
    },
    '127.0.0.1',
    0,
  );
  const port = (server.sockets()[0] as { port: number }).port;
  const go = new CollectProtocol();
  const [plain] = await loop.createConnection(() => go, '127.0.0.1', port);
  await go.until(2);
  t.is(go.data().toString(), 'go');
  const client = new CollectProtocol();
  const secure = await loop.startTls(plain, client, { ca: cert }, { serverHostname: 'localhost' });
  await serverSide;
  t.truthy(secure.getExtraInfo('peercert'));
  secure.write('secret');
  await client.until(6);
  t.is(client.data().toString(), 'secret');
  secure.close();
  await client.lost;
  server.close();
  await server.waitClosed();
  await closeEventLoop(t, loop, uv);
});

// docs/loop.md, TLS: the loop layer does not depend on adapters/, which
// registers the TLS upgrader when it loads; with only asyncuv/loop loaded,
// `ssl` and startTls throw ERR_TLS_UNAVAILABLE (a process of its own: this
// one has loaded asyncuv). Nothing is opened first, so the loop closes clean.
test('with only asyncuv/loop loaded, ssl and startTls fail with ERR_TLS_UNAVAILABLE', async (t) => {
  const probe = `
import { UvEventLoop, openConnection, startServer } from 'asyncuv/loop';
const loop = new UvEventLoop();
const server = await loop.createServer(() => ({}), '127.0.0.1', 0);
const { port } = server.sockets()[0];
const [plain] = await loop.createConnection(() => ({}), '127.0.0.1', port);
const codes = [];
for (const call of [
  () => loop.createConnection(() => ({}), '127.0.0.1', port, { ssl: true }),
  () => loop.createServer(() => ({}), '127.0.0.1', 0, { ssl: {} }),
  () => openConnection('127.0.0.1', port, { loop, ssl: true }),
  () => startServer(() => {}, '127.0.0.1', 0, { loop, ssl: {} }),
  () => loop.startTls(plain, plain.getProtocol(), {}),
]) {
  codes.push(await call().then(() => 'resolved', (err) => err.code));
}
plain.close();
server.close();
await server.waitClosed();
console.log(JSON.stringify({ codes, live: loop.liveResources() }));
loop.close();
`;
  const out = await runCommand(process.execPath, ['--input-type=module', '-e', probe], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  t.is(out.code, 0, out.stderr);
  const { codes, live } = JSON.parse(out.stdout.trim()) as { codes: string[]; live: object };
  t.deepEqual(codes, Array(5).fill('ERR_TLS_UNAVAILABLE'));
  t.deepEqual(live, {});
});
