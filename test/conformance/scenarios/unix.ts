// Unix domain sockets (test_events.py: test_create_unix_connection,
// test_create_unix_server*; test_streams.py: open_unix_connection,
// start_unix_server).
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openUnixConnection, startUnixServer, type UvError } from 'asyncuv';
import { MyProto } from '../protocols.js';
import { type MakeLoop, type Test, testIf, until, withLoop, within } from '../harness.js';

function socketPath(tag: string): string {
  return join(
    tmpdir(),
    `asyncuv-conf-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`,
  );
}

export function unix(test: Test, makeLoop: MakeLoop, name: string): void {
  testIf(
    test,
    makeLoop,
    'unix',
    `${name}: createUnixServer + createUnixConnection: MyProto on both ends`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const path = socketPath('proto');
        const serverProtos: MyProto[] = [];
        const server = await loop.createUnixServer(() => {
          const p = new MyProto('welcome');
          serverProtos.push(p);
          return p;
        }, path);
        try {
          t.deepEqual(server.sockets(), [{ path }]);
          const [transport, client] = await loop.createUnixConnection(
            () => new MyProto('hello'),
            path,
          );
          t.is(client.state, 'CONNECTED');
          await until(
            () => client.nbytes === 'welcome'.length && serverProtos[0]?.nbytes === 'hello'.length,
            'greetings',
          );
          t.is(client.received(), 'welcome');
          t.is(serverProtos[0]!.received(), 'hello');
          transport.close();
          await within(client.done, 'client connectionLost');
          // The server side sees EOF, then closes (eofReceived returns nothing).
          await within(serverProtos[0]!.done, 'server connectionLost');
          t.is(serverProtos[0]!.state, 'CLOSED');
          t.deepEqual([...client.violations, ...serverProtos[0]!.violations], []);
        } finally {
          server.close();
          await within(server.waitClosed(), 'waitClosed');
          rmSync(path, { force: true });
        }
      }),
  );

  testIf(
    test,
    makeLoop,
    'unix',
    `${name}: a Unix connection to a missing path rejects with ENOENT`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const err = await t.throwsAsync(
          loop.createUnixConnection(() => new MyProto(), socketPath('missing')),
        );
        t.is((err as UvError).code, 'ENOENT');
      }),
  );

  testIf(
    test,
    makeLoop,
    'unix',
    `${name}: a second server on a path in use fails with EADDRINUSE`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const path = socketPath('inuse');
        const server = await loop.createUnixServer(() => new MyProto(), path);
        try {
          const err = await t.throwsAsync(loop.createUnixServer(() => new MyProto(), path));
          t.is((err as UvError).code, 'EADDRINUSE');
        } finally {
          server.close();
          await within(server.waitClosed(), 'waitClosed');
          rmSync(path, { force: true });
        }
      }),
  );

  testIf(
    test,
    makeLoop,
    'unix',
    `${name}: startUnixServer + openUnixConnection echo through streams`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const path = socketPath('streams');
        const server = await startUnixServer(
          async (reader, writer) => {
            for await (const line of reader) writer.write(line.toString().toUpperCase());
            writer.close();
          },
          path,
          { loop },
        );
        try {
          const { reader, writer } = await openUnixConnection(path, { loop });
          writer.write('first\nsecond\n');
          t.is((await within(reader.readline(), 'line')).toString(), 'FIRST\n');
          t.is((await within(reader.readline(), 'line')).toString(), 'SECOND\n');
          writer.writeEof();
          t.is((await within(reader.read(), 'EOF')).length, 0);
          writer.close();
          await within(writer.waitClosed(), 'waitClosed');
        } finally {
          server.close();
          await within(server.waitClosed(), 'server waitClosed');
          rmSync(path, { force: true });
        }
      }),
  );
}
