// A loop's TLS server checked by a loop's TLS client, on both loops
// (test_events.py: test_create_server_ssl_verified,
// test_create_server_ssl_verify_failed, test_create_server_ssl_match_failed,
// test_create_unix_server_ssl_verified and
// test_create_unix_server_ssl_verify_failed; test_unix_events.py's
// test_create_unix_connection_ssl_noserverhost). tls-port.ts checks our client
// against node:tls servers; here both ends are the loop's, so what the
// server's protocol sees is ours too. As asyncio: a client that trusts the
// certificate and names its host connects and reports the peer's
// certificate; one that does not trust it, or names another host, fails
// with the verification error, and the server's protocol is never
// connected (the handshake failed before connectionMade).
import {
  type AbstractEventLoop,
  openUnixConnection,
  Pipe,
  type Server,
  type Transport,
} from 'asyncuv';
import { selfSignedCert } from '../../adapters/tls-cert.js';
import { tempDir } from '../../helpers/sock-test.js';
import { MyProto } from '../protocols.js';
import { type MakeLoop, type Test, until, within } from '../harness.js';
import { clientSsl, handleLoop, HOST, nothingHeld, tlsCases } from './tls-peers.js';

/** The server's protocols, one per connection it made, and the server. */
interface Served {
  server: Server;
  protos: MyProto[];
}

/** `loop`'s TLS server on `where` (a TCP host or a Unix path) with our test certificate. */
async function tlsServer(
  loop: AbstractEventLoop,
  where: { host: string } | { path: string },
  tls: { key: Buffer; cert: Buffer },
): Promise<Served> {
  const protos: MyProto[] = [];
  const factory = (): MyProto => {
    const p = new MyProto(null);
    protos.push(p);
    return p;
  };
  const server =
    'host' in where
      ? await loop.createServer(factory, where.host, 0, { ssl: tls })
      : await loop.createUnixServer(factory, where.path, { ssl: tls });
  return { server, protos };
}

/** Closes the server and waits for it and its connections. */
async function closeServer(served: Served): Promise<void> {
  served.server.close();
  await within(served.server.waitClosed(), 'server.waitClosed()');
}

export function tlsVerify(test: Test, makeLoop: MakeLoop, name: string): void {
  const { it } = tlsCases(test, makeLoop, name);

  it('test_create_server_ssl_verified: the CA and the host name check out; peername, peercert and the TLS extra info', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const served = await tlsServer(loop, { host: HOST }, { key, cert });
    try {
      const port = (served.server.sockets()[0] as { port: number }).port;
      const [client, pr] = await loop.createConnection(
        () => new MyProto(null),
        HOST,
        port,
        clientSsl(cert),
      );
      await until(() => served.protos[0]?.state === 'CONNECTED', "the server's connectionMade");
      // asyncio's check_ssl_extra_info: peername, peercert, and the TLS names.
      t.deepEqual(client.getExtraInfo('peername'), [HOST, port]);
      const peercert = client.getExtraInfo('peercert');
      t.is(peercert?.subject.CN, 'localhost');
      t.not(client.getExtraInfo('sslcontext'), null);
      t.is(client.getExtraInfo('compression'), null);
      t.is(typeof client.getExtraInfo('cipher')?.name, 'string');
      t.regex(client.getExtraInfo('tls_protocol') ?? '', /^TLSv1\.[23]$/);
      // The server asked for no client certificate: it has none to report.
      t.is(served.protos[0]!.transport!.getExtraInfo('peercert'), null);
      // Bytes both ways over the verified connection.
      client.write('ping');
      await until(() => served.protos[0]!.received() === 'ping', 'the server read');
      served.protos[0]!.transport!.write('pong');
      await until(() => pr.received() === 'pong', 'the client read');
      served.protos[0]!.transport!.close();
      client.close();
      await within(served.protos[0]!.done, "the server's connectionLost");
      await within(pr.done, "the client's connectionLost");
      t.deepEqual([...served.protos[0]!.violations, ...pr.violations], []);
    } finally {
      await closeServer(served);
    }
    await nothingHeld(loop);
  });

  it('test_create_server_ssl_verify_failed: a client without the CA fails the handshake; the server never connects its protocol', async ({
    loop,
  }, t) => {
    const { key, cert } = await selfSignedCert();
    const served = await tlsServer(loop, { host: HOST }, { key, cert });
    try {
      const port = (served.server.sockets()[0] as { port: number }).port;
      // The default CAs do not know a self-signed certificate (asyncio:
      // ssl.SSLError 'certificate verify failed').
      let made = 0;
      await t.throwsAsync(
        loop.createConnection(() => ({ connectionMade: () => void made++ }), HOST, port, {
          ssl: true,
          serverHostname: 'localhost',
        }),
        { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
      );
      t.is(made, 0, "the client's protocol was not connected");
    } finally {
      await closeServer(served);
    }
    // asyncio: proto.transport is None: the TLS alert ended the handshake
    // before the server's connection_made.
    t.true(served.protos.every((p) => p.state === 'INITIAL'));
    await nothingHeld(loop);
  });

  it('test_create_server_ssl_match_failed: without serverHostname the host is the name checked; an address the certificate does not name fails', async ({
    loop,
  }, t) => {
    // The certificate names localhost and 127.0.0.1. 127.0.0.2 is loopback
    // too (Linux answers all of 127/8) but not in it, as asyncio's case
    // connects to an address its certificate does not list.
    const other = '127.0.0.2';
    const { key, cert } = await selfSignedCert();
    const served = await tlsServer(loop, { host: other }, { key, cert });
    try {
      const port = (served.server.sockets()[0] as { port: number }).port;
      await t.throwsAsync(
        loop.createConnection(() => ({}), other, port, { ssl: { ca: cert } }),
        {
          code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        },
      );
      // The same host is accepted when the certificate names it: the check
      // is of the name, not of the connection.
      const [ok] = await loop.createConnection(() => ({}), other, port, {
        ssl: { ca: cert },
        serverHostname: 'localhost',
      });
      ok.close();
      await until(
        () => served.protos.some((p) => p.state === 'CLOSED'),
        'the good connection ended',
      );
    } finally {
      await closeServer(served);
    }
    t.is(
      served.protos.filter((p) => p.state !== 'INITIAL').length,
      1,
      'only the good one was connected',
    );
    await nothingHeld(loop);
  });

  it('test_create_unix_server_ssl_verified and _verify_failed: TLS over a Unix socket, checked as over TCP', async ({
    loop,
  }, t) => {
    const dir = tempDir();
    try {
      const { key, cert } = await selfSignedCert();
      const path = dir.path('tls.sock');
      const served = await tlsServer(loop, { path }, { key, cert });
      try {
        // No CA: 'certificate verify failed' whatever the name.
        await t.throwsAsync(
          loop.createUnixConnection(() => ({}), path, { ssl: true, serverHostname: 'invalid' }),
          { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
        );
        t.true(
          served.protos.every((p) => p.state === 'INITIAL'),
          'no server protocol connected',
        );
        // The CA and the name: connected, the peer's certificate reported.
        const [client, pr] = await loop.createUnixConnection(
          () => new MyProto(null),
          path,
          clientSsl(cert),
        );
        const transport: Transport = client;
        t.is(transport.getExtraInfo('peercert')?.subject.CN, 'localhost');
        t.is(transport.getExtraInfo('peername'), path);
        await until(
          () => served.protos.some((p) => p.state === 'CONNECTED'),
          "the server's connectionMade",
        );
        client.write('over unix');
        await until(
          () => served.protos.some((p) => p.received() === 'over unix'),
          'the server read',
        );
        client.close();
        await within(pr.done, "the client's connectionLost");
      } finally {
        await closeServer(served);
      }
      t.is(served.protos.filter((p) => p.state !== 'INITIAL').length, 1);
      await nothingHeld(loop);
    } finally {
      dir.remove();
    }
  });

  it('test_create_unix_connection_ssl_noserverhost: ssl over a Unix socket needs serverHostname (a path names no host); nothing is opened', async ({
    loop,
  }, t) => {
    const dir = tempDir();
    try {
      const { key, cert } = await selfSignedCert();
      const path = dir.path('tls.sock');
      const served = await tlsServer(loop, { path }, { key, cert });
      try {
        // asyncio: ValueError('you have to pass server_hostname when using
        // ssl'). Without the check, the name checked against the
        // certificate would be one nobody gave (node:tls takes 'localhost').
        const refused = { code: 'ERR_INVALID_ARG_VALUE', message: /serverHostname/ };
        await t.throwsAsync(
          loop.createUnixConnection(() => ({}), path, { ssl: { ca: cert } }),
          refused,
        );
        await t.throwsAsync(openUnixConnection(path, { loop, ssl: { ca: cert } }), refused);
        // The same with a connected sock: it stays the caller's.
        const sock = new Pipe(handleLoop(loop));
        try {
          await within(
            new Promise<void>((resolve, reject) =>
              sock.connect(path, (err) => (err ? reject(err) : resolve())),
            ),
            'the Pipe connect',
          );
          await t.throwsAsync(
            loop.createUnixConnection(() => ({}), null, { sock, ssl: { ca: cert } }),
            refused,
          );
          t.false(sock.closed, "the sock stays the caller's");
        } finally {
          sock.close();
        }
        t.true(
          served.protos.every((p) => p.state === 'INITIAL'),
          'no server protocol connected',
        );
      } finally {
        await closeServer(served);
      }
      await nothingHeld(loop);
    } finally {
      dir.remove();
    }
  });
}
