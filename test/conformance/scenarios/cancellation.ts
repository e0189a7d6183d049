// Cancellation and timeouts over real connections (asyncio's wait_for and
// timeout around stream reads, drain, wait_closed, serve_forever and
// run_until_complete): an AbortSignal ends the wait with an AbortError
// whose cause is the signal's reason, waitFor with a TimeoutError, and an
// aborted read leaves every byte for the next read.
import type net from 'node:net';
import {
  CancelledError,
  TimeoutError,
  openConnection,
  startServer,
  waitFor,
  type AbstractEventLoop,
  type StreamPair,
  type StreamReader,
  type StreamWriter,
} from 'asyncuv';
import { connectOutcome, type NetServer, netServer, portOf } from '../peers.js';
import { type MakeLoop, type Test, until, untilStalled, withLoop, within } from '../harness.js';

/** A read to abort: what arrives before the abort, what after, and what the next read returns. */
interface ReadCase {
  method: string;
  read(reader: StreamReader, signal?: AbortSignal): Promise<Buffer>;
  before: string;
  after: string;
  end?: boolean;
  expected: string;
}

const readCases: ReadCase[] = [
  {
    method: 'readline',
    read: (r, signal) => r.readline({ signal }),
    before: 'ab',
    after: 'c\n',
    expected: 'abc\n',
  },
  {
    method: 'readuntil',
    read: (r, signal) => r.readuntil('END', { signal }),
    before: 'xxEN',
    after: 'D',
    expected: 'xxEND',
  },
  {
    method: 'readexactly',
    read: (r, signal) => r.readexactly(6, { signal }),
    before: 'abc',
    after: 'def',
    expected: 'abcdef',
  },
  {
    method: 'read(-1)',
    read: (r, signal) => r.read(-1, { signal }),
    before: 'abc',
    after: 'def',
    end: true,
    expected: 'abcdef',
  },
  {
    method: 'read(n)',
    read: (r, signal) => r.read(10, { signal }),
    before: '',
    after: 'abc',
    expected: 'abc',
  },
  {
    method: 'lines()',
    read: async (r, signal) => {
      for await (const line of r.lines({ signal })) return line;
      return Buffer.alloc(0);
    },
    before: 'ab',
    after: 'c\n',
    expected: 'abc\n',
  },
];

/** A stream connection to a node:net peer, with the peer's socket. */
async function connected(
  loop: AbstractEventLoop,
  peer: NetServer,
): Promise<StreamPair & { socket: net.Socket }> {
  const accepted = peer.nextSocket();
  const pair = await openConnection('127.0.0.1', peer.port, { loop });
  return { ...pair, socket: await within(accepted, 'accept') };
}

/** startServer's callback: closes its side once the client has sent EOF. */
async function closeAtEof(reader: StreamReader, writer: StreamWriter): Promise<void> {
  await reader.read();
  writer.close();
}

/** Writes `data` from the peer and waits until the reader holds it all. */
async function arrive(socket: net.Socket, reader: StreamReader, data: string): Promise<void> {
  const target = reader.bufferedSize + Buffer.byteLength(data);
  if (data !== '') socket.write(data);
  await until(() => reader.bufferedSize === target, `${data.length} bytes in the reader`);
}

export function cancellation(test: Test, makeLoop: MakeLoop, name: string): void {
  for (const c of readCases) {
    const title = `${c.method} aborted by waitFor and by a signal keeps its bytes for the next`;
    test(`${name}: ${title}`, (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const peer = await netServer();
        try {
          const { reader, writer, socket } = await connected(loop, peer);
          await arrive(socket, reader, c.before);
          // waitFor: TimeoutError, and the read is withdrawn before it rejects.
          const timedOut = await t.throwsAsync(waitFor((signal) => c.read(reader, signal), 0.02));
          t.true(timedOut instanceof TimeoutError);
          t.is(timedOut?.name, 'TimeoutError');
          // A signal: AbortError (Node's rule) with the signal's reason as cause.
          const controller = new AbortController();
          const pending = c.read(reader, controller.signal);
          const reason = new Error('changed my mind');
          controller.abort(reason);
          const aborted = await t.throwsAsync(pending, {
            instanceOf: CancelledError,
            name: 'AbortError',
            code: 'ABORT_ERR',
          });
          t.is(aborted?.cause, reason);
          t.is(reader.bufferedSize, Buffer.byteLength(c.before), 'nothing was consumed');
          // AbortSignal.timeout() works as is: its TimeoutError is the cause.
          const timed = await t.throwsAsync(c.read(reader, AbortSignal.timeout(20)), {
            code: 'ABORT_ERR',
          });
          t.is((timed?.cause as Error).name, 'TimeoutError');
          // The reader is usable: no ERR_CONCURRENT_READ, no byte lost.
          const next = c.read(reader);
          socket.write(c.after);
          if (c.end === true) socket.end();
          t.is((await within(next, `${c.method} after the aborts`)).toString(), c.expected);
          writer.close();
          await within(writer.waitClosed(), 'waitClosed');
        } finally {
          await peer.close();
        }
      }));
  }

  test(`${name}: drain({ signal }) rejects while the peer is not reading; no byte is lost`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const peer = await netServer();
      try {
        const { writer, socket } = await connected(loop, peer);
        socket.pause();
        const [, high] = writer.transport.getWriteBufferLimits();
        const chunk = Buffer.alloc(256 * 1024, 'd');
        let written = 0;
        // Until the transport buffers above its high-water mark (the kernel's
        // buffers are full), so drain() has to wait.
        while (writer.transport.getWriteBufferSize() <= high) {
          writer.write(chunk);
          written += chunk.length;
          await new Promise((resolve) => setImmediate(resolve));
        }
        const queued = writer.transport.getWriteBufferSize();
        const err = await t.throwsAsync(writer.drain({ signal: AbortSignal.timeout(20) }), {
          name: 'AbortError',
        });
        t.is((err?.cause as Error).name, 'TimeoutError');
        t.is(writer.transport.getWriteBufferSize(), queued, 'the abort dropped nothing');
        const drained = writer.drain();
        let received = 0;
        socket.on('data', (d: Buffer) => (received += d.length));
        socket.resume();
        // What fails is 10 s without a new byte (a stall), not a loaded
        // machine (ASan beside the worker stress) that is slow to move the
        // ~10 MB the kernel's buffers held.
        let drainSettled = false;
        const settle = (): void => {
          drainSettled = true;
        };
        drained.then(settle, settle);
        await untilStalled(
          () => drainSettled,
          () => received,
          'drain once the peer reads',
        );
        await drained;
        await untilStalled(
          () => received === written,
          () => received,
          `every byte of ${written} (drain had resolved)`,
        );
        t.is(received, written);
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: waitClosed({ signal }) of a writer and a server: rejects on abort`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await startServer(closeAtEof, '127.0.0.1', 0, { loop });
      const { writer } = await openConnection('127.0.0.1', portOf(server), { loop });
      const reason = new Error('enough');
      const aborted = AbortSignal.abort(reason);
      const writerWait = await t.throwsAsync(writer.waitClosed({ signal: aborted }), {
        name: 'AbortError',
      });
      t.is(writerWait?.cause, reason);
      server.close();
      // The server's connection is still open: waitClosed waits for it.
      const timeout = AbortSignal.timeout(20);
      const serverWait = await t.throwsAsync(server.waitClosed({ signal: timeout }), {
        code: 'ABORT_ERR',
      });
      t.is((serverWait?.cause as Error).name, 'TimeoutError');
      writer.close();
      await within(writer.waitClosed(), 'writer waitClosed');
      await within(server.waitClosed(), 'server waitClosed');
    }));

  test(`${name}: serveForever({ signal }): the abort closes the server and rejects`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await loop.createServer(() => ({}), '127.0.0.1', 0, { startServing: false });
      const port = portOf(server);
      const controller = new AbortController();
      const forever = server.serveForever({ signal: controller.signal });
      await until(() => server.isServing(), 'serving');
      controller.abort();
      const err = await t.throwsAsync(forever, { instanceOf: CancelledError });
      t.is((err?.cause as Error).name, 'AbortError', 'the default reason of abort()');
      t.false(server.isServing());
      t.deepEqual(server.sockets(), []);
      await within(server.waitClosed(), 'waitClosed');
      t.is(await connectOutcome(port), 'ECONNREFUSED', 'nothing listens on the port');
    }));

  test(`${name}: runUntilComplete({ signal }) rejects on abort; the loop stops, is usable`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const never = new Promise<void>(() => {});
      const signal = AbortSignal.timeout(20);
      const err = await t.throwsAsync(loop.runUntilComplete(never, { signal }), {
        name: 'AbortError',
      });
      t.is((err?.cause as Error).name, 'TimeoutError');
      t.false(loop.isRunning());
      t.is(await loop.runUntilComplete(async () => 'again'), 'again');
      await t.throwsAsync(loop.runUntilComplete(never, { signal: 'nope' as never }), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
      t.false(loop.isRunning());
    }));

  test(`${name}: waitFor around an exchange (asyncio.timeout): one deadline for every await`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // A peer that answers the first line only.
      const peer = await netServer((s) => s.once('data', () => s.write('pong\n')));
      try {
        const exchange = (signal: AbortSignal): Promise<string[]> =>
          (async () => {
            const opts = { loop, signal };
            const { reader, writer } = await openConnection('127.0.0.1', peer.port, opts);
            try {
              writer.write('ping\n');
              const first = (await reader.readline({ signal })).toString();
              const second = (await reader.readline({ signal })).toString();
              return [first, second];
            } finally {
              writer.close();
            }
          })();
        await t.throwsAsync(waitFor(exchange, 0.1), { instanceOf: TimeoutError });
        t.is(await waitFor(Promise.resolve('settled first'), 0), 'settled first');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: a signal that is not an AbortSignal is a usage error on every wait`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await startServer(closeAtEof, '127.0.0.1', 0, { loop });
      const { reader, writer } = await openConnection('127.0.0.1', portOf(server), { loop });
      const bad = { signal: {} as AbortSignal };
      for (const wait of [
        () => reader.read(1, bad),
        () => reader.readline(bad),
        () => reader.readexactly(1, bad),
        () => reader.readuntil('\n', bad),
        () => writer.drain(bad),
        () => writer.waitClosed(bad),
        () => server.waitClosed(bad),
        () => server.serveForever(bad),
      ]) {
        await t.throwsAsync(wait, { code: 'ERR_INVALID_ARG_TYPE' });
      }
      t.throws(() => reader.lines(bad), { code: 'ERR_INVALID_ARG_TYPE' });
      writer.close();
      await within(writer.waitClosed(), 'waitClosed');
      server.close();
      await within(server.waitClosed(), 'server waitClosed');
    }));
}
