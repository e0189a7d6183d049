// A stream server's life from serving to closed (test_server.py:
// test_start_server_1, test_wait_closed_race, test_close_clients,
// test_abort_clients, test_unix_server_cleanup_replaced).
import { once } from 'node:events';
import net from 'node:net';
import { existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CancelledError,
  type StreamReader,
  type StreamWriter,
  openConnection,
  startServer,
  startUnixServer,
} from 'asyncuv';
import { netConnect, portOf, readToEnd, settledSoon } from '../peers.js';
import {
  cases,
  type MakeLoop,
  type Test,
  featureCasesWith,
  future,
  until,
  within,
} from '../harness.js';

/** test_server.py's handler: reads to EOF, then closes its side. */
async function readThenClose(reader: StreamReader, writer: StreamWriter): Promise<void> {
  try {
    await reader.read();
  } finally {
    writer.close();
    await writer.waitClosed().catch(() => {});
  }
}

export function serverLifecycle(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, `${name}: server`);

  it('serveForever on a server made with startServing false starts it; a handler cancels it; closed after', async ({
    loop,
  }, t) => {
    const controller = new AbortController();
    const server = await startServer(
      async (reader, writer) => {
        await reader.readline();
        controller.abort(); // as main_task.cancel() from inside the handler
        writer.write('1');
        writer.close();
        await writer.waitClosed();
      },
      '127.0.0.1',
      0,
      { loop, startServing: false },
    );
    t.false(server.isServing());
    const port = portOf(server);
    const main = server.serveForever({ signal: controller.signal });
    await until(() => server.isServing(), 'serving');
    const client = await netConnect(port);
    const reply = readToEnd(client);
    client.write(Buffer.concat([Buffer.alloc(5 * 1024, '1'), Buffer.from('\n')]));
    await t.throwsAsync(within(main, 'serveForever'), { instanceOf: CancelledError });
    t.is((await within(reply, 'the reply')).toString(), '1');
    client.destroy();
    t.deepEqual(server.sockets(), []);
    t.false(server.isServing());
    await t.throwsAsync(server.serveForever(), { code: 'ERR_INVALID_STATE', message: /closed/ });
    await within(server.waitClosed(), 'waitClosed');
  });

  it('server close and a client close queued together: waitClosed resolves', async ({
    loop,
  }, t) => {
    const server = await startServer(readThenClose, '127.0.0.1', 0, { loop });
    const early = server.waitClosed();
    t.false(await settledSoon(early), 'open, no connection: waitClosed waits');
    const { writer } = await openConnection('127.0.0.1', portOf(server), { loop });
    loop.callSoon(() => server.close());
    loop.callSoon(() => writer.close());
    await within(server.waitClosed(), 'server waitClosed');
    await within(early, 'the earlier waitClosed');
    await within(writer.waitClosed(), 'client waitClosed');
    t.false(server.isServing());
  });

  it('close() then closeClients(): the handlers see EOF and waitClosed resolves', async ({
    loop,
  }, t) => {
    const handling = future();
    const server = await startServer(
      async (reader, writer) => {
        handling.resolve();
        await readThenClose(reader, writer);
      },
      '127.0.0.1',
      0,
      { loop },
    );
    const { reader, writer } = await openConnection('127.0.0.1', portOf(server), { loop });
    await within(handling.promise, 'the handler runs');
    const waiting = server.waitClosed();
    t.false(await settledSoon(waiting), 'a connection is open: waitClosed waits');
    server.close();
    t.false(await settledSoon(waiting), 'closed, a connection open: waitClosed still waits');
    server.closeClients();
    await within(waiting, 'waitClosed after closeClients', 2000);
    t.is((await within(reader.read(), "the client's EOF")).length, 0);
    writer.close();
    await within(writer.waitClosed(), 'client waitClosed');
  });

  it('close() then abortClients() with writes buffered towards a paused reader: waitClosed resolves', async ({
    loop,
  }, t) => {
    const served = future<StreamWriter>();
    const server = await startServer(
      async (_reader, writer) => {
        served.resolve(writer);
        await writer.waitClosed().catch(() => {});
      },
      '127.0.0.1',
      0,
      { loop },
    );
    const client = await openConnection('127.0.0.1', portOf(server), { loop, limit: 4096 });
    const serverWriter = await within(served.promise, 'the handler');
    // More than twice the client's limit: its reader pauses its transport.
    for (let i = 0; i < 3; i++) serverWriter.write(Buffer.alloc(4096, 'a'));
    await until(() => !client.writer.transport.isReading(), 'the client paused reading');
    // Then fill the kernel buffers until the server's transport buffers too.
    for (let i = 0; i < 1000 && serverWriter.transport.getWriteBufferSize() === 0; i++) {
      serverWriter.write(Buffer.alloc(256 * 1024, 'a'));
      await sleep(1);
    }
    t.true(serverWriter.transport.getWriteBufferSize() > 0, 'the server has bytes queued');
    const waiting = server.waitClosed();
    t.false(await settledSoon(waiting));
    server.close();
    server.abortClients();
    await within(waiting, 'waitClosed after abortClients', 2000);
    t.is(serverWriter.transport.getWriteBufferSize(), 0, 'abort dropped the queued bytes');
    client.writer.close();
    await within(
      client.writer.waitClosed().catch(() => {}),
      'client waitClosed',
    );
  });

  const unix = featureCasesWith(
    test,
    makeLoop,
    'unix',
    `${name}: server`,
    () => join(tmpdir(), `asyncuv-conf-${process.pid}-${Math.random().toString(36).slice(2)}.sock`),
    (path) => rmSync(path, { force: true }),
  );

  unix("close() leaves a socket file that replaced the server's own", async ({ loop }, t, path) => {
    const server = await startUnixServer(() => {}, path, { loop });
    const ours = statSync(path).ino;
    rmSync(path);
    // Someone else's server now has the path.
    const other = net.createServer();
    other.listen(path);
    await once(other, 'listening');
    try {
      t.not(statSync(path).ino, ours);
      server.close();
      await within(server.waitClosed(), 'waitClosed');
      t.true(existsSync(path), "the other server's socket file is kept");
      const probe = net.connect(path);
      await within(once(probe, 'connect'), 'the other server still answers');
      probe.destroy();
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
}
