// asyncio.streams over real connections (test_streams.py: test_open_connection,
// test_start_server, test_drain_raises, test_wait_closed, exceptions reaching
// readers, reader flow control). The reader's parsing, which needs no loop,
// is tested in test/loop/stream-reader.test.ts.
import { once } from 'node:events';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeSync } from 'node:fs';
import {
  IncompleteReadError,
  LimitOverrunError,
  StreamReader,
  StreamReaderProtocol,
  openConnection,
  startServer,
  type StreamWriter,
} from 'asyncuv';
import { makeFifo } from '../fifo.js';
import { netConnect, netServer, portOf, readToEnd } from '../peers.js';
import { type MakeLoop, type Test, future, testIf, until, withLoop, within } from '../harness.js';

/** startServer's callback: echoes lines until EOF, then closes. */
async function lineEcho(reader: StreamReader, writer: StreamWriter): Promise<void> {
  for await (const line of reader) {
    writer.write(line);
    await writer.drain();
  }
  writer.close();
  await writer.waitClosed();
}

export function streams(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: startServer + openConnection echo lines through StreamReader/StreamWriter`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await startServer(lineEcho, '127.0.0.1', 0, { loop });
      const { reader, writer } = await openConnection('127.0.0.1', portOf(server), { loop });
      t.deepEqual(writer.getExtraInfo('peername'), ['127.0.0.1', portOf(server)]);
      writer.write('hello\n');
      t.is((await within(reader.readline(), 'readline')).toString(), 'hello\n');
      writer.writelines(['a', 'b\n', 'exact\n']);
      t.is((await within(reader.readuntil('\n'), 'readuntil')).toString(), 'ab\n');
      t.is((await within(reader.readexactly(6), 'readexactly')).toString(), 'exact\n');
      t.true(writer.canWriteEof());
      writer.writeEof();
      t.is((await within(reader.read(), 'read to EOF')).length, 0);
      t.true(reader.atEof());
      writer.close();
      t.true(writer.isClosing());
      await within(writer.waitClosed(), 'waitClosed');
      server.close();
      await within(server.waitClosed(), 'server waitClosed');
    }));

  test(`${name}: streams default to the running loop`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // runUntilComplete starts the work while the loop is running.
      const server = await loop.runUntilComplete(() => startServer(lineEcho, '127.0.0.1', 0));
      t.is(server.getLoop(), loop);
      const { reader, writer } = await loop.runUntilComplete(() =>
        openConnection('127.0.0.1', portOf(server)),
      );
      writer.write('on the running loop\n');
      t.is((await within(reader.readline(), 'echo')).toString(), 'on the running loop\n');
      writer.close();
      await within(writer.waitClosed(), 'waitClosed');
      server.close();
      await within(server.waitClosed(), 'server waitClosed');
    }));

  test(`${name}: a reader assembles lines and exact sizes from bytes that arrive in pieces`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer(async (s) => {
        for (const piece of ['li', 'ne one\nline', ' two\n12', '345', '67890tail']) {
          s.write(piece);
          await sleep(5);
        }
        s.end();
      });
      try {
        const { reader, writer } = await openConnection('127.0.0.1', peer.port, { loop });
        t.is((await within(reader.readline(), 'line one')).toString(), 'line one\n');
        t.is((await within(reader.readline(), 'line two')).toString(), 'line two\n');
        t.is((await within(reader.readexactly(10), '10 bytes')).toString(), '1234567890');
        const err = await t.throwsAsync(reader.readexactly(100), {
          instanceOf: IncompleteReadError,
        });
        t.is((err as IncompleteReadError).partial.toString(), 'tail');
        t.is((err as IncompleteReadError).expected, 100);
        t.true(reader.atEof());
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: async iteration yields each line, the unterminated rest last`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer((s) => s.end('one\ntwo\nthree'));
      try {
        const { reader, writer } = await openConnection('127.0.0.1', peer.port, { loop });
        const lines: string[] = [];
        for await (const line of reader) lines.push(line.toString());
        t.deepEqual(lines, ['one\n', 'two\n', 'three']);
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: drain waits while the peer does not read, and resolves once it does`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer();
      try {
        const accepted = peer.nextSocket();
        const { writer } = await openConnection('127.0.0.1', peer.port, { loop });
        const socket = await within(accepted, 'accept');
        socket.pause();
        const chunk = Buffer.alloc(256 * 1024, 'd');
        let written = 0;
        let blocked: Promise<void> | undefined;
        // Write until a drain() has to wait: the transport is above its high mark.
        while (blocked === undefined && written < 256 * 1024 * 1024) {
          writer.write(chunk);
          written += chunk.length;
          const drained = writer.drain();
          const settled = await Promise.race([
            drained.then(() => true),
            sleep(20).then(() => false),
          ]);
          if (!settled) blocked = drained;
        }
        t.not(blocked, undefined, 'drain() blocked while the peer was not reading');
        const [, high] = writer.transport.getWriteBufferLimits();
        t.true(writer.transport.getWriteBufferSize() > high);
        let received = 0;
        socket.on('data', (d: Buffer) => (received += d.length));
        socket.resume();
        await within(blocked!, 'drain after the peer reads', 10000);
        t.true(writer.transport.getWriteBufferSize() <= writer.transport.getWriteBufferLimits()[0]);
        await until(() => received === written, 'every byte', 10000);
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: drain rejects once the connection is lost to a peer reset`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // The peer resets once it has seen data: the connection is made first.
      const peer = await netServer((s) => s.once('data', () => s.resetAndDestroy()));
      try {
        const { writer } = await openConnection('127.0.0.1', peer.port, { loop });
        const err = await t.throwsAsync(
          (async () => {
            // As test_drain_raises: keep writing until the loss surfaces.
            for (let i = 0; i < 1000; i++) {
              writer.write(Buffer.alloc(1024));
              await writer.drain();
              await sleep(2);
            }
          })(),
        );
        t.true(
          ['ECONNRESET', 'EPIPE'].includes((err as Error & { code: string }).code),
          String(err),
        );
        await t.throwsAsync(writer.waitClosed());
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: an error ending the connection reaches a waiting reader and later reads`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer();
      try {
        const { reader, writer } = await openConnection('127.0.0.1', peer.port, { loop });
        const pending = reader.read();
        const boom = new Error('lost');
        // As test_open_connection_error: the protocol learns of the loss.
        writer.transport.getProtocol().connectionLost?.(boom);
        t.is(await t.throwsAsync(pending), boom);
        t.is(await t.throwsAsync(reader.readline()), boom);
        t.is(reader.exception(), boom);
        await t.throwsAsync(writer.drain(), { is: boom });
        writer.transport.abort();
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: the reader pauses the transport above twice its limit and resumes at the limit`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const limit = 1024;
      const peer = await netServer((s) => s.end(Buffer.alloc(64 * limit, 'f')));
      try {
        const { reader, writer } = await openConnection('127.0.0.1', peer.port, { loop, limit });
        t.is(reader.limit, limit);
        await until(() => !writer.transport.isReading(), 'transport paused by the reader');
        // Flow control bounds what is buffered (one read's worth above 2 * limit).
        const first = await reader.read(limit);
        t.is(first.length, limit);
        let total = first.length;
        for (;;) {
          const chunk = await within(reader.read(limit), 'read');
          if (chunk.length === 0) break;
          total += chunk.length;
        }
        t.is(total, 64 * limit);
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: 16 MiB echoed stream to stream with small limits keep their checksum`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { createHash, randomBytes } = await import('node:crypto');
      // Small reader limits and write marks make both sides pause and
      // resume many times: reader flow control and drain() together.
      const server = await startServer(
        async (reader, writer) => {
          writer.transport.setWriteBufferLimits({ high: 32 * 1024 });
          for (;;) {
            const data = await reader.read(8192);
            if (data.length === 0) break;
            writer.write(data);
            await writer.drain();
          }
          writer.close();
        },
        '127.0.0.1',
        0,
        { loop, limit: 4096 },
      );
      const { reader, writer } = await openConnection('127.0.0.1', portOf(server), {
        loop,
        limit: 4096,
      });
      const payload = randomBytes(16 * 1024 * 1024);
      const sending = (async () => {
        for (let i = 0; i < payload.length; i += 100_000) {
          writer.write(payload.subarray(i, i + 100_000));
          await writer.drain();
        }
        writer.writeEof();
      })();
      const hash = createHash('sha256');
      let total = 0;
      for (;;) {
        const chunk = await within(reader.read(65536), 'echoed data', 10000);
        if (chunk.length === 0) break;
        hash.update(chunk);
        total += chunk.length;
      }
      await within(sending, 'sender');
      t.is(total, payload.length);
      t.is(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
      writer.close();
      await within(writer.waitClosed(), 'waitClosed');
      server.close();
      await within(server.waitClosed(), 'server waitClosed');
    }));

  testIf(
    test,
    makeLoop,
    'pipes',
    `${name}: a StreamReader over connectReadPipe reads everything until the writer closes`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        // test_streams.py: test_read_all_from_pipe_reader.
        const fifo = await makeFifo();
        try {
          const reader = new StreamReader({ limit: 1 });
          const protocol = new StreamReaderProtocol(reader, undefined, loop);
          await loop.connectReadPipe(() => protocol, fifo.readFd);
          fifo.closeRead = () => {}; // the transport owns the read end now
          writeSync(fifo.writeFd, 'line1\nline2\n');
          fifo.closeWrite();
          t.is((await within(reader.read(), 'read to EOF')).toString(), 'line1\nline2\n');
          t.true(reader.atEof());
          await within(protocol.closed, 'connectionLost');
        } finally {
          fifo.dispose();
        }
      }),
  );

  test(`${name}: a line longer than the limit is a LimitOverrunError; the stream goes on after it`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer((s) => s.end(`${'x'.repeat(300)}\nshort\n`));
      try {
        const { reader, writer } = await openConnection('127.0.0.1', peer.port, {
          loop,
          limit: 100,
        });
        await t.throwsAsync(reader.readline(), { instanceOf: LimitOverrunError });
        t.is((await within(reader.readline(), 'next line')).toString(), 'short\n');
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: a client_connected callback that rejects reaches the exception handler and closes the connection`, (t) =>
    withLoop(
      t,
      makeLoop,
      async ({ loop, exceptions }) => {
        const boom = new Error('handler failed');
        const server = await startServer(
          async (reader) => {
            await reader.readline();
            throw boom;
          },
          '127.0.0.1',
          0,
          { loop },
        );
        const client: net.Socket = await netConnect(portOf(server));
        const ended = readToEnd(client);
        client.write('go\n');
        await within(ended, 'connection closed by the server');
        await until(() => exceptions.length > 0, 'exception handler');
        t.is(exceptions[0]!.exception, boom);
        t.true(String(exceptions[0]!.message).includes('client_connected_cb'));
        client.destroy();
        server.close();
        await within(server.waitClosed(), 'server waitClosed');
      },
      { expectExceptions: true },
    ));

  test(`${name}: the server's writer sees the client's EOF through its reader and answers after it`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const done = future<string>();
      const server = await startServer(
        async (reader, writer) => {
          const all = await reader.read();
          writer.write(`got ${all.length} bytes`);
          writer.close();
          await writer.waitClosed();
          done.resolve(all.toString());
        },
        '127.0.0.1',
        0,
        { loop },
      );
      const client = await netConnect(portOf(server), '127.0.0.1', { allowHalfOpen: true });
      const reply = readToEnd(client);
      client.end('0123456789');
      t.is((await within(reply, 'reply')).toString(), 'got 10 bytes');
      t.is(await within(done.promise, 'server side'), '0123456789');
      await once(client, 'close');
      server.close();
      await within(server.waitClosed(), 'server waitClosed');
    }));
}
