// StreamWriter.startTls (asyncio's StreamWriter.start_tls) on both loops: a
// STARTTLS exchange between openConnection's and startServer's streams,
// the plaintext the reader held before the upgrade kept, a handshake the
// client refuses, and a writer that has no connection to upgrade.
import test from 'ava';
import {
  type AbstractEventLoop,
  createSubprocessExec,
  openConnection,
  type StreamReader,
  type StreamWriter,
  startServer,
} from 'asyncuv';
import { selfSignedCert } from '../adapters/tls-cert.js';
import { bothEventLoops } from '../helpers/event-loop-test.js';
import { deferred, until, within } from '../helpers/loop-test.js';
import { withPrograms } from '../helpers/tools.js';

const tlsTest = withPrograms(test, ['openssl']);

/**
 * A server that answers `STARTTLS` with `GO` and a line of plaintext,
 * upgrades, then answers each line in upper case; `upgraded` settles with
 * its side's outcome.
 */
async function starttlsServer(
  loop: AbstractEventLoop,
  ssl: { key: Buffer; cert: Buffer },
): Promise<{ port: number; upgraded: Promise<StreamWriter>; close(): Promise<void> }> {
  const upgraded = deferred<StreamWriter>();
  const server = await startServer(
    async (reader: StreamReader, writer: StreamWriter) => {
      try {
        if ((await reader.readline()).toString() !== 'STARTTLS\n') throw new Error('no STARTTLS');
        writer.write('GO\nstill plain\n');
        await writer.startTls(ssl, { sslHandshakeTimeout: 10 });
        upgraded.resolve(writer);
        for await (const line of reader) writer.write(line.toString().toUpperCase());
      } catch (err) {
        upgraded.reject(err);
      } finally {
        writer.close();
      }
    },
    '127.0.0.1',
    0,
    { loop },
  );
  upgraded.promise.catch(() => {}); // a test that expects the failure awaits it later
  return {
    port: (server.sockets()[0] as { port: number }).port,
    upgraded: upgraded.promise,
    close: async () => {
      server.close();
      await within(server.waitClosed(), 'the server closed');
    },
  };
}

for (const [name, onLoop] of bothEventLoops) {
  tlsTest(`${name}: startTls upgrades both streams of a connection in place`, (t) =>
    onLoop(t, async (loop) => {
      const { key, cert } = await selfSignedCert();
      const server = await starttlsServer(loop, { key, cert });
      try {
        const { reader, writer } = await openConnection('127.0.0.1', server.port, { loop });
        const plain = writer.transport;
        writer.write('STARTTLS\n');
        t.is((await within(reader.readline(), 'GO')).toString(), 'GO\n');
        // The plaintext that came with GO is in the reader before the upgrade.
        await until(() => reader.bufferedSize === 'still plain\n'.length, 'the plaintext');
        await within(writer.startTls({ ca: cert }, { serverHostname: 'localhost' }), 'startTls');
        t.not(writer.transport, plain, 'the writer writes to the new transport');
        t.is(typeof writer.getExtraInfo('cipher'), 'object', 'encrypted');
        const serverWriter = await within(server.upgraded, "the server's side");
        t.is(typeof serverWriter.getExtraInfo('peercert'), 'object');
        t.is((await within(reader.readline(), 'the plaintext')).toString(), 'still plain\n');
        writer.write('hello\n');
        t.is((await within(reader.readline(), 'the answer')).toString(), 'HELLO\n');
        writer.close();
        await within(writer.waitClosed(), 'the client closed');
        t.true(reader.atEof() || (await reader.read()).length === 0);
      } finally {
        await server.close();
      }
    }),
  );

  tlsTest(`${name}: startTls with a certificate the client refuses rejects, and closes`, (t) =>
    onLoop(t, async (loop) => {
      const { key, cert } = await selfSignedCert();
      const server = await starttlsServer(loop, { key, cert });
      try {
        const { reader, writer } = await openConnection('127.0.0.1', server.port, { loop });
        writer.write('STARTTLS\n');
        await within(reader.readline(), 'GO');
        await t.throwsAsync(within(writer.startTls({}, { serverHostname: 'localhost' }), 'no'), {
          code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
        });
        await t.throwsAsync(within(server.upgraded, "the server's side fails too"));
        t.true(writer.isClosing(), 'the connection is closed');
        const refused = { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' };
        await t.throwsAsync(within(writer.waitClosed(), 'waitClosed'), refused);
        await t.throwsAsync(within(reader.read(), 'a read'), refused);
      } finally {
        await server.close();
      }
    }),
  );

  test(`${name}: startTls on a subprocess's stdin is refused`, (t) =>
    onLoop(t, async (loop) => {
      const proc = await createSubprocessExec('cat', [], { stdin: 'pipe', loop });
      await t.throwsAsync(proc.stdin!.startTls({}), { code: 'ERR_INVALID_STATE' });
      proc.stdin!.close();
      t.is(await within(proc.wait(), 'cat exits'), 0);
    }));
}
