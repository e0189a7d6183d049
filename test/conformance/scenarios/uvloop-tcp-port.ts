// Cases of uvloop's tests/test_tcp.py (the part without TLS; the TLS part
// is in tls-port.ts) that the other scenario files did not cover, each
// titled with the Python test it ports. uvloop runs them on uvloop and on
// asyncio's own loop; here they run on UvEventLoop and NodeEventLoop.
// Where the Python case checks a Python object (a socket's fileno() of
// -1, a weakref), the port checks what that stands for here (the handle
// is closed; the server still serves).
//
// Already covered elsewhere: test_create_server_2 (our API has no
// "neither host nor sock": a null host serves every interface,
// tcp-server.ts), _4 (EADDRINUSE: tcp-server.ts, events-port.ts), _5
// (tcp-server.ts: no host), _6 (tcp-server.ts: reusePort), _8 and
// test_create_connection_6 (tls-arguments.ts), _10 (streams-port.ts:
// serveForever cancelled), test_create_connection_2 (tcp-connection.ts:
// refused), _4 (connection-sock.test.ts: a closed sock), _5
// (tcp-connection.ts: an aborted signal), test_tcp_handle_exception_in_
// connection_made (connection-made-errors.ts), test_create_server_
// buffered_2 (flow-control.ts, sock-port.ts), test_tcp_handle_abort_in_
// connection_made (transport-lifecycle.ts), test_connect_accepted_socket
// and _ssl_args (accepted-socket.test.ts, tls-shutdown.ts),
// test_create_connection_wrong_sock and test_create_server_wrong_sock
// (connection-sock.test.ts, server-sock.test.ts), test_flowcontrol_mixin_
// set_write_limits (flow-control.ts). Not portable: test_create_server_7
// (the server object's garbage collection), test_create_server_stream_
// bittype (Python's socket type flags).
import { Buffer } from 'node:buffer';
import net from 'node:net';
import {
  type AbstractEventLoop,
  type BufferedProtocol,
  IncompleteReadError,
  openConnection,
  type Protocol,
  type StreamReader,
  type StreamWriter,
  startServer,
  TCP,
  type Transport,
  UsageError,
} from 'asyncuv';
import { MyProto } from '../protocols.js';
import { netServer } from '../peers.js';
import {
  cases,
  type CaseBody,
  future,
  type MakeLoop,
  type Test,
  until,
  within,
} from '../harness.js';
import { withHandles } from './sock-ops.js';

/** `n` bytes the peer sends, read with sockRecv of `chunk` at a time. */
async function recvExactly(
  loop: AbstractEventLoop,
  sock: TCP,
  n: number,
  chunk = n,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const part = await loop.sockRecv(sock, Math.min(chunk, n - got));
    if (part.length === 0) break;
    parts.push(part);
    got += part.length;
  }
  return Buffer.concat(parts);
}

/**
 * uvloop's tcp_server: a node:net server whose every connection reads
 * 'AAAA', answers 'OK', reads 'BBBB', answers 'SPAM' (or, with `closeAfter4`,
 * reads 4 bytes and closes).
 */
function okSpamServer(closeAfter4 = false): ReturnType<typeof netServer> {
  return netServer((socket) => {
    let got = Buffer.alloc(0);
    let stage = 0;
    socket.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (stage === 0 && got.length >= 4) {
        got = got.subarray(4);
        stage = 1;
        if (closeAfter4) socket.end();
        else socket.write('OK');
      }
      if (stage === 1 && !closeAfter4 && got.length >= 4) {
        stage = 2;
        socket.end('SPAM');
      }
    });
  });
}

/** The AAAA/OK/BBBB/SPAM exchange of test_create_connection_open_con_*. */
async function okSpamClient(
  t: import('ava').ExecutionContext,
  reader: StreamReader,
  writer: StreamWriter,
): Promise<void> {
  writer.write('AAAA');
  t.is((await reader.readexactly(2)).toString(), 'OK');
  writer.write('BBBB');
  t.is((await reader.readexactly(4)).toString(), 'SPAM');
  writer.close();
  await writer.waitClosed();
}

export function uvloopTcpPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it: (title: string, body: CaseBody) => void = cases(test, makeLoop, `${name}: uvloop tcp`);

  it('test_create_server_1: 25 clients of 1 MiB each way through startServer, by hosts and by sock', ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const A = Buffer.alloc(1024 * 1024, 'A');
      const B = Buffer.alloc(1024 * 1024, 'B');
      const TOTAL = 25;
      let served = 0;
      const handleClient = async (reader: StreamReader, writer: StreamWriter): Promise<void> => {
        t.true((await reader.readexactly(A.length)).equals(A));
        writer.write('OK');
        t.true((await reader.readexactly(B.length)).equals(B));
        writer.writelines(['S', Buffer.from('P')]);
        writer.write(new Uint8Array([0x41]));
        writer.write(Buffer.from('M'));
        await writer.drain();
        writer.close();
        served++;
      };
      const client = async (port: number): Promise<void> => {
        const sock = new TCP(uvloop);
        try {
          await loop.sockConnect(sock, ['127.0.0.1', port]);
          await loop.sockSendall(sock, A);
          t.is((await recvExactly(loop, sock, 2, 1)).toString(), 'OK');
          await loop.sockSendall(sock, B);
          t.is((await recvExactly(loop, sock, 4, 1)).toString(), 'SPAM');
        } finally {
          sock.close();
        }
        t.true(sock.closed);
      };
      const run = async (
        server: import('asyncuv').Server<import('asyncuv').SocketAddress>,
      ): Promise<void> => {
        served = 0;
        const sockets = server.sockets();
        t.true(sockets.length > 0);
        t.true(server.isServing());
        const { port } = sockets[0]!;
        await within(
          Promise.all(Array.from({ length: TOTAL }, () => client(port))),
          'every client',
          60000,
        );
        loop.callSoon(() => server.close());
        await within(server.waitClosed(), 'waitClosed');
        t.deepEqual(server.sockets(), [], 'the listening sockets are gone');
        t.false(server.isServing());
        t.is(served, TOTAL);
      };
      // Two names of one address, family 4: served once (asyncio's set of addresses).
      await run(
        await startServer(handleClient, ['127.0.0.1', 'localhost'], 0, { loop, family: 4 }),
      );
      const sock = new TCP(uvloop);
      sock.bind('127.0.0.1', 0);
      const server = await startServer(handleClient, null, 0, { loop, sock });
      t.is(server.getLoop(), loop);
      await run(server);
      t.true(sock.closed, 'the server closed the socket it was given');
    }));

  it('test_create_server_3: port 0 or null takes an ephemeral port; the server cleans up', async ({
    loop,
  }, t) => {
    // null: asyncio's port None.
    for (const port of [0, '0', null]) {
      const server = await loop.createServer(() => ({}), '127.0.0.1', port, { family: 4 });
      const sockets = server.sockets();
      t.true(server.isServing());
      t.not(sockets[0]!.port, 0);
      loop.callSoon(() => server.close());
      await within(server.waitClosed(), 'waitClosed');
      t.deepEqual(server.sockets(), []);
      t.false(server.isServing());
    }
  });

  it('test_create_server_9: startServing() twice is harmless; close ends serving', async ({
    loop,
  }, t) => {
    const server = await startServer(async () => {}, '127.0.0.1', 0, {
      loop,
      family: 4,
      startServing: false,
    });
    t.false(server.isServing());
    await server.startServing();
    t.true(server.isServing());
    await server.startServing();
    t.true(server.isServing());
    server.close();
    await within(server.waitClosed(), 'waitClosed');
    t.false(server.isServing());
  });

  it('test_create_connection_open_con_addr: 100 openConnection clients; a write of no bytes type is refused', async ({
    loop,
  }, t) => {
    const server = await okSpamServer();
    try {
      let done = 0;
      const client = async (): Promise<void> => {
        const { reader, writer } = await openConnection('127.0.0.1', server.port, { loop });
        writer.write('AAAA');
        t.is((await reader.readexactly(2)).toString(), 'OK');
        t.throws(() => writer.write(1234 as never), { instanceOf: UsageError });
        writer.write('BBBB');
        t.is((await reader.readexactly(4)).toString(), 'SPAM');
        writer.close();
        await writer.waitClosed();
        done++;
      };
      await within(Promise.all(Array.from({ length: 100 }, client)), 'every client', 60000);
      t.is(done, 100);
    } finally {
      await server.close();
    }
  });

  it('test_create_connection_open_con_sock: 100 openConnection clients over connected TCP handles', ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await okSpamServer();
      try {
        const client = async (): Promise<void> => {
          const sock = new TCP(uvloop);
          try {
            await loop.sockConnect(sock, ['127.0.0.1', server.port]);
          } catch (err) {
            sock.close();
            throw err;
          }
          const { reader, writer } = await openConnection(null, null, { loop, sock });
          await okSpamClient(t, reader, writer);
          t.true(sock.closed, 'the transport closed the handle it owned');
        };
        await within(Promise.all(Array.from({ length: 100 }, client)), 'every client', 60000);
      } finally {
        await server.close();
      }
    }));

  it('test_create_connection_3: 100 clients whose server closes after 4 bytes: readexactly(10) is an IncompleteReadError', async ({
    loop,
  }, t) => {
    const server = await okSpamServer(true);
    try {
      const client = async (): Promise<void> => {
        const { reader, writer } = await openConnection('127.0.0.1', server.port, { loop });
        writer.write('AAAA');
        const err = await t.throwsAsync(reader.readexactly(10), {
          instanceOf: IncompleteReadError,
        });
        t.is(err!.partial.length, 0);
        t.is(err!.expected, 10);
        writer.close();
        await writer.waitClosed();
      };
      await within(Promise.all(Array.from({ length: 100 }, client)), 'every client', 60000);
    } finally {
      await server.close();
    }
  });

  it('test_transport_shutdown: 100 clients; the server writes, writeEof() twice, drains and closes', async ({
    loop,
  }, t) => {
    let served = 0;
    const server = await startServer(
      async (reader, writer) => {
        t.is((await reader.readexactly(4)).toString(), 'AAAA');
        writer.write('OK');
        writer.writeEof();
        writer.writeEof();
        await writer.drain();
        writer.close();
        served++;
      },
      '127.0.0.1',
      0,
      { loop, family: 4 },
    );
    t.true(server.sockets().length > 0);
    const { port } = server.sockets()[0]!;
    const client = async (): Promise<void> => {
      const { reader, writer } = await openConnection('127.0.0.1', port, { loop });
      writer.write('AAAA');
      t.is((await reader.readexactly(2)).toString(), 'OK');
      // The server's EOF follows its bytes.
      t.is((await reader.read()).length, 0);
      writer.close();
      await writer.waitClosed();
    };
    await within(Promise.all(Array.from({ length: 100 }, client)), 'every client', 60000);
    server.close();
    await within(server.waitClosed(), 'waitClosed');
    t.is(served, 100);
  });

  it('test_resume_writing_write_different_transport: resumeWriting writes to another transport', async ({
    loop,
  }, t) => {
    // t2 <-> t1 over one TCP connection; t1's protocol writes to t2 from
    // resumeWriting, which comes from t1's write completing.
    let t2: Transport | undefined;
    const waiter = future<Buffer>();
    const server = await loop.createServer(
      () => ({
        connectionMade: (tr: Transport) => (t2 = tr),
      }),
      '127.0.0.1',
      0,
      { family: 4 },
    );
    const { port } = server.sockets()[0]!;
    let paused = false;
    const p1: Protocol = {
      dataReceived: (d) => waiter.resolve(d),
      pauseWriting: () => (paused = true),
      resumeWriting: () => {
        paused = false;
        t2!.write('hello');
      },
    };
    const [t1] = await loop.createConnection(() => p1, '127.0.0.1', port);
    await until(() => t2 !== undefined, 'the server side');
    try {
      t1.setWriteBufferLimits({ high: 1024, low: 1023 });
      // Fill the connection: t2 does not read.
      t2!.pauseReading();
      const chunk = Buffer.alloc(1024, ' ');
      while (!paused) {
        t1.write(chunk);
        if (t1.getWriteBufferSize() === 0) await new Promise((r) => setImmediate(r));
      }
      t2!.resumeReading();
      while (paused) {
        t1.write(' ');
        await new Promise((r) => setImmediate(r));
      }
      t.is((await within(waiter.promise, 'hello from t2')).toString(), 'hello');
    } finally {
      t1.close();
      t2!.close();
      server.close();
      await within(server.waitClosed(), 'waitClosed');
    }
  });

  it('test_create_connection_sock_cancel_detaches and _fd_leak: an aborted createConnection(sock) closes the handle once; a later connection on its fd is untouched', ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const sock = new TCP(uvloop);
        await loop.sockConnect(sock, ['127.0.0.1', server.port]);
        // Its peer first, so that nextSocket() below is the victim's.
        await until(() => server.sockets.length === 1, 'the first peer');
        const ac = new AbortController();
        const made = loop.createConnection(() => new MyProto(null), null, null, {
          sock,
          signal: ac.signal,
        });
        ac.abort();
        await t.throwsAsync(within(made, 'createConnection'));
        await until(() => sock.closed, 'the handle closed');
        // A victim connection, likely on the fd number the handle had.
        const next = server.nextSocket();
        const [victim, proto] = await loop.createConnection(
          () => new MyProto(null),
          '127.0.0.1',
          server.port,
        );
        const peer = await within(next, 'accept');
        // Closing the stale handle again touches nothing (asyncio: the
        // socket object was detached, its fd -1).
        t.notThrows(() => {
          if (!sock.closed) sock.close();
        });
        victim.write('not leaked');
        const got = await within(
          new Promise<string>((resolve) => peer.once('data', (d: Buffer) => resolve(d.toString()))),
          'the victim’s bytes',
        );
        t.is(got, 'not leaked');
        victim.close();
        await within(proto.done, 'connectionLost');
        t.is(proto.lostWith, null);
      } finally {
        await server.close();
      }
    }));

  it('test_create_server_buffered_1: a BufferedProtocol with a 50-byte buffer gets 123123 bytes, then EOF', async ({
    loop,
  }, t) => {
    const SIZE = 123123;
    let eof = false;
    const lost = future<Error | null>();
    let received = 0;
    let allA = true;
    class Proto implements BufferedProtocol {
      tr: Transport | undefined;
      buf = Buffer.alloc(50);
      connectionMade(tr: Transport): void {
        this.tr = tr;
      }
      getBuffer(): Uint8Array {
        return this.buf;
      }
      bufferUpdated(nbytes: number): void {
        for (let i = 0; i < nbytes; i++) if (this.buf[i] !== 0x61) allA = false;
        received += nbytes;
        if (received === SIZE) this.tr!.write('hello');
      }
      eofReceived(): void {
        eof = true;
      }
      connectionLost(err: Error | null): void {
        lost.resolve(err);
      }
    }
    const server = await loop.createServer(() => new Proto(), '127.0.0.1', 0);
    const { port } = server.sockets()[0]!;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(Buffer.alloc(SIZE, 'a'));
    const hello = await within(
      new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString()))),
      'hello',
    );
    t.is(hello, 'hello');
    socket.end();
    t.is(await within(lost.promise, 'connectionLost'), null);
    socket.destroy();
    server.close();
    await within(server.waitClosed(), 'waitClosed');
    t.true(eof);
    t.true(allA);
    t.is(received, SIZE);
  });

  it('test_transport_get_extra_info: protocol switch, reading state, the socket and its fd, abort, names after close', async ({
    loop,
  }, t) => {
    const serverDone = future();
    const server = await startServer(
      async (reader, writer) => {
        await t.throwsAsync(reader.readexactly(4), { instanceOf: IncompleteReadError });
        writer.close();
        serverDone.resolve();
      },
      '127.0.0.1',
      0,
      { loop, family: 4 },
    );
    const { port } = server.sockets()[0]!;
    const p: Protocol = {};
    const [tr] = await loop.createConnection(() => p, '127.0.0.1', port);
    const p2: Protocol = {};
    t.is(tr.getProtocol(), p);
    tr.setProtocol(p2);
    t.is(tr.getProtocol(), p2);
    tr.setProtocol(p);
    t.true(tr.isReading());
    tr.pauseReading();
    tr.pauseReading();
    t.false(tr.isReading());
    tr.resumeReading();
    tr.resumeReading();
    t.true(tr.isReading());
    const socket = tr.getExtraInfo('socket');
    t.truthy(socket);
    t.is(tr.getExtraInfo('socket'), socket, 'the same object each time');
    const sockname = tr.getExtraInfo('sockname');
    const peername = tr.getExtraInfo('peername');
    t.deepEqual(peername, ['127.0.0.1', port]);
    // The transport's fd cannot be watched too (asyncio: "is used by transport").
    const fd =
      socket instanceof TCP
        ? socket.fileno()
        : (socket as unknown as { _handle: { fd: number } })._handle.fd;
    t.true(fd > 2);
    const refused = { instanceOf: UsageError, code: 'ERR_INVALID_STATE' } as const;
    t.throws(() => loop.addWriter(fd, () => {}), refused);
    t.throws(() => loop.removeWriter(fd), refused);
    t.throws(() => loop.addReader(fd, () => {}), refused);
    t.throws(() => loop.removeReader(fd), refused);
    t.deepEqual(loop.liveResources(), { server: 1, transport: 2 });
    tr.write('OK'); // fewer than the 4 bytes the server wants
    t.false(tr.isClosing());
    tr.abort();
    t.true(tr.isClosing());
    t.false(tr.isReading());
    // Harmless once closed.
    tr.pauseReading();
    tr.resumeReading();
    await within(serverDone.promise, 'the server side');
    t.deepEqual(tr.getExtraInfo('peername'), peername);
    t.deepEqual(tr.getExtraInfo('sockname'), sockname);
    server.close();
    await within(server.waitClosed(), 'waitClosed');
  });

  it('test_create_server_float_backlog: a backlog that is not an integer is a usage error', async ({
    loop,
  }, t) => {
    for (const backlog of [1.1, '1']) {
      await t.throwsAsync(
        loop.createServer(() => ({}), null, 0, { backlog: backlog as never }),
        { instanceOf: UsageError },
      );
    }
    t.deepEqual(loop.liveResources(), {});
  });

  it('test_many_small_writes: runs of writes with and without drain arrive whole', async ({
    loop,
  }, t) => {
    const N = 300;
    const DATA = Buffer.alloc(102400, 'x');
    let total = 0;
    const serverDone = future();
    const server = await startServer(
      async (reader, writer) => {
        for (;;) {
          const d = await reader.read(10000);
          if (d.length === 0) break;
          total += d.length;
        }
        serverDone.resolve();
        writer.close();
      },
      '127.0.0.1',
      0,
      { loop, family: 4 },
    );
    const { port } = server.sockets()[0]!;
    const { writer } = await openConnection('127.0.0.1', port, { loop });
    writer.write(DATA);
    await writer.drain();
    for (let i = 0; i < 3; i++) writer.write(DATA);
    await writer.drain();
    for (let i = 0; i < 10; i++) writer.write(DATA);
    await writer.drain();
    let refusals = 0;
    for (let i = 0; i < N; i++) {
      writer.write(DATA);
      try {
        writer.write({} as never);
      } catch (err) {
        if (err instanceof UsageError) refusals++;
      }
    }
    await writer.drain();
    for (let i = 0; i < N; i++) {
      writer.write(DATA);
      await writer.drain();
    }
    writer.close();
    await within(serverDone.promise, 'the server read everything', 60000);
    await within(writer.waitClosed(), 'waitClosed');
    server.close();
    await within(server.waitClosed(), 'server waitClosed');
    t.is(refusals, N);
    t.is(total, N * 2 * DATA.length + 14 * DATA.length);
  });
}
