// Cases of uvloop's tests/test_unix.py (the part without TLS) that the
// other scenario files did not cover, each titled with the Python test it
// ports, on UvEventLoop and NodeEventLoop (uvloop runs them on uvloop and
// on asyncio's loop).
//
// Already covered elsewhere: test_create_unix_server_2 (a file that is not
// a socket: unix-paths.ts), _3 and test_create_unix_connection_6
// (tls-arguments.ts), test_create_unix_server_existing_path_sock (a stale
// socket file: unix-paths.ts), test_create_unix_connection_2 (ENOENT:
// unix.ts), _4 (a closed sock: connection-sock.test.ts),
// test_create_unix_server_path_dgram (another kind of handle as sock:
// unix-server-sock.test.ts). Not portable: test_create_unix_connection_
// pathlib and test_create_unix_server_pathlib (pathlib objects; paths
// are strings here), test_create_unix_server_path_stream_bittype
// (Python's socket type flags); start_server(sock=) of a Unix socket
// (createServer takes a TCP handle only).
import { Buffer } from 'node:buffer';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AbstractEventLoop,
  type BufferedProtocol,
  IncompleteReadError,
  openUnixConnection,
  Pipe,
  type Protocol,
  startUnixServer,
  type StreamReader,
  type StreamWriter,
  type Transport,
  UsageError,
  UvError,
} from 'asyncuv';
import { MyProto } from '../protocols.js';
import { featureCasesWith, future, type MakeLoop, type Test, until, within } from '../harness.js';
import { withHandles } from './sock-ops.js';

/** A fresh directory for a case's socket files; removed with all in it. */
function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'asyncuv-uvloop-unix-'));
}

/** `n` bytes, read with sockRecv of `chunk` at a time. */
async function recvExactly(
  loop: AbstractEventLoop,
  sock: Pipe,
  n: number,
  chunk: number,
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
 * uvloop's unix_server: a node:net server at `path` whose every connection
 * reads 'AAAA', answers 'OK', reads 'BBBB', answers 'SPAM' (or, with
 * `closeAfter4`, reads 4 bytes and closes).
 */
async function okSpamServer(path: string, closeAfter4 = false): Promise<() => Promise<void>> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
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
  await new Promise<void>((resolve) => server.listen({ path, backlog: 100 }, resolve));
  return async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

export function uvloopUnixPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCasesWith(test, makeLoop, 'unix', `${name}: uvloop unix`, tempDir, (dir) =>
    rmSync(dir, { recursive: true, force: true }),
  );

  it('test_create_unix_server_1: 100 clients through startUnixServer, by path and by sock; the file goes with the server', ({
    loop,
  }, t, dir) =>
    withHandles(t, loop, async (uvloop) => {
      const TOTAL = 100;
      let served = 0;
      const handleClient = async (reader: StreamReader, writer: StreamWriter): Promise<void> => {
        t.is((await reader.readexactly(4)).toString(), 'AAAA');
        writer.write('OK');
        t.is((await reader.readexactly(4)).toString(), 'BBBB');
        writer.write('SPAM');
        await writer.drain();
        writer.close();
        await writer.waitClosed();
        served++;
      };
      const client = async (path: string): Promise<void> => {
        const sock = new Pipe(uvloop);
        try {
          await loop.sockConnect(sock, path);
          await loop.sockSendall(sock, 'AAAA');
          t.is((await recvExactly(loop, sock, 2, 1)).toString(), 'OK');
          await loop.sockSendall(sock, 'BBBB');
          t.is((await recvExactly(loop, sock, 4, 1)).toString(), 'SPAM');
        } finally {
          sock.close();
        }
      };
      const run = async (
        server: import('asyncuv').Server<import('asyncuv').UnixServerAddress>,
        path: string,
      ): Promise<void> => {
        served = 0;
        t.deepEqual(server.sockets(), [{ path }]);
        t.true(server.isServing());
        await within(
          Promise.all(Array.from({ length: TOTAL }, () => client(path))),
          'every client',
          60000,
        );
        loop.callSoon(() => server.close());
        await within(server.waitClosed(), 'waitClosed');
        t.deepEqual(server.sockets(), []);
        t.false(server.isServing());
        t.is(served, TOTAL);
        // asyncio 3.13 (cleanup_socket): the socket file goes with the server.
        t.false(existsSync(path), 'the socket file is removed');
      };
      const byPath = join(dir, 'sock');
      await run(await startUnixServer(handleClient, byPath, { loop }), byPath);
      const bySock = join(dir, 'sock2');
      const sock = new Pipe(uvloop);
      sock.bind(bySock);
      await run(await startUnixServer(handleClient, null, { loop, sock }), bySock);
    }));

  it('test_create_unix_connection_open_unix_con_addr and _con_sock: 100 openUnixConnection clients, by path and over connected Pipes', ({
    loop,
  }, t, dir) =>
    withHandles(t, loop, async (uvloop) => {
      const path = join(dir, 'sock');
      const close = await okSpamServer(path);
      try {
        const exchange = async (reader: StreamReader, writer: StreamWriter): Promise<void> => {
          writer.write('AAAA');
          t.is((await reader.readexactly(2)).toString(), 'OK');
          writer.write('BBBB');
          t.is((await reader.readexactly(4)).toString(), 'SPAM');
          writer.close();
          await writer.waitClosed();
        };
        const byPath = async (): Promise<void> => {
          const { reader, writer } = await openUnixConnection(path, { loop });
          await exchange(reader, writer);
        };
        const bySock = async (): Promise<void> => {
          const sock = new Pipe(uvloop);
          try {
            await loop.sockConnect(sock, path);
          } catch (err) {
            sock.close();
            throw err;
          }
          const { reader, writer } = await openUnixConnection(null, { loop, sock });
          await exchange(reader, writer);
          t.true(sock.closed, 'the transport closed the Pipe it owned');
        };
        await within(Promise.all(Array.from({ length: 100 }, byPath)), 'clients by path', 60000);
        await within(Promise.all(Array.from({ length: 100 }, bySock)), 'clients by sock', 60000);
      } finally {
        await close();
      }
    }));

  it('test_create_unix_connection_3: 100 clients whose server closes after 4 bytes: IncompleteReadError; the socket is a Unix one', async ({
    loop,
  }, t, dir) => {
    const path = join(dir, 'sock');
    const close = await okSpamServer(path, true);
    try {
      const client = async (): Promise<void> => {
        const { reader, writer } = await openUnixConnection(path, { loop });
        const socket = writer.getExtraInfo('socket');
        t.true(socket instanceof Pipe || socket instanceof net.Socket, String(socket));
        t.is(writer.getExtraInfo('peername'), path);
        writer.write('AAAA');
        const err = await t.throwsAsync(reader.readexactly(10), {
          instanceOf: IncompleteReadError,
        });
        t.is(err!.partial.length, 0);
        writer.close();
        await writer.waitClosed();
      };
      await within(Promise.all(Array.from({ length: 100 }, client)), 'every client', 60000);
    } finally {
      await close();
    }
  });

  it('test_create_unix_connection_5: writes after the peer is gone end the connection once, with EPIPE or ECONNRESET', async ({
    loop,
  }, t, dir) => {
    const path = join(dir, 'sock');
    const accepted = future<net.Socket>();
    const server = net.createServer((s) => {
      s.on('error', () => {});
      accepted.resolve(s);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const errors: Array<Error | null> = [];
      const lost = future();
      const proto: Protocol = {
        connectionLost: (err) => {
          errors.push(err);
          lost.resolve();
        },
      };
      const [tr] = await loop.createUnixConnection(() => proto, path);
      const peer = await within(accepted.promise, 'accept');
      tr.write('AAAAA');
      peer.destroy();
      await new Promise<void>((resolve) => peer.once('close', () => resolve()));
      tr.write('AAAAA');
      // Writes go on until the kernel says the peer is gone.
      for (let i = 0; i < 100000 && errors.length === 0 && !tr.isClosing(); i++) {
        tr.write('AAAAA');
        await new Promise((r) => setImmediate(r));
      }
      await within(lost.promise, 'connectionLost');
      t.is(errors.length, 1);
      const err = errors[0];
      t.true(err instanceof UvError, String(err));
      t.true(['EPIPE', 'ECONNRESET'].includes((err as UvError).code), String(err));
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('test_create_unix_connection_sock_cancel_detaches and _fd_leak: an aborted createUnixConnection(sock) closes the Pipe once; the next connection is untouched', ({
    loop,
  }, t, dir) =>
    withHandles(t, loop, async (uvloop) => {
      const path = join(dir, 'sock');
      const accepted: net.Socket[] = [];
      const nextPeer: Array<(s: net.Socket) => void> = [];
      const server = net.createServer((s) => {
        s.on('error', () => {});
        accepted.push(s);
        nextPeer.shift()?.(s);
      });
      await new Promise<void>((resolve) => server.listen(path, resolve));
      try {
        const sock = new Pipe(uvloop);
        await loop.sockConnect(sock, path);
        // Its peer first, so that peerOf below is the victim's.
        await until(() => accepted.length === 1, 'the first peer');
        const ac = new AbortController();
        const made = loop.createUnixConnection(() => new MyProto(null), null, {
          sock,
          signal: ac.signal,
        });
        ac.abort();
        await t.throwsAsync(within(made, 'createUnixConnection'));
        await until(() => sock.closed, 'the Pipe closed');
        const peerOf = new Promise<net.Socket>((resolve) => nextPeer.push(resolve));
        const victimSock = new Pipe(uvloop);
        await loop.sockConnect(victimSock, path);
        const [victim, proto] = await loop.createUnixConnection(() => new MyProto(null), null, {
          sock: victimSock,
        });
        const peer = await within(peerOf, 'accept');
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
      } finally {
        for (const s of accepted) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }));

  it('test_transport_fromsock_get_extra_info: the socket of a transport over a Pipe is one object; its fd cannot be watched', ({
    loop,
  }, t, dir) =>
    withHandles(t, loop, async (uvloop) => {
      const path = join(dir, 'sock');
      const close = await okSpamServer(path);
      try {
        const sock = new Pipe(uvloop);
        await loop.sockConnect(sock, path);
        const [tr] = await loop.createUnixConnection(() => ({}), null, { sock });
        const socket = tr.getExtraInfo('socket');
        t.truthy(socket);
        t.is(tr.getExtraInfo('socket'), socket);
        const fd =
          socket instanceof Pipe
            ? socket.fileno()
            : (socket as unknown as { _handle: { fd: number } })._handle.fd;
        const refused = { instanceOf: UsageError, code: 'ERR_INVALID_STATE' } as const;
        t.throws(() => loop.addWriter(fd, () => {}), refused);
        t.throws(() => loop.removeWriter(fd), refused);
        tr.close();
        await until(() => Object.keys(loop.liveResources()).length === 0, 'the transport gone');
      } finally {
        await close();
      }
    }));

  it('test_epollhup: a client sends 51 bytes into a 50-byte BufferedProtocol and closes at once: all of it, EOF, connectionLost(null)', async ({
    loop,
  }, t, dir) => {
    const SIZE = 50;
    let eof = false;
    const lost = future<Error | null>();
    const recvd: Buffer[] = [];
    class Proto implements BufferedProtocol {
      buf = Buffer.alloc(SIZE);
      connectionMade(tr: Transport): void {
        tr.write('hello');
      }
      getBuffer(): Uint8Array {
        return this.buf;
      }
      bufferUpdated(nbytes: number): void {
        recvd.push(Buffer.from(this.buf.subarray(0, nbytes)));
      }
      eofReceived(): void {
        eof = true;
      }
      connectionLost(err: Error | null): void {
        lost.resolve(err);
      }
    }
    const path = join(dir, 'sock');
    const server = await loop.createUnixServer(() => new Proto(), path);
    const socket = net.connect(path);
    socket.on('error', () => {});
    const hello = await within(
      new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString()))),
      'hello',
    );
    t.is(hello, 'hello');
    // Overflow the protocol's buffer and close at once.
    socket.end(Buffer.alloc(SIZE + 1, 'a'));
    t.is(await within(lost.promise, 'connectionLost'), null);
    socket.destroy();
    server.close();
    await within(server.waitClosed(), 'waitClosed');
    t.true(eof);
    t.deepEqual(Buffer.concat(recvd), Buffer.alloc(SIZE + 1, 'a'));
  });
}
