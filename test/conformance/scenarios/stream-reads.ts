// StreamReader reads over a real connection, with the transport feeding it
// and the reader's flow control in play (test_streams.py: test_read_zero,
// test_readexactly_zero_or_less, test_read_limit, test_readexactly_limit,
// test_readuntil_limit_found_sep, test_readuntil_eof,
// test_readuntil_multi_chunks_1, test_readexactly_eof,
// test_readline_limit_with_existing_data, test_readline_read_byte_count,
// test_at_eof, test_read_exception / test_exception_waiter,
// test_exception_cancel, test_invalid_limit, test_wait_closed_on_close,
// test_start_server with a plain callback). The same parsing without a
// loop is tested in test/loop/stream-reader.test.ts.
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { IncompleteReadError, LimitOverrunError, openConnection, startServer } from 'asyncuv';
import { netServer, withConnection } from '../peers.js';
import { cases, type MakeLoop, type Test, future, until, within } from '../harness.js';

/** Writes each piece as its own segment, a little apart. */
async function trickle(peer: net.Socket, pieces: string[]): Promise<void> {
  for (const piece of pieces) {
    peer.write(piece);
    await sleep(5);
  }
}

export function streamReads(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, `${name}: streams`);

  it('read(0) and readexactly(0) return empty at once and consume nothing; readexactly(-1) is refused', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      // Nothing buffered: neither waits.
      t.is((await within(reader.read(0), 'read(0) with nothing buffered', 1000)).length, 0);
      t.is((await within(reader.readexactly(0), 'readexactly(0)', 1000)).length, 0);
      peer.write('line1\nline2\n');
      await until(() => reader.bufferedSize === 12, 'the data');
      t.is((await reader.read(0)).length, 0);
      t.is((await reader.readexactly(0)).length, 0);
      await t.throwsAsync(reader.readexactly(-1), { code: 'ERR_OUT_OF_RANGE' });
      t.is(reader.bufferedSize, 12, 'none of it consumed');
      t.is((await reader.readexactly(12)).toString(), 'line1\nline2\n');
    }));

  it('read(n) and readexactly(n) above the limit take n bytes (the limit bounds lines only)', async ({
    loop,
  }, t) =>
    withConnection(loop, 3, async ({ reader, peer }) => {
      peer.write('chunk');
      t.is((await within(reader.readexactly(5), 'readexactly(5)')).toString(), 'chunk');
      peer.write('CHUNK');
      await until(() => reader.bufferedSize === 5, 'the second chunk');
      t.is((await reader.read(5)).toString(), 'CHUNK');
      t.is(reader.bufferedSize, 0);
    }));

  it('readuntil over the limit: "not found" keeps the data, "is found" too; reads go on', async ({
    loop,
  }, t) =>
    withConnection(loop, 3, async ({ reader, peer }) => {
      peer.write('some dataAA');
      await until(() => reader.bufferedSize === 11, 'the data');
      const notFound = await t.throwsAsync(reader.readuntil('AAA'), {
        instanceOf: LimitOverrunError,
      });
      t.regex(notFound!.message, /not found/);
      t.is(notFound!.consumed, 9, 'searched up to the last bytes that could start a separator');
      t.is(reader.bufferedSize, 11, 'the data stays buffered');
      // The reader paused the transport (11 > 2 * 3); a read that needs
      // more than is buffered resumes it, or it would wait forever.
      const more = reader.readexactly(12);
      peer.write('A');
      t.is((await within(more, 'readexactly past the buffer')).toString(), 'some dataAAA');
      peer.write('some dataAAA');
      await until(() => reader.bufferedSize === 12, 'the data with its separator');
      const found = await t.throwsAsync(reader.readuntil('AAA'), {
        instanceOf: LimitOverrunError,
      });
      t.regex(found!.message, /is found/);
      t.is(found!.consumed, 9);
      t.is(reader.bufferedSize, 12);
      t.is((await reader.read(100)).toString(), 'some dataAAA');
    }));

  it('readuntil at EOF without the separator: IncompleteReadError, expected null, the rest as partial', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      peer.end('some dataAA');
      const err = await t.throwsAsync(within(reader.readuntil('AAA'), 'readuntil'), {
        instanceOf: IncompleteReadError,
      });
      t.is(err!.partial.toString(), 'some dataAA');
      t.is(err!.expected, null);
      t.regex(err!.message, /undefined expected bytes/);
      t.true(reader.atEof());
      t.is((await reader.readuntil('AAA').catch((e: IncompleteReadError) => e.partial)).length, 0);
    }));

  it('readuntil finds a separator split across segments', async ({ loop }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      const rounds: Array<[string[], string]> = [
        [['QWEaa', 'XYaa', 'a'], 'QWEaaXYaaa'],
        [['QWEaa', 'XYa', 'aa'], 'QWEaaXYaaa'],
        [['aaa'], 'aaa'],
        [['Xaaa'], 'Xaaa'],
        [['XXX', 'a', 'a', 'a'], 'XXXaaa'],
      ];
      for (const [pieces, line] of rounds) {
        const read = reader.readuntil('aaa');
        await trickle(peer, pieces);
        t.is((await within(read, line)).toString(), line);
        t.is(reader.bufferedSize, 0);
      }
      await t.throwsAsync(reader.readuntil(''), { code: 'ERR_INVALID_ARG_VALUE' });
    }));

  it('readexactly at an early EOF: IncompleteReadError with what came and the asyncio message', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      const data = 'line1\nline2\nline3\n';
      const read = reader.readexactly(2 * data.length);
      await trickle(peer, [data]);
      peer.end();
      const err = await t.throwsAsync(within(read, 'readexactly'), {
        instanceOf: IncompleteReadError,
      });
      t.is(err!.partial.toString(), data);
      t.is(err!.expected, 36);
      t.is(err!.message, '18 bytes read on a total of 36 expected bytes');
      t.true(reader.atEof());
    }));

  it('readline over the limit discards the long line; with no newline, all that was buffered', async ({
    loop,
  }, t) =>
    withConnection(loop, 3, async ({ reader, peer }) => {
      peer.write('li');
      await until(() => reader.bufferedSize === 2, 'li');
      peer.write('ne1\nline2\n');
      await until(() => reader.bufferedSize === 12, 'the rest');
      await t.throwsAsync(reader.readline(), { instanceOf: LimitOverrunError });
      t.is(reader.bufferedSize, 6, "what follows the long line's newline stays");
      t.is((await reader.readexactly(6)).toString(), 'line2\n');
      peer.write('li');
      await until(() => reader.bufferedSize === 2, 'li');
      peer.write('ne1');
      await until(() => reader.bufferedSize === 5, 'ne1');
      peer.write('li');
      await until(() => reader.bufferedSize === 7, 'li');
      await t.throwsAsync(reader.readline(), { instanceOf: LimitOverrunError });
      t.is(reader.bufferedSize, 0, 'everything buffered was discarded');
      peer.end('ok\n');
      t.is((await within(reader.readline(), 'the next line')).toString(), 'ok\n');
    }));

  it('readline then read(n) count bytes across lines; atEof only once EOF came and all was read', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      t.false(reader.atEof());
      peer.write('line1\nline2\nline3\n');
      t.is((await within(reader.readline(), 'readline')).toString(), 'line1\n');
      await until(() => reader.bufferedSize === 12, 'the rest');
      t.is((await reader.read(7)).toString(), 'line2\nl');
      t.false(reader.atEof());
      peer.end('some data\n');
      await within(reader.readexactly(5), 'ine3\\n');
      t.is((await within(reader.readline(), 'last line')).toString(), 'some data\n');
      t.is((await within(reader.read(), 'EOF')).length, 0);
      t.true(reader.atEof());
    }));

  it('setException on a connected reader: a waiting read rejects with it, later reads too', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      t.is(reader.exception(), null);
      peer.write('line\n');
      await until(() => reader.bufferedSize === 5, 'line');
      t.is((await reader.read(2)).toString(), 'li');
      t.is((await reader.readline()).toString(), 'ne\n');
      const waiting = reader.readline();
      const boom = new Error('set by the protocol');
      setImmediate(() => reader.setException(boom));
      t.is(await t.throwsAsync(within(waiting, 'readline')), boom);
      t.is(reader.exception(), boom);
      peer.write('more\n');
      await sleep(10);
      t.is(await t.throwsAsync(reader.read(2)), boom);
      t.is(await t.throwsAsync(reader.readexactly(2)), boom);
    }));

  it('setException after an aborted read: nothing unhandled, the next read rejects with it', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader }) => {
      const controller = new AbortController();
      const read = reader.readline({ signal: controller.signal });
      await sleep(1);
      controller.abort();
      await t.throwsAsync(within(read, 'aborted readline'), { name: 'AbortError' });
      const boom = new Error('message');
      reader.setException(boom);
      await sleep(1);
      t.is(await t.throwsAsync(reader.readline()), boom);
    }));

  it('a limit below 1 is refused before anything is opened', async ({ loop }, t) => {
    const server = await netServer();
    try {
      for (const limit of [0, -1]) {
        await t.throwsAsync(openConnection('127.0.0.1', server.port, { loop, limit }), {
          code: 'ERR_OUT_OF_RANGE',
        });
        await t.throwsAsync(
          startServer(() => {}, '127.0.0.1', 0, { loop, limit }),
          {
            code: 'ERR_OUT_OF_RANGE',
          },
        );
      }
      await sleep(20);
      t.is(server.sockets.length, 0, 'no connection was made');
    } finally {
      await server.close();
    }
  });

  it('isClosing() is false until close(); close() and waitClosed() twice are harmless', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, writer, peer }) => {
      peer.end('HTTP/1.0 200 OK\r\n\r\nTest message');
      t.is((await within(reader.readline(), 'status')).toString(), 'HTTP/1.0 200 OK\r\n');
      t.is((await within(reader.read(), 'rest')).toString(), '\r\nTest message');
      t.false(writer.isClosing());
      writer.close();
      t.true(writer.isClosing());
      writer.close();
      await within(writer.waitClosed(), 'waitClosed');
      await within(writer.waitClosed(), 'waitClosed again');
      t.true(writer.isClosing());
    }));

  it('startServer with a plain (not async) callback that starts its own work', async ({
    loop,
  }, t) => {
    const handled = future();
    const server = await startServer(
      (reader, writer) => {
        // As test_start_server's handle_client_callback: a task of its own.
        void (async () => {
          const line = await reader.readline();
          writer.write(line);
          await writer.drain();
          writer.close();
          await writer.waitClosed();
          handled.resolve();
        })();
      },
      '127.0.0.1',
      0,
      { loop },
    );
    const { port } = server.sockets()[0]!;
    const { reader, writer } = await openConnection('127.0.0.1', port, { loop });
    writer.write('hello world!\n');
    t.is((await within(reader.readline(), 'echo')).toString(), 'hello world!\n');
    writer.close();
    await within(writer.waitClosed(), 'waitClosed');
    await within(handled.promise, 'the handler');
    server.close();
    await within(server.waitClosed(), 'server waitClosed');
  });
}
