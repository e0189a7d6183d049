// A TLS handshake that does not complete, on both loops (asyncio's
// sslproto.py and base_events.start_tls): the client's createConnection
// rejects with a typed error and keeps nothing; its signal cancels the
// handshake as it cancels the connect; a loop closed meanwhile fails it with
// ERR_LOOP_CLOSED, as every start in flight; a peer that hangs up fails it
// with ECONNRESET and nothing else; a client that closes at once is seen
// to close by the server; a server reports a failed
// handshake only in debug mode (asyncio logs it, an SSLError being an
// OSError, at debug level only).
import net from 'node:net';
import type { Protocol } from 'asyncuv';
import { selfSignedCert } from '../../adapters/tls-cert.js';
import { withPrograms } from '../../helpers/tools.js';
import { type MakeLoop, type Test, until, withLoop, within } from '../harness.js';

// A TCP peer that accepts and never answers the ClientHello.
async function silentPeer(): Promise<{ port: number; close(): void }> {
  const sockets: net.Socket[] = [];
  const srv = net.createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

const quiet = (): Protocol => ({});

export function tlsHandshake(test: Test, makeLoop: MakeLoop, name: string): void {
  // These cases make a certificate with openssl (test/adapters/tls-cert.ts).
  const tlsTest = withPrograms(test, ['openssl']);

  tlsTest(
    `${name}: TLS: a failed server-side handshake reaches the exception handler in debug mode only`,
    (t) =>
      withLoop(
        t,
        makeLoop,
        async ({ loop, exceptions }) => {
          const { key, cert } = await selfSignedCert();
          let made = 0;
          const server = await loop.createServer(
            () => ({ connectionMade: () => void made++ }),
            '127.0.0.1',
            0,
            { ssl: { key, cert } },
          );
          const port = (server.sockets()[0] as { port: number }).port;
          // A client that sends what is not TLS: the server's handshake
          // fails and it closes the connection, so once the client sees the
          // close, the server has settled the failure (reported or not).
          const notTls = async (): Promise<void> => {
            const socket = net.connect(port, '127.0.0.1');
            socket.on('error', () => {});
            socket.end('GET / HTTP/1.1\r\n\r\n');
            socket.resume();
            await new Promise((r) => socket.once('close', r));
          };
          await notTls();
          await new Promise((r) => setTimeout(r, 20));
          t.deepEqual(exceptions, [], 'not reported outside debug mode');
          loop.setDebug(true);
          await notTls();
          await until(() => exceptions.length > 0, 'the debug-mode report');
          loop.setDebug(false);
          t.deepEqual(
            exceptions.map((c) => c.message),
            ['TLS handshake failed'],
            'once: the failure in debug mode',
          );
          // A client that does not trust the server fails on its side too.
          await t.throwsAsync(loop.createConnection(quiet, '127.0.0.1', port, { ssl: true }), {
            code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
          });
          t.is(made, 0, 'no connectionMade for a failed handshake');
          server.close();
          await server.waitClosed();
        },
        { expectExceptions: true },
      ),
  );

  tlsTest(`${name}: TLS: createConnection's signal cancels the handshake`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await silentPeer();
      try {
        const started = Date.now();
        await t.throwsAsync(
          loop.createConnection(quiet, '127.0.0.1', peer.port, {
            ssl: true,
            sslHandshakeTimeout: 10,
            signal: AbortSignal.timeout(50),
          }),
          { name: 'AbortError', code: 'ABORT_ERR' },
        );
        t.true(Date.now() - started < 5000, 'cancelled, not timed out');
        await until(() => Object.keys(loop.liveResources()).length === 0, 'nothing held');
      } finally {
        peer.close();
      }
    }),
  );

  test(`${name}: TLS: a peer that hangs up during the handshake fails createConnection with ECONNRESET, nothing uncaught`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // Reads the ClientHello, then ends the connection.
      const srv = net.createServer((s) => s.once('data', () => s.end()));
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      try {
        const port = (srv.address() as net.AddressInfo).port;
        await t.throwsAsync(loop.createConnection(quiet, '127.0.0.1', port, { ssl: true }), {
          code: 'ECONNRESET',
        });
        // node:tls's own error for the same hang-up comes a tick later:
        // it must not surface as an uncaught exception.
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        srv.close();
      }
    }));

  tlsTest(
    `${name}: TLS: clients that close right after the handshake: the server sees each EOF and waitClosed resolves`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const { key, cert } = await selfSignedCert();
        // The client's close_notify can come in the read that completes the
        // server's handshake: its EOF must still reach the protocol.
        const seen: string[] = [];
        const server = await loop.createServer(
          () => ({
            eofReceived: () => void seen.push('eof'),
            connectionLost: (e: Error | null) => void seen.push(`lost ${String(e)}`),
          }),
          '127.0.0.1',
          0,
          { ssl: { key, cert } },
        );
        const port = (server.sockets()[0] as { port: number }).port;
        const n = 60;
        for (let i = 0; i < n; i++) {
          const [tr] = await loop.createConnection(quiet, '127.0.0.1', port, {
            ssl: { ca: cert },
            serverHostname: 'localhost',
          });
          tr.close();
        }
        await until(() => seen.length === 2 * n, `${n} server-side EOFs and connectionLost`);
        t.is(seen.filter((s) => s === 'eof').length, n);
        t.is(seen.filter((s) => s === 'lost null').length, n);
        server.close();
        await server.waitClosed();
      }),
  );

  tlsTest(
    `${name}: TLS: close() during the handshake fails createConnection with ERR_LOOP_CLOSED`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const peer = await silentPeer();
        try {
          const connecting = loop.createConnection(quiet, '127.0.0.1', peer.port, { ssl: true });
          // Connected and waiting for the ServerHello.
          await new Promise((r) => setTimeout(r, 100));
          loop.close();
          await t.throwsAsync(connecting, { code: 'ERR_LOOP_CLOSED' });
        } finally {
          peer.close();
        }
      }),
  );

  tlsTest(
    `${name}: TLS: close() at any moment of the connect and the handshake: createConnection settles with ERR_LOOP_CLOSED`,
    async (t) => {
      // UvEventLoop's handshake ran over a raw transport that the loop's
      // close() closes without telling anyone, and node:tls above it
      // waited forever (about 1 close in 12, a millisecond or two in).
      const peer = await silentPeer();
      try {
        for (let i = 0; i < 24; i++) {
          const fixture = makeLoop();
          const { loop } = fixture;
          const connecting = loop.createConnection(quiet, '127.0.0.1', peer.port, { ssl: true });
          connecting.catch(() => {});
          // Not a wait for an event: the moment of the close is what varies.
          await new Promise((r) => setTimeout(r, i % 4));
          loop.close();
          const err = await t.throwsAsync(within(connecting, `createConnection (${i % 4} ms)`));
          t.is((err as { code?: string } | undefined)?.code, 'ERR_LOOP_CLOSED');
          await fixture.settle(t);
        }
      } finally {
        peer.close();
      }
    },
  );
}
