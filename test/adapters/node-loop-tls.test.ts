import test from 'ava';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { NodeEventLoop, type Protocol, type Transport } from 'asyncuv';
import { CollectProtocol, EchoProtocol } from './protocols.js';
import { assertNoLeaks, resourceCounts } from './resources.js';
import { selfSignedCert } from './tls-cert.js';
import { withPrograms } from '../helpers/tools.js';

// These tests make a certificate with openssl (test/adapters/tls-cert.ts).
const tlsTest = withPrograms(test.serial, ['openssl']);

const serial = test.serial;

tlsTest(
  'TLS round trip: ssl on createServer and createConnection, peercert and sslcontext',
  async (t) => {
    const base = resourceCounts();
    const { key, cert } = await selfSignedCert();
    const loop = new NodeEventLoop();
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
      {
        ssl: { ca: cert },
        serverHostname: 'localhost',
      },
    );
    const peercert = transport.getExtraInfo('peercert')!;
    t.is(peercert.subject.CN, 'localhost');
    t.truthy(transport.getExtraInfo('sslcontext'));
    // As in asyncio, 'socket' is the TCP socket under the TLS layer.
    t.false(transport.getExtraInfo('socket') instanceof tls.TLSSocket);
    t.true(transport.getExtraInfo('ssl_object') instanceof tls.TLSSocket);
    t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', port]);
    const payload = randomBytes(300_000);
    transport.write(payload);
    await client.until(payload.length);
    t.true(client.data().equals(payload));
    transport.close();
    t.is(await client.lost, null);
    t.is(await served[0]!.lost, null);
    // 300 kB is above the 64 KiB high-water mark: pause and resume came too.
    // close() waited for the server's close_notify, which reached the
    // protocol as eofReceived before connectionLost (asyncio's SSL shutdown).
    t.deepEqual(client.calls, ['made', 'pause', 'resume', 'eof', 'lost']);
    server.close();
    await server.waitClosed();
    loop.close();
    await assertNoLeaks(t, base);
  },
);

tlsTest(
  'an untrusted certificate fails the handshake; the connection attempt rejects',
  async (t) => {
    const base = resourceCounts();
    const { key, cert } = await selfSignedCert();
    const loop = new NodeEventLoop();
    let made = 0;
    const server = await loop.createServer(
      () => {
        made++;
        return new EchoProtocol();
      },
      '127.0.0.1',
      0,
      { ssl: { key, cert } },
    );
    const port = (server.sockets()[0] as { port: number }).port;
    const err = await t.throwsAsync(
      loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port, { ssl: true }),
    );
    t.regex((err as { code?: string }).code ?? '', /SELF_SIGNED|UNABLE_TO_VERIFY/);
    // The wrong name fails too, even with the right CA.
    const err2 = await t.throwsAsync(
      loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port, {
        ssl: { ca: cert },
        serverHostname: 'example.com',
      }),
    );
    t.is((err2 as { code?: string }).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    server.close();
    await server.waitClosed();
    t.is(made, 0, 'no protocol for a failed handshake');
    loop.close();
    await assertNoLeaks(t, base);
  },
);

serial(
  'a server that never answers the handshake times out after sslHandshakeTimeout; an abort signal cancels it',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const silent: net.Socket[] = [];
    const srv = net.createServer((s) => void silent.push(s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    const started = Date.now();
    const err = await t.throwsAsync(
      loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port, {
        ssl: true,
        sslHandshakeTimeout: 0.2,
      }),
    );
    t.is((err as { code?: string }).code, 'ERR_SSL_HANDSHAKE_TIMEOUT');
    t.true(Date.now() - started >= 190);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await t.throwsAsync(
      loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port, {
        ssl: true,
        signal: controller.signal,
      }),
      { code: 'ABORT_ERR' },
    );
    for (const s of silent) s.destroy();
    srv.close();
    loop.close();
    await assertNoLeaks(t, base);
  },
);

tlsTest('startTls upgrades a plain connection on both sides (STARTTLS)', async (t) => {
  const base = resourceCounts();
  const { key, cert } = await selfSignedCert();
  const loop = new NodeEventLoop();
  // The server answers "go" in clear, then upgrades and echoes in TLS.
  const serverLost: Promise<Error | null>[] = [];
  const server = await loop.createServer(
    () => {
      let transport: Transport;
      let resolveLost!: (e: Error | null) => void;
      serverLost.push(new Promise((r) => (resolveLost = r)));
      const protocol: Protocol = {
        connectionMade: (tr) => void (transport = tr),
        dataReceived: (d) => {
          if (d.toString() !== 'STARTTLS') return;
          transport.write('go');
          const secured: Protocol = {
            dataReceived: (x) => upgraded.then((u) => u.write(x)),
            connectionLost: (e) => resolveLost(e),
          };
          const upgraded = loop.startTls(transport, secured, { key, cert }, { serverSide: true });
          transport.setProtocol(secured);
        },
      };
      return protocol;
    },
    '127.0.0.1',
    0,
  );
  const port = (server.sockets()[0] as { port: number }).port;
  const [plain, clear] = await loop.createConnection(
    () => new CollectProtocol(),
    '127.0.0.1',
    port,
  );
  plain.write('STARTTLS');
  await clear.until(2);
  t.is(clear.data().toString(), 'go');
  const secure = new CollectProtocol();
  const upgraded = await loop.startTls(
    plain,
    secure,
    { ca: cert },
    { serverHostname: 'localhost' },
  );
  t.true(plain.isClosing(), 'the plain transport is retired');
  t.is(upgraded.getExtraInfo('peercert')!.subject.CN, 'localhost');
  t.deepEqual(secure.calls, [], 'connectionMade is not called again');
  upgraded.write('secret');
  await secure.until(6);
  t.is(secure.data().toString(), 'secret');
  upgraded.close();
  t.is(await secure.lost, null);
  t.is(await serverLost[0], null);
  t.deepEqual(clear.calls, ['made'], 'the retired transport never reports connectionLost');
  server.close();
  loop.close();
  await assertNoLeaks(t, base);
});
