// Cases of CPython's test_streams.py, test_server.py, test_subprocess.py
// (SubprocessMixin) and test_waitfor.py / test_timeouts.py that the other
// scenario files did not port yet, on real connections and children so
// that both loops' transports feed the streams: test_readline_limit's
// strictness, test_read_exception and test_exception_waiter for every kind
// of read (the error coming from the connection), feed_data after
// feed_eof, readexactly withdrawn mid-way, the end of async iteration,
// drain() raising the reader's exception, get_extra_info through the
// writer, test_unhandled_cancel, test_open_unix_connection(_error),
// start_unix_server with a limit, test_start_unix_server_1,
// test_close_race, a server closed while clients connect, serve_forever
// cancelled with a client connected, the stdin of a child drained under a
// large input, communicate() with a child that closes its stdin early,
// wait() beside communicate(), a child killed while a read waits,
// test_create_subprocess_exec/shell_text_mode_fails, and wait_for /
// timeout edges (a deadline of 0 on a read, nested deadlines,
// test_nested_timeouts_loop_busy, test_waiter_cancelled,
// test_nested_timeout_in_finally).
import { existsSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AbstractEventLoop,
  IncompleteReadError,
  LimitOverrunError,
  type StreamReader,
  type StreamWriter,
  TimeoutError,
  UvError,
  createSubprocessExec,
  createSubprocessShell,
  openConnection,
  openUnixConnection,
  startServer,
  startUnixServer,
  waitFor,
} from 'asyncuv';
import { netConnect, portOf, readToEnd, withConnection } from '../peers.js';
import {
  cases,
  featureCases,
  featureCasesWith,
  type MakeLoop,
  type Test,
  future,
  until,
  within,
} from '../harness.js';

/** Writes `data` from the peer and waits until the reader holds it all. */
async function arrive(peer: net.Socket, reader: StreamReader, data: string): Promise<void> {
  const target = reader.bufferedSize + Buffer.byteLength(data);
  peer.write(data);
  await until(() => reader.bufferedSize === target, `${data.length} bytes in the reader`);
}

function socketPath(): string {
  return join(tmpdir(), `asyncuv-sp-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`);
}

/** The reads test_exception_waiter / test_read_exception exercise, by name. */
const waitingReads: Array<[string, (r: StreamReader) => Promise<Buffer>]> = [
  ['read(5)', (r) => r.read(5)],
  ['read(-1)', (r) => r.read(-1)],
  ['readline()', (r) => r.readline()],
  ['readexactly(10)', (r) => r.readexactly(10)],
  ["readuntil('END')", (r) => r.readuntil('END')],
];

export function streamsPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, `${name}: streams port`);
  const itUnix = featureCasesWith(
    test,
    makeLoop,
    'unix',
    `${name}: streams port`,
    socketPath,
    (path) => rmSync(path, { force: true }),
  );
  const itSub = featureCases(test, makeLoop, 'subprocess', `${name}: streams port`);

  // --- StreamReader over a connection ---------------------------------------

  it('test_readline_limit: a line of exactly limit bytes passes, one more is an overrun that consumes the line', async ({
    loop,
  }, t) =>
    withConnection(loop, 7, async ({ reader, peer }) => {
      await arrive(peer, reader, '1234567\n');
      t.is((await reader.readline()).toString(), '1234567\n', 'the limit is not exceeded');
      await arrive(peer, reader, '12345678\n');
      await t.throwsAsync(reader.readline(), { instanceOf: LimitOverrunError });
      t.is(reader.bufferedSize, 0, 'the long line went, separator included');
      await arrive(peer, reader, '12345678');
      await t.throwsAsync(reader.readline(), { instanceOf: LimitOverrunError });
      t.is(reader.bufferedSize, 0, 'no separator: everything buffered went');
      // Fed while readline waits: the overrun is seen once the chunks come.
      const waiting = reader.readline();
      peer.write('chunk1');
      await sleep(5);
      peer.write('chunk2\nchunk3\n');
      await t.throwsAsync(within(waiting, 'readline'), { instanceOf: LimitOverrunError });
      await until(() => reader.bufferedSize === 7, 'the next line');
      t.is((await reader.readline()).toString(), 'chunk3\n', 'the line after the long one stays');
    }));

  it('readuntil with several separators over a connection (3.13 tuple): the first to end wins; EOF gives the rest', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      const seps = ['\r\n', '\n'];
      const first = reader.readuntil(seps);
      peer.write('a\r');
      await sleep(5);
      peer.write('\nb\nc');
      t.is((await within(first, 'first')).toString(), 'a\r\n');
      t.is((await within(reader.readuntil(seps), 'second')).toString(), 'b\n');
      peer.end();
      const err = await t.throwsAsync(within(reader.readuntil(seps), 'at EOF'), {
        instanceOf: IncompleteReadError,
      });
      t.is(err!.partial.toString(), 'c');
      t.true(reader.atEof());
    }));

  it('test_read_exception for read(-1): an error set while it gathers rejects it; every read, read(0) too, rejects after', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      const all = reader.read(-1);
      await arrive(peer, reader, 'chunk1\n');
      await arrive(peer, reader, 'chunk2');
      const boom = new Error('set while reading to EOF');
      reader.setException(boom);
      t.is(await t.throwsAsync(within(all, 'read(-1)')), boom);
      for (const [what, read] of waitingReads) {
        t.is(await t.throwsAsync(read(reader)), boom, what);
      }
      t.is(await t.throwsAsync(reader.read(0)), boom, 'read(0) checks the exception first');
      t.is(await t.throwsAsync(reader.readexactly(0)), boom, 'so does readexactly(0)');
    }));

  it('test_exception_waiter for each kind of read: the peer resets while it waits; it rejects with ECONNRESET', async ({
    loop,
  }, t) => {
    for (const [what, read] of waitingReads) {
      await withConnection(loop, undefined, async ({ reader, writer, peer }) => {
        // A part of what the read waits for (read(n) would take it at once).
        if (!what.startsWith('read(5')) await arrive(peer, reader, 'par');
        const waiting = read(reader);
        peer.resetAndDestroy();
        const err = await t.throwsAsync(within(waiting, what));
        t.true(err instanceof UvError, `${what}: ${String(err)}`);
        t.is((err as UvError).code, 'ECONNRESET', what);
        t.is(reader.exception(), err, `${what}: the reader keeps the error`);
        t.is(await t.throwsAsync(writer.waitClosed()), err, `${what}: waitClosed has it too`);
      });
    }
  });

  it('feed_data after feed_eof: once the peer sent EOF, feedData throws ERR_INVALID_STATE and the buffer stays', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      peer.end('tail');
      t.is((await within(reader.read(-1), 'read to EOF')).toString(), 'tail');
      t.true(reader.atEof());
      t.throws(() => reader.feedData(Buffer.from('late')), { code: 'ERR_INVALID_STATE' });
      t.is(reader.bufferedSize, 0, 'nothing was added');
      t.true(reader.atEof());
      t.is((await reader.read()).length, 0);
      t.is((await reader.readline()).length, 0);
    }));

  it('readexactly withdrawn mid-way (three pieces, then an abort): every byte stays for the next readexactly', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      const controller = new AbortController();
      const waiting = reader.readexactly(9, { signal: controller.signal });
      for (const piece of ['abc', 'def', 'gh']) await arrive(peer, reader, piece);
      controller.abort(new Error('cancelled'));
      await t.throwsAsync(within(waiting, 'the aborted read'), { name: 'AbortError' });
      t.is(reader.bufferedSize, 8, 'nothing taken');
      const next = reader.readexactly(9);
      peer.write('ijk');
      t.is((await within(next, 'readexactly')).toString(), 'abcdefghi');
      t.is((await within(reader.read(2), 'the rest')).toString(), 'jk');
    }));

  it('async iteration: a break keeps the unread lines; a reset mid-iteration throws out of for await', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      await arrive(peer, reader, 'one\ntwo\nthree\n');
      for await (const line of reader) {
        t.is(line.toString(), 'one\n');
        break;
      }
      t.is(reader.bufferedSize, 10, 'two lines left');
      const seen: string[] = [];
      const iterating = (async () => {
        for await (const line of reader) seen.push(line.toString());
      })();
      await until(() => seen.length === 2, 'the buffered lines');
      peer.resetAndDestroy();
      const err = await t.throwsAsync(within(iterating, 'the iteration'));
      t.is((err as UvError).code, 'ECONNRESET');
      t.deepEqual(seen, ['two\n', 'three\n']);
    }));

  // --- StreamWriter ------------------------------------------------------------

  it("drain() raises the reader's exception while the connection is still open", async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, writer, peer }) => {
      await within(writer.drain(), 'a drain with nothing queued');
      const boom = new Error('protocol error');
      reader.setException(boom);
      t.false(writer.isClosing());
      t.is(await t.throwsAsync(writer.drain()), boom);
      // The transport is still usable for writing: the error is the reader's.
      writer.write('still sent');
      const got = readToEnd(peer);
      writer.close();
      t.is((await within(got, 'the peer')).toString(), 'still sent');
    }));

  it('getExtraInfo through the writer: peername, sockname and socket; an unknown name gives the default; kept after close', async ({
    loop,
  }, t) => {
    let serverSide: { peer: unknown; sock: unknown } | undefined;
    const server = await startServer(
      async (reader, writer) => {
        serverSide = {
          peer: writer.getExtraInfo('peername'),
          sock: writer.getExtraInfo('sockname'),
        };
        await reader.read();
        writer.close();
      },
      '127.0.0.1',
      0,
      { loop },
    );
    const port = portOf(server);
    const { reader, writer } = await openConnection('127.0.0.1', port, { loop });
    const peername = writer.getExtraInfo('peername');
    const sockname = writer.getExtraInfo('sockname') as [string, number];
    t.deepEqual(peername, ['127.0.0.1', port]);
    t.is(sockname[0], '127.0.0.1');
    t.not(writer.getExtraInfo('socket'), undefined);
    t.is(writer.getExtraInfo('no such thing'), undefined);
    t.is(writer.getExtraInfo('no such thing', 'dflt'), 'dflt');
    await until(() => serverSide !== undefined, 'the server side');
    t.deepEqual(serverSide!.peer, sockname, "the server's peer is the client");
    t.deepEqual(serverSide!.sock, ['127.0.0.1', port]);
    writer.writeEof();
    t.is((await within(reader.read(), 'EOF')).length, 0);
    writer.close();
    await within(writer.waitClosed(), 'waitClosed');
    t.deepEqual(writer.getExtraInfo('peername'), peername, 'the names outlive the connection');
    server.close();
    await within(server.waitClosed(), 'server waitClosed');
  });

  it('test_unhandled_cancel: a client_connected callback that ends by an abort closes the connection, and nothing is reported', async ({
    loop,
  }, t) => {
    const controller = new AbortController();
    const server = await startServer(
      async (reader, writer) => {
        writer.write('x');
        await writer.drain();
        // Cancelled while it waits (asyncio: the handler task cancelled).
        setImmediate(() => controller.abort());
        await reader.readline({ signal: controller.signal });
      },
      '127.0.0.1',
      0,
      { loop },
    );
    const { reader, writer } = await openConnection('127.0.0.1', portOf(server), { loop });
    t.is((await within(reader.read(), 'to EOF')).toString(), 'x', 'then the server closed');
    writer.close();
    await within(writer.waitClosed(), 'waitClosed');
    server.close();
    await within(server.waitClosed(), 'server waitClosed');
    // The harness checks that the exception handler got nothing.
  });

  it('waitClosed() twice at once, before close: both resolve once the connection is gone', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ writer, peer }) => {
      const a = writer.waitClosed();
      const b = writer.waitClosed();
      let settled = false;
      void Promise.all([a, b]).then(() => (settled = true));
      await sleep(20);
      t.false(settled, 'nothing closed yet');
      peer.end();
      writer.close();
      await within(Promise.all([a, b]), 'both waits');
    }));

  // --- servers ---------------------------------------------------------------

  itUnix(
    'test_open_unix_connection and test_open_unix_connection_error: an HTTP-like exchange over a path; a lost connection fails the reads',
    async ({ loop }, t, path) => {
      const sockets: net.Socket[] = [];
      const httpd = net.createServer((s) => {
        sockets.push(s);
        s.on('error', () => {});
        let got = '';
        s.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.includes('\r\n\r\n'))
            s.end('HTTP/1.0 200 OK\r\nServer: test\r\n\r\nTest message');
        });
      });
      httpd.listen(path);
      await within(once(httpd, 'listening'), 'the node:net Unix server');
      try {
        const { reader, writer } = await openUnixConnection(path, { loop });
        writer.write('GET / HTTP/1.0\r\n\r\n');
        t.is((await within(reader.readline(), 'status')).toString(), 'HTTP/1.0 200 OK\r\n');
        t.true(
          (await within(reader.read(), 'the rest')).toString().endsWith('\r\n\r\nTest message'),
        );
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');

        const second = await openUnixConnection(path, { loop });
        const boom = new Error('ZeroDivisionError');
        // As the test: the protocol learns of the loss.
        second.writer.transport.getProtocol().connectionLost?.(boom);
        t.is(await t.throwsAsync(second.reader.read()), boom);
        await t.throwsAsync(second.writer.drain(), { is: boom });
        second.writer.transport.abort();
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => httpd.close(() => resolve()));
      }
    },
  );

  itUnix(
    'test_start_unix_server with limit: both ends read lines within their limit',
    async ({ loop }, t, path) => {
      const overruns: string[] = [];
      const server = await startUnixServer(
        async (reader, writer) => {
          for (;;) {
            try {
              const line = await reader.readline();
              if (line.length === 0) break;
              writer.write(line);
            } catch (err) {
              if (!(err instanceof LimitOverrunError)) throw err;
              overruns.push(err.message);
              writer.write('too long\n');
            }
          }
          writer.close();
        },
        path,
        { loop, limit: 8 },
      );
      const { reader, writer } = await openUnixConnection(path, { loop, limit: 8 });
      writer.write('short\n');
      t.is((await within(reader.readline(), 'echo')).toString(), 'short\n');
      writer.write('a line longer than eight bytes\n');
      t.is((await within(reader.readline(), 'the refusal')).toString(), 'too long\n');
      t.is(overruns.length, 1);
      writer.write('ok\n');
      t.is((await within(reader.readline(), 'echo after it')).toString(), 'ok\n');
      writer.writeEof();
      t.is((await within(reader.read(), 'EOF')).length, 0);
      writer.close();
      await within(writer.waitClosed(), 'waitClosed');
      server.close();
      await within(server.waitClosed(), 'server waitClosed');
    },
  );

  it('a server closed while clients connect: those accepted are served, waitClosed waits for them, one in flight is dropped', async ({
    loop,
  }, t) => {
    const handlers: Array<Promise<void>> = [];
    const release = future();
    const server = await startServer(
      (reader, writer) => {
        const handled = (async () => {
          await release.promise;
          writer.write((await reader.readline()).toString().toUpperCase());
          writer.close();
          await writer.waitClosed();
        })();
        handlers.push(handled);
        return handled;
      },
      '127.0.0.1',
      0,
      { loop },
    );
    const port = portOf(server);
    const clients = await Promise.all(Array.from({ length: 5 }, () => netConnect(port)));
    await until(() => handlers.length === clients.length, 'every connection accepted');
    // One more connects as the server closes: it was never accepted, so
    // the kernel refuses or resets it (asyncio: the listening socket closes).
    const inFlight = netConnect(port).then(
      async (c) => {
        c.write('hi\n');
        return (await within(readToEnd(c), 'the dropped one')).toString();
      },
      (err: NodeJS.ErrnoException) => String(err.code),
    );
    server.close();
    t.false(server.isServing());
    let closed = false;
    const waiting = server.waitClosed().then(() => (closed = true));
    await sleep(20);
    t.false(closed, 'waitClosed waits for the accepted connections');
    release.resolve();
    const answers = await Promise.all(
      clients.map(async (c) => {
        c.write('hi\n');
        return (await within(readToEnd(c), 'an answer')).toString();
      }),
    );
    t.deepEqual(
      answers,
      clients.map(() => 'HI\n'),
    );
    await within(waiting, 'waitClosed');
    await within(Promise.all(handlers), 'the handlers');
    t.true(['ECONNREFUSED', 'ECONNRESET', ''].includes(await within(inFlight, 'in flight')));
    t.is(handlers.length, clients.length, 'the one in flight reached no handler');
  });

  it('serveForever cancelled with a client connected: the server stops listening, the connection goes on, waitClosed waits for it', async ({
    loop,
  }, t) => {
    const connected = future<StreamWriter>();
    const server = await startServer(
      async (reader, writer) => {
        connected.resolve(writer);
        for await (const line of reader) writer.write(line);
        writer.close();
      },
      '127.0.0.1',
      0,
      { loop, startServing: false },
    );
    const port = portOf(server);
    const controller = new AbortController();
    const forever = server.serveForever({ signal: controller.signal });
    const { reader, writer } = await openConnection('127.0.0.1', port, { loop });
    await within(connected.promise, 'the handler');
    controller.abort();
    await t.throwsAsync(within(forever, 'serveForever'), { name: 'AbortError' });
    t.false(server.isServing());
    let closed = false;
    const waiting = server.waitClosed().then(() => (closed = true));
    writer.write('still here\n');
    t.is((await within(reader.readline(), 'echo')).toString(), 'still here\n');
    t.false(closed, 'the connection still holds the server');
    const refused = await t.throwsAsync(openConnection('127.0.0.1', port, { loop }));
    t.is((refused as UvError).code, 'ECONNREFUSED');
    writer.writeEof();
    t.is((await within(reader.read(), 'EOF')).length, 0);
    writer.close();
    await within(writer.waitClosed(), 'client waitClosed');
    await within(waiting, 'server waitClosed');
  });

  it('test_close_race: the server closes between accepting a connection and handling it; waitClosed resolves once it ends', async ({
    loop,
  }, t) => {
    const events: string[] = [];
    const lost = future<Error | null>();
    // The factory runs at an accept, after `server` is set.
    const server: Awaited<ReturnType<AbstractEventLoop['createServer']>> = await loop.createServer(
      () => {
        // The protocol factory runs at the accept; connectionMade comes later.
        server.close();
        events.push('accepted, server closed');
        return {
          connectionMade: (tr: { write(d: string): void; close(): void }) => {
            events.push('connectionMade');
            tr.write('served');
            tr.close();
          },
          connectionLost: (err: Error | null) => lost.resolve(err),
        };
      },
      '127.0.0.1',
      0,
    );
    const port = portOf(server);
    const client = await netConnect(port);
    const answer = readToEnd(client);
    t.is(await within(lost.promise, 'the connection ending'), null);
    t.is((await within(answer, 'the client')).toString(), 'served');
    t.deepEqual(events, ['accepted, server closed', 'connectionMade']);
    await within(server.waitClosed(), 'waitClosed');
    t.false(server.isServing());
    client.destroy();
  });

  itUnix(
    'test_start_unix_server_1: startServing, then serveForever cancelled by a handler; sockets() empty and serveForever refused after',
    async ({ loop }, t, path) => {
      const controller = new AbortController();
      const server = await startUnixServer(
        async (reader, writer) => {
          await reader.readline();
          controller.abort();
          writer.write('1');
          writer.close();
          await writer.waitClosed();
        },
        path,
        { loop, startServing: false },
      );
      t.false(server.isServing());
      await server.startServing();
      t.true(server.isServing());
      const forever = server.serveForever({ signal: controller.signal });
      const { reader, writer } = await openUnixConnection(path, { loop });
      writer.write(`${'1'.repeat(5 * 1024)}\n`);
      t.is((await within(reader.read(), 'the answer')).toString(), '1');
      await t.throwsAsync(within(forever, 'serveForever'), { name: 'AbortError' });
      writer.close();
      await within(writer.waitClosed(), 'client waitClosed');
      await within(server.waitClosed(), 'server waitClosed');
      t.deepEqual(server.sockets(), []);
      t.false(server.isServing());
      await t.throwsAsync(server.serveForever());
    },
  );

  // --- subprocess streams ----------------------------------------------------

  itSub(
    'stdin drained under a large input: 8 MiB through cat in 64 KiB writes, read concurrently, intact',
    async ({ loop }, t) => {
      const proc = await createSubprocessExec('cat', [], { loop, stdin: 'pipe', stdout: 'pipe' });
      const input = randomBytes(8 * 1024 * 1024);
      const output = proc.stdout!.read(-1);
      let waited = 0;
      for (let at = 0; at < input.length; at += 65536) {
        proc.stdin!.write(input.subarray(at, at + 65536));
        const size = proc.stdin!.transport.getWriteBufferSize();
        if (size > 65536) waited++;
        await within(proc.stdin!.drain(), 'drain');
        t.true(
          proc.stdin!.transport.getWriteBufferSize() <= 65536,
          'drained to the low-water mark',
        );
      }
      t.true(waited > 0, 'some drain had to wait');
      proc.stdin!.close();
      const got = await within(output, 'stdout to EOF');
      t.is(
        createHash('sha256').update(got).digest('hex'),
        createHash('sha256').update(input).digest('hex'),
      );
      t.is(await within(proc.wait(), 'wait'), 0);
    },
  );

  itSub(
    'communicate() with a child that closes its stdin early: the input is dropped, the output and exit come back',
    async ({ loop }, t) => {
      const proc = await createSubprocessExec(
        'sh',
        ['-c', 'exec 0<&-; echo closed; sleep 0.1; echo done >&2; exit 3'],
        { loop, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' },
      );
      const [out, err] = await within(
        proc.communicate(Buffer.alloc(4 * 1024 * 1024, 'x')),
        'communicate',
      );
      t.is(out!.toString(), 'closed\n');
      t.is(err!.toString(), 'done\n');
      t.is(proc.returncode, 3);
    },
  );

  itSub(
    'wait() concurrent with communicate(): both settle with the same return code',
    async ({ loop }, t) => {
      const proc = await createSubprocessExec('sh', ['-c', 'cat; exit 5'], {
        loop,
        stdin: 'pipe',
        stdout: 'pipe',
      });
      const waits = [proc.wait(), proc.wait()];
      const talk = proc.communicate('echo me');
      const [code1, code2] = await within(Promise.all(waits), 'the waits');
      const [out] = await within(talk, 'communicate');
      t.is(code1, 5);
      t.is(code2, 5);
      t.is(out!.toString(), 'echo me');
      t.is(proc.returncode, 5);
      t.is(await proc.wait(), 5, 'wait after the exit resolves at once');
    },
  );

  itSub(
    'a child killed while a read waits: the read ends at EOF with what came, returncode -SIGKILL',
    async ({ loop }, t) => {
      const proc = await createSubprocessExec('sh', ['-c', 'echo ready; exec sleep 30'], {
        loop,
        stdout: 'pipe',
      });
      t.is((await within(proc.stdout!.readline(), 'ready')).toString(), 'ready\n');
      const reading = proc.stdout!.read(-1);
      const line = proc.stdout!.readline().catch((err: Error) => err);
      proc.kill();
      t.is((await within(reading, 'read(-1)')).length, 0, 'EOF: nothing more came');
      t.is(((await line) as Error).name, 'UsageError', 'a second read while one waits is refused');
      t.is(await within(proc.wait(), 'wait'), -9);
      t.true(proc.stdout!.atEof());
    },
  );

  itSub(
    'test_create_subprocess_exec_text_mode_fails (and _shell_): text, encoding, errors, universalNewlines, bufsize are refused before the spawn',
    async ({ loop }, t) => {
      const marker = join(tmpdir(), `asyncuv-sp-text-${process.pid}-${Date.now()}`);
      const script = `touch ${marker}`;
      for (const extra of [
        { text: true },
        { encoding: 'utf-8' },
        { errors: 'strict' },
        { universalNewlines: true },
        { bufsize: 1 },
      ]) {
        const opts = { loop, stdout: 'pipe', ...extra } as Parameters<
          typeof createSubprocessExec
        >[2];
        const what = JSON.stringify(extra);
        await t.throwsAsync(
          createSubprocessExec('sh', ['-c', script], opts),
          {
            code: 'ERR_INVALID_ARG_VALUE',
          },
          `exec ${what}`,
        );
        await t.throwsAsync(
          createSubprocessShell(script, opts),
          {
            code: 'ERR_INVALID_ARG_VALUE',
          },
          `shell ${what}`,
        );
        await t.throwsAsync(
          loop.subprocessExec(() => ({}), 'sh', ['-c', script], extra as never),
          { code: 'ERR_INVALID_ARG_VALUE' },
          `loop.subprocessExec ${what}`,
        );
      }
      t.false(existsSync(marker), 'no child ran');
      // asyncio's defaults pass.
      const proc = await createSubprocessExec('true', [], {
        loop,
        ...({ text: false, encoding: null, errors: undefined } as object),
      });
      t.is(await within(proc.wait(), 'wait'), 0);
    },
  );

  // --- wait_for / timeout ------------------------------------------------------

  it('test_wait_for_timeout_less_then_0_or_0_future_done and test_timeout_zero: a read whose bytes are buffered wins a deadline of 0; one that must wait times out and loses nothing', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      // A promise settled already (asyncio: a future done) wins.
      await arrive(peer, reader, 'ready\n');
      t.is((await waitFor(reader.readline(), 0)).toString(), 'ready\n');
      // A function is an asyncio.timeout(0) block: it runs, and work that
      // settles before the deadline's callback wins.
      await arrive(peer, reader, 'ready\n');
      for (const deadline of [0, -1]) {
        // Each call takes the bytes buffered (a read with data settles at once).
        if (reader.bufferedSize === 0) await arrive(peer, reader, 'ready\n');
        const line = await waitFor((signal) => reader.readline({ signal }), deadline);
        t.is(line.toString(), 'ready\n', `deadline ${deadline}`);
      }
      const late = await t.throwsAsync(waitFor((signal) => reader.readline({ signal }), 0));
      t.true(late instanceof TimeoutError);
      await arrive(peer, reader, 'lat');
      const timedOut = await t.throwsAsync(waitFor((signal) => reader.readline({ signal }), 0));
      t.true(timedOut instanceof TimeoutError);
      t.is(reader.bufferedSize, 3, 'the partial line stays');
      peer.write('e\n');
      t.is((await within(reader.readline(), 'the line')).toString(), 'late\n');
    }));

  it('test_nested_timeouts_loop_busy, test_waiter_cancelled, test_nested_timeout_in_finally: an inner deadline caught, then the outer one interrupts a later wait; a fresh deadline works in cleanup', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      const seen: string[] = [];
      // A sleep on the loop's own timer that an abort cancels.
      const loopSleep = (sec: number, signal: AbortSignal): Promise<void> =>
        new Promise((resolve, reject) => {
          const handle = loop.callLater(sec, resolve);
          signal.addEventListener(
            'abort',
            () => {
              handle.cancel();
              reject(signal.reason as Error);
            },
            { once: true },
          );
        });
      const outer = await t.throwsAsync(
        waitFor(async (outerSignal) => {
          // (2): the inner deadline expires first and is caught.
          const inner = await waitFor(
            (s) => reader.readline({ signal: AbortSignal.any([outerSignal, s]) }),
            0.01,
          ).catch((err: Error) => err);
          seen.push(`inner ${(inner as Error).name}`);
          try {
            // (1): this wait is the outer deadline's to end.
            await loopSleep(30, outerSignal);
          } catch (err) {
            // The work sees its abort first (asyncio: CancelledError in the block).
            seen.push(`outer abort seen: ${(err as Error).name}`);
            // A fresh deadline in the cleanup still works (and ends in time).
            const cleanup = await waitFor((s) => reader.readline({ signal: s }), 0.01).catch(
              (e: Error) => e,
            );
            seen.push(`cleanup ${(cleanup as Error).name}`);
            throw err;
          }
        }, 0.2),
      );
      t.true(outer instanceof TimeoutError);
      await until(() => seen.length === 3, 'the cleanup');
      t.deepEqual(seen, [
        'inner TimeoutError',
        'outer abort seen: TimeoutError',
        'cleanup TimeoutError',
      ]);
      await arrive(peer, reader, 'after\n');
      t.is((await reader.readline()).toString(), 'after\n', 'no read took a byte');
    }));

  it('test_nested_timeouts: an outer deadline shorter than the inner ends both; the bytes stay for the next read', async ({
    loop,
  }, t) =>
    withConnection(loop, undefined, async ({ reader, peer }) => {
      let innerErr: unknown;
      const started = loop.time();
      const outer = await t.throwsAsync(
        waitFor(async (outerSignal) => {
          try {
            await waitFor(
              (innerSignal) =>
                reader.readline({ signal: AbortSignal.any([outerSignal, innerSignal]) }),
              30,
            );
          } catch (err) {
            innerErr = err;
            throw err;
          }
        }, 0.05),
      );
      t.true(outer instanceof TimeoutError, 'the outer deadline fired');
      await until(() => innerErr !== undefined, 'the inner wait ending');
      t.is((innerErr as Error).name, 'AbortError', 'the inner work was aborted, not timed out');
      t.true(((innerErr as Error).cause as Error) instanceof TimeoutError);
      t.true(loop.time() - started < 25, 'long before the inner deadline');
      await arrive(peer, reader, 'after\n');
      t.is((await reader.readline()).toString(), 'after\n');
    }));
}
