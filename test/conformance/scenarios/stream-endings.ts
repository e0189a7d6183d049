// How a stream connection ends, seen from StreamReader and StreamWriter
// (test_streams.py: test_eof_feed_when_closing_writer,
// test_wait_closed_on_close_with_unread_data,
// test_async_writer_api_exception_after_close, test_multiple_drain,
// test_drain_raises with a peer that closes at once).
import { setTimeout as sleep } from 'node:timers/promises';
import { openConnection } from 'asyncuv';
import { netServer } from '../peers.js';
import { type MakeLoop, type Test, until, withLoop, within } from '../harness.js';

/** The codes asyncio's ConnectionResetError, BrokenPipeError and ConnectionAbortedError stand for. */
const CONNECTION_GONE = ['ECONNRESET', 'EPIPE', 'ECONNABORTED'];

export function streamEndings(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: after writer.close() and waitClosed(), the reader is at EOF and read() is empty`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer();
      try {
        const { reader, writer } = await openConnection('127.0.0.1', peer.port, { loop });
        t.false(writer.isClosing());
        writer.close();
        t.true(writer.isClosing());
        await within(writer.waitClosed(), 'waitClosed');
        t.true(reader.atEof(), 'connectionLost(null) fed EOF to the reader');
        t.is((await within(reader.read(), 'read')).length, 0);
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: waitClosed() resolves when unread data is still buffered`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer((s) => s.write('HTTP/1.0 200 OK\r\n' + 'x'.repeat(100_000)));
      try {
        const { reader, writer } = await openConnection('127.0.0.1', peer.port, { loop });
        t.is((await within(reader.readline(), 'readline')).toString(), 'HTTP/1.0 200 OK\r\n');
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: write() after close() is dropped, and drain() rejects with ECONNRESET`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer();
      try {
        const { writer } = await openConnection('127.0.0.1', peer.port, { loop });
        writer.close();
        t.notThrows(() => writer.write('data'), 'asyncio drops writes to a closing transport');
        const err = await t.throwsAsync(within(writer.drain(), 'drain'));
        t.is((err as { code?: string }).code, 'ECONNRESET');
        await within(writer.waitClosed(), 'waitClosed');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: ten drain() calls waiting at once all resolve when the peer reads`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer((s) => s.pause());
      try {
        const accepted = peer.nextSocket();
        const { writer } = await openConnection('127.0.0.1', peer.port, { loop });
        const socket = await within(accepted, 'accept');
        writer.transport.setWriteBufferLimits({ high: 64 * 1024 });
        const chunk = Buffer.alloc(1024 * 1024, 'd');
        let written = 0;
        while (writer.transport.getWriteBufferSize() <= 64 * 1024 && written < 64 * 1024 * 1024) {
          writer.write(chunk);
          written += chunk.length;
        }
        // A paused peer does not stop the kernel: its receive buffer grows
        // (up to tcp_rmem's maximum, 32 MiB here) and may take what was
        // queued, so whether a drain is still waiting after some time says
        // nothing. The rule is that a drain resolves only once the buffer is
        // at or below the low-water mark (16 KiB for a high of 64 KiB).
        const [low] = writer.transport.getWriteBufferLimits();
        let drained = 0;
        const sizes: number[] = [];
        const drains = Array.from({ length: 10 }, () =>
          writer.drain().then(() => {
            sizes.push(writer.transport.getWriteBufferSize());
            drained++;
          }),
        );
        await sleep(20);
        t.true(
          sizes.every((size) => size <= low),
          `every drain waits while the buffer is above the low-water mark: ${sizes.join(', ')}`,
        );
        let received = 0;
        socket.on('data', (d: Buffer) => (received += d.length));
        socket.resume();
        await within(Promise.all(drains), 'the ten drains');
        t.is(drained, 10);
        t.true(
          sizes.every((size) => size <= low),
          `drains resolved at ${sizes.join(', ')}`,
        );
        await until(() => received === written, 'every byte');
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: a write/drain loop to a peer that closed fails with a connection error, not forever`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer((s) => s.destroy());
      try {
        const { reader, writer } = await openConnection('127.0.0.1', peer.port, { loop });
        // The peer's FIN arrives first (asyncio's server thread closes at once).
        t.is((await within(reader.read(), 'EOF')).length, 0);
        const client = async (): Promise<unknown> => {
          // Bounded, so that a drain that never fails ends the test instead of hanging it.
          for (let i = 0; i < 100_000; i++) {
            writer.write('foo\n');
            await writer.drain();
          }
          return 'no error after 100000 writes';
        };
        const err = await t.throwsAsync(within(client(), 'the write loop fails'));
        t.true(CONNECTION_GONE.includes((err as { code?: string }).code ?? ''), String(err));
        writer.close();
        await t.throwsAsync(within(writer.waitClosed(), 'waitClosed'));
      } finally {
        await peer.close();
      }
    }));
}
