// TLS options and startTls arguments, on both loops: what cannot work is
// refused at the call with a typed error and opens nothing (asyncio raises
// TypeError / ValueError there too: an ssl that is not an SSLContext, a
// server without a certificate, ssl_handshake_timeout without ssl or <= 0,
// start_tls of what is not a transport). A server makes its secure context
// once, when it is created, as tls.createServer (and asyncio's one
// SSLContext): a bad key fails createServer, and every connection answers
// the same 'sslcontext'. `ssl: false` or `null` is a plain server, as
// asyncio's ssl=None.
import type { Protocol, Transport } from 'asyncuv';
import { selfSignedCert } from '../../adapters/tls-cert.js';
import { withPrograms } from '../../helpers/tools.js';
import { type MakeLoop, type Test, until, withLoop } from '../harness.js';

const quiet = (): Protocol => ({});
const portOf = (server: { sockets(): unknown[] }): number =>
  (server.sockets()[0] as { port: number }).port;

export function tlsArguments(test: Test, makeLoop: MakeLoop, name: string): void {
  const tlsTest = withPrograms(test, ['openssl']);

  test(`${name}: TLS options: bad ssl, sslHandshakeTimeout and server ssl are refused with typed errors`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const connect = (opts: object): Promise<unknown> =>
        loop.createConnection(quiet, '127.0.0.1', 1, opts as never);
      const serve = (opts: object): Promise<unknown> =>
        loop.createServer(quiet, '127.0.0.1', 0, opts as never);
      await t.throwsAsync(connect({ ssl: 'yes' }), { code: 'ERR_INVALID_ARG_TYPE' });
      await t.throwsAsync(connect({ sslHandshakeTimeout: 5 }), {
        code: 'ERR_INVALID_ARG_VALUE',
        message: 'sslHandshakeTimeout is only meaningful with ssl',
      });
      await t.throwsAsync(connect({ ssl: true, sslHandshakeTimeout: 0 }), {
        code: 'ERR_OUT_OF_RANGE',
      });
      await t.throwsAsync(connect({ ssl: true, sslHandshakeTimeout: '5' }), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
      await t.throwsAsync(serve({ ssl: true }), { code: 'ERR_INVALID_ARG_VALUE' });
      await t.throwsAsync(serve({ ssl: 42 }), { code: 'ERR_INVALID_ARG_TYPE' });
      await t.throwsAsync(serve({ ssl: { key: 'k', cert: 'c' }, sslHandshakeTimeout: -1 }), {
        code: 'ERR_OUT_OF_RANGE',
      });
      t.deepEqual(loop.liveResources(), {}, 'nothing opened');
    }));

  test(`${name}: TLS options: ssl false or null is a plain server`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      for (const ssl of [false, null]) {
        const server = await loop.createServer(
          () => ({
            connectionMade(tr: Transport) {
              tr.write('plain');
              tr.close();
            },
          }),
          '127.0.0.1',
          0,
          { ssl } as never,
        );
        let got = '';
        await loop.createConnection(
          () => ({ dataReceived: (d: Buffer) => void (got += d.toString()) }),
          '127.0.0.1',
          portOf(server),
        );
        await until(() => got === 'plain', `the plain greeting with ssl: ${String(ssl)}`);
        server.close();
        await server.waitClosed();
      }
      t.pass();
    }));

  tlsTest(
    `${name}: TLS options: a server's context is made once: a bad key fails createServer, connections share it`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const { key, cert } = await selfSignedCert();
        const bad = await t.throwsAsync(
          loop.createServer(quiet, '127.0.0.1', 0, { ssl: { key: 'not a key', cert } }),
        );
        t.regex((bad as { code?: string }).code ?? '', /^ERR_OSSL_/);
        t.deepEqual(loop.liveResources(), {}, 'no server left listening');
        const contexts: unknown[] = [];
        const server = await loop.createServer(
          () => ({
            connectionMade: (tr: Transport) => void contexts.push(tr.getExtraInfo('sslcontext')),
          }),
          '127.0.0.1',
          0,
          { ssl: { key, cert } },
        );
        for (let i = 0; i < 2; i++) {
          const [tr] = await loop.createConnection(quiet, '127.0.0.1', portOf(server), {
            ssl: { ca: cert },
            serverHostname: 'localhost',
          });
          tr.close();
        }
        await until(() => contexts.length === 2, 'both connections served');
        t.truthy(contexts[0]);
        t.is(contexts[0], contexts[1]);
        server.close();
        await server.waitClosed();
      }),
  );

  tlsTest(`${name}: startTls refuses what it cannot upgrade, and the transport stays usable`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { cert } = await selfSignedCert();
      let got = '';
      const server = await loop.createServer(
        () => ({ dataReceived: (d: Buffer) => void (got += d.toString()) }),
        '127.0.0.1',
        0,
      );
      const [tr] = await loop.createConnection(quiet, '127.0.0.1', portOf(server));
      const ssl = { ca: cert };
      await t.throwsAsync(loop.startTls({} as never, {}, ssl), { code: 'ERR_INVALID_ARG_TYPE' });
      await t.throwsAsync(loop.startTls(tr, null as never, ssl), { code: 'ERR_INVALID_ARG_TYPE' });
      await t.throwsAsync(loop.startTls(tr, {}, null as never), { code: 'ERR_INVALID_ARG_TYPE' });
      await t.throwsAsync(loop.startTls(tr, {}, ssl, { sslHandshakeTimeout: -1 }), {
        code: 'ERR_OUT_OF_RANGE',
      });
      // Nothing was taken over: the plain transport still carries bytes.
      tr.write('still plain');
      await until(() => got === 'still plain', 'the plain bytes');
      tr.close();
      await t.throwsAsync(loop.startTls(tr, {}, ssl), { code: 'ERR_TRANSPORT_CLOSED' });
      server.close();
      await server.waitClosed();
    }),
  );
}
