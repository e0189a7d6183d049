// The sock operations, asyncio's "working with socket objects directly"
// (test_sock_lowlevel.py: _basetest_sock_client_ops, _basetest_sock_recv_into,
// the racing cases, _basetest_huge_content(_recvinto), the recvfrom and
// sendto cases, test_unix_sock_client_ops, test_sock_accept; and
// test_selector_events.py's sock_* argument checks), over asyncuv handles:
// TCP, Pipe (Unix sockets) and UDP. Peers are node:net / node:dgram, so
// they do not depend on the loop under test. Handles live on the loop's
// own Loop on UvEventLoop, on a private Loop of the case on NodeEventLoop
// (checked for live handles and closed at the end).
import dgram from 'node:dgram';
import { once } from 'node:events';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import {
  type AbstractEventLoop,
  CancelledError,
  Loop,
  Pipe,
  SendfileNotAvailableError,
  TCP,
  UDP,
  UvError,
  UvEventLoop,
} from 'asyncuv';
import { assertNoHandlesAndClose } from '../../helpers/loop-test.js';
import { tempDir } from '../../helpers/sock-test.js';
import { quietFdCount, settledFdCount } from '../../reliability/fd-table.js';
import { cases, type MakeLoop, type Test, until, withLoop, within } from '../harness.js';
import {
  freePort,
  hasIPv6,
  HTTP_RESPONSE,
  httpLikeServer,
  netServer,
  type NetServer,
  readToEnd,
} from '../peers.js';

/**
 * Runs `body` with the Loop its handles go on: the loop's own (UvEventLoop
 * takes no other), or a fresh one (NodeEventLoop takes any), checked for
 * live handles and closed after.
 */
export async function withHandles(
  t: ExecutionContext,
  loop: AbstractEventLoop,
  body: (uvloop: Loop) => Promise<void>,
): Promise<void> {
  if (loop instanceof UvEventLoop) return body(loop.uvloop);
  const uvloop = new Loop();
  try {
    await body(uvloop);
  } finally {
    await assertNoHandlesAndClose(t, uvloop);
  }
}

/** A TCP handle connected to 127.0.0.1:`port` with sockConnect. */
export async function connected(loop: AbstractEventLoop, uvloop: Loop, port: number): Promise<TCP> {
  const sock = new TCP(uvloop);
  try {
    await within(loop.sockConnect(sock, ['127.0.0.1', port]), 'sockConnect');
  } catch (err) {
    sock.close();
    throw err;
  }
  return sock;
}

/** Every byte until EOF, with sockRecv of `n` at a time. */
export async function recvAll(
  loop: AbstractEventLoop,
  sock: TCP | Pipe,
  n = 65536,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (;;) {
    const data = await within(loop.sockRecv(sock, n), 'sockRecv');
    if (data.byteLength === 0) return Buffer.concat(chunks);
    if (data.byteLength > n) throw new Error(`sockRecv gave ${data.byteLength} bytes of ${n}`);
    chunks.push(data);
  }
}

/** A TCP handle connected to `server` with sockConnect, and the server's end. */
export async function connectedPeer(
  loop: AbstractEventLoop,
  uvloop: Loop,
  server: NetServer,
): Promise<[TCP, net.Socket]> {
  const next = server.nextSocket();
  const sock = await connected(loop, uvloop, server.port);
  return [sock, await within(next, 'the peer accepting')];
}

/** A node:net client of a TCP port or a Unix path, connected. */
async function netClient(to: number | string): Promise<net.Socket> {
  const socket = typeof to === 'number' ? net.connect(to, '127.0.0.1') : net.connect(to);
  socket.on('error', () => {});
  await within(once(socket, 'connect'), 'the node:net client connecting');
  return socket;
}

/** A datagram socket of node:dgram on 127.0.0.1 that echoes every datagram. */
async function udpEcho(): Promise<{ socket: dgram.Socket; port: number }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, from) => socket.send(msg, from.port, from.address));
  socket.bind(0, '127.0.0.1');
  await within(once(socket, 'listening'), 'the UDP echo binding');
  return { socket, port: socket.address().port };
}

/** A node:net server listening on a Unix path, its connections to `onSocket`. */
async function unixServer(path: string, onSocket: (s: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    onSocket(s);
  });
  server.listen(path);
  await within(once(server, 'listening'), 'the Unix server listening');
  return server;
}

function closeNet(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export function sockOps(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, `${name}: sock ops`);

  it('sockConnect, sockSendall and sockRecv: an HTTP-like exchange (client ops)', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const httpd = await httpLikeServer();
      try {
        const sock = await connected(loop, uvloop, httpd.port);
        await within(loop.sockSendall(sock, 'GET / HTTP/1.0\r\n\r\n'), 'sockSendall');
        const data = await recvAll(loop, sock, 1024);
        t.is(data.toString(), HTTP_RESPONSE);
        t.is((await loop.sockRecv(sock, 1024)).byteLength, 0, 'EOF again: an empty Buffer');
        sock.close();
      } finally {
        await httpd.close();
      }
    }));

  it('sockRecvInto fills the given buffer; 0 at EOF', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const httpd = await httpLikeServer();
      try {
        const sock = await connected(loop, uvloop, httpd.port);
        await loop.sockSendall(sock, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
        const buf = Buffer.alloc(1024);
        let n = 0;
        for (;;) {
          const got = await within(loop.sockRecvInto(sock, buf.subarray(n)), 'sockRecvInto');
          if (got === 0) break;
          n += got;
        }
        t.is(buf.subarray(0, n).toString(), HTTP_RESPONSE);
        sock.close();
      } finally {
        await httpd.close();
      }
    }));

  it('sockConnect resolves a host name, as createConnection does', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      // Both families where there is IPv6: 'localhost' may come as ::1 first.
      const server = await netServer((s) => s.end('hi'), hasIPv6() ? '::' : '127.0.0.1');
      try {
        const sock = new TCP(uvloop);
        await within(loop.sockConnect(sock, ['localhost', server.port]), 'sockConnect');
        t.is((await recvAll(loop, sock)).toString(), 'hi');
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('sockConnect to a port nobody listens on rejects with ECONNREFUSED', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const sock = new TCP(uvloop);
      const err = await t.throwsAsync(loop.sockConnect(sock, ['127.0.0.1', await freePort()]));
      t.true(err instanceof UvError);
      t.is((err as UvError).code, 'ECONNREFUSED');
      sock.close();
    }));

  it('a receive takes at most what it asks; the rest waits for the next one', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const payload = Buffer.alloc(200_000, 0);
      for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
      const server = await netServer((s) => s.end(payload));
      try {
        const sock = await connected(loop, uvloop, server.port);
        // 7 bytes at a time across reads of up to 64 KiB: nothing lost or reordered.
        const first = await loop.sockRecv(sock, 7);
        t.is(first.byteLength, 7);
        const rest = await recvAll(loop, sock, 7);
        t.true(Buffer.concat([first, rest]).equals(payload));
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('receives on one socket are served in call order', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const [sock, peer] = await connectedPeer(loop, uvloop, server);
        const a = loop.sockRecv(sock, 1);
        const b = loop.sockRecv(sock, 2);
        const into = Buffer.alloc(3);
        const c = loop.sockRecvInto(sock, into);
        peer.write('abcdef');
        t.is((await within(a, 'a')).toString(), 'a');
        t.is((await within(b, 'b')).toString(), 'bc');
        t.is(await within(c, 'c'), 3);
        t.is(into.toString(), 'def');
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('reading stops between calls: the peer is held back by the kernel', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const total = 16 * 1024 * 1024;
      const server = await netServer((s) => s.end(Buffer.alloc(total, 1)));
      try {
        const [sock, peer] = await connectedPeer(loop, uvloop, server);
        t.is((await within(loop.sockRecv(sock, 1), 'sockRecv')).byteLength, 1);
        // Nobody receives now: the peer's writes stop going out once the
        // kernel's buffers are full, and most of them stay queued in node:net.
        let last = -1;
        for (let still = 0; still < 10;) {
          await sleep(25);
          const queued = peer.writableLength;
          still = queued === last ? still + 1 : 0;
          last = queued;
        }
        t.true(last > 0, `the peer still holds ${last} bytes`);
        t.is((await recvAll(loop, sock)).byteLength, total - 1);
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('a large sockSendall to a slow reader: all of it, in order, at most 256 KiB queued', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const size = 8 * 1024 * 1024;
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4) data.writeUInt32LE(i, i);
      const server = await netServer();
      try {
        const [sock, peer] = await connectedPeer(loop, uvloop, server);
        let maxQueued = 0;
        const got: Buffer[] = [];
        let received = 0;
        const done = new Promise<void>((resolve) => {
          peer.on('data', (chunk: Buffer) => {
            got.push(chunk);
            received += chunk.byteLength;
            maxQueued = Math.max(maxQueued, sock.closed ? 0 : sock.writeQueueSize);
            // A slow reader: a pause after each chunk.
            peer.pause();
            setTimeout(() => peer.resume(), 1);
            if (received === size) resolve();
          });
        });
        await within(loop.sockSendall(sock, data), 'sockSendall of 8 MiB');
        await within(done, 'the peer receiving everything');
        t.true(Buffer.concat(got).equals(data));
        t.true(maxQueued <= 256 * 1024, `at most one chunk queued (saw ${maxQueued})`);
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('concurrent sockSendalls go out whole, in call order', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const [sock, peer] = await connectedPeer(loop, uvloop, server);
        const all = readToEnd(peer);
        const parts = ['a', 'b', 'c'].map((c) => Buffer.alloc(700_000, c));
        await within(Promise.all(parts.map((p) => loop.sockSendall(sock, p))), 'sockSendalls');
        sock.shutdown();
        t.true((await within(all, 'the peer reading')).equals(Buffer.concat(parts)));
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('sockAccept listens on a bound TCP handle and accepts in a loop', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const listener = new TCP(uvloop);
      listener.bind('127.0.0.1', 0);
      const { port } = listener.getsockname();
      const clients: net.Socket[] = [];
      try {
        for (let i = 0; i < 5; i++) {
          // Accepting first: it listens, and a connect before that is refused.
          const accepting = loop.sockAccept(listener);
          const client = netClient(port);
          const [conn, peer] = await within(accepting, 'sockAccept');
          const socket = await client;
          clients.push(socket);
          t.true(conn instanceof TCP);
          t.is(conn.loop, uvloop, 'a handle of the listener’s Loop');
          t.deepEqual(peer, ['127.0.0.1', socket.localPort]);
          socket.write(`hello ${i}`);
          t.is((await within(loop.sockRecv(conn, 100), 'sockRecv')).toString(), `hello ${i}`);
          await loop.sockSendall(conn, `bye ${i}`);
          conn.close();
          t.is((await within(readToEnd(socket), 'the client reading')).toString(), `bye ${i}`);
        }
      } finally {
        for (const c of clients) c.destroy();
        listener.close();
      }
    }));

  it('sockAccept: connections wait in the kernel until asked for; an abort loses none', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const listener = new TCP(uvloop);
      listener.bind('127.0.0.1', 0);
      const { port } = listener.getsockname();
      const ac = new AbortController();
      const aborted = loop.sockAccept(listener, { signal: ac.signal });
      ac.abort();
      await t.throwsAsync(aborted, { instanceOf: CancelledError, code: 'ABORT_ERR' });
      const a = await netClient(port);
      const b = await netClient(port);
      try {
        const [c1, p1] = await within(loop.sockAccept(listener), 'sockAccept');
        const [c2, p2] = await within(loop.sockAccept(listener), 'sockAccept');
        t.deepEqual(
          [p1[1], p2[1]].sort(),
          [a.localPort, b.localPort].sort(),
          'both connections accepted',
        );
        c1.close();
        c2.close();
      } finally {
        a.destroy();
        b.destroy();
        listener.close();
      }
    }));

  it('UDP: sockSendto, sockRecvfrom and sockRecvfromInto against an echo', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const echo = await udpEcho();
      const sock = new UDP(uvloop);
      try {
        sock.bind('127.0.0.1', 0);
        const data = Buffer.alloc(4096, 1);
        t.is(await loop.sockSendto(sock, data, ['127.0.0.1', echo.port]), 4096);
        const [got, from] = await within(loop.sockRecvfrom(sock, 4096), 'sockRecvfrom');
        t.true(got.equals(data));
        t.deepEqual(from, ['127.0.0.1', echo.port]);
        const buf = Buffer.alloc(8192);
        await loop.sockSendto(sock, data, ['127.0.0.1', echo.port]);
        const [n, from2] = await within(loop.sockRecvfromInto(sock, buf, 4096), 'sockRecvfromInto');
        t.is(n, 4096);
        t.true(buf.subarray(0, 4096).equals(data));
        t.deepEqual(from2, ['127.0.0.1', echo.port]);
        // What does not fit is lost, as recvfrom(2) does; the next datagram is whole.
        await loop.sockSendto(sock, 'abcdef', ['localhost', echo.port]);
        await loop.sockSendto(sock, 'ghi', ['127.0.0.1', echo.port]);
        t.is((await within(loop.sockRecvfrom(sock, 2), 'cut'))[0].toString(), 'ab');
        const small = Buffer.alloc(10);
        t.is((await within(loop.sockRecvfromInto(sock, small), 'next'))[0], 3);
        t.is(small.subarray(0, 3).toString(), 'ghi');
      } finally {
        sock.close();
        echo.socket.close();
      }
    }));

  it('UDP: an aborted sockRecvfrom loses no datagram; receives are served in order', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const echo = await udpEcho();
      const sock = new UDP(uvloop);
      try {
        sock.bind('127.0.0.1', 0);
        const ac = new AbortController();
        const first = loop.sockRecvfrom(sock, 100, { signal: ac.signal });
        const second = loop.sockRecvfrom(sock, 100);
        const third = loop.sockRecvfrom(sock, 100);
        ac.abort();
        await t.throwsAsync(first, { name: 'AbortError' });
        await loop.sockSendto(sock, 'one', ['127.0.0.1', echo.port]);
        t.is((await within(second, 'second'))[0].toString(), 'one');
        await loop.sockSendto(sock, 'two', ['127.0.0.1', echo.port]);
        t.is((await within(third, 'third'))[0].toString(), 'two');
      } finally {
        sock.close();
        echo.socket.close();
      }
    }));

  it('Unix sockets: sockConnect to a path, sockSendall, sockRecv; sockAccept on a bound Pipe', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const dir = tempDir();
      const server = await unixServer(dir.path('echo.sock'), (s) => s.pipe(s));
      try {
        const sock = new Pipe(uvloop);
        await within(loop.sockConnect(sock, dir.path('echo.sock')), 'sockConnect');
        await loop.sockSendall(sock, 'over a unix socket');
        sock.shutdown();
        t.is((await recvAll(loop, sock, 5)).toString(), 'over a unix socket');
        sock.close();

        const listener = new Pipe(uvloop);
        listener.bind(dir.path('accept.sock'));
        const accepting = loop.sockAccept(listener);
        const client = netClient(dir.path('accept.sock'));
        const [conn, peer] = await within(accepting, 'sockAccept');
        const socket = await client;
        t.true(conn instanceof Pipe);
        t.is(peer, '', 'an unnamed client');
        socket.end('from node');
        t.is((await recvAll(loop, conn)).toString(), 'from node');
        conn.close();
        listener.close();
        socket.destroy();
      } finally {
        await closeNet(server);
        dir.remove();
      }
    }));

  it('an aborted sockRecv loses no byte: the next receive gets them all', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const [sock, peer] = await connectedPeer(loop, uvloop, server);
        // Aborted while waiting (CPython's _basetest_sock_recv_racing).
        const ac = new AbortController();
        const waiting = loop.sockRecv(sock, 1024, { signal: ac.signal });
        ac.abort('enough');
        const err = await t.throwsAsync(waiting, { instanceOf: CancelledError });
        t.is(err?.cause, 'enough');
        peer.write('hello world');
        t.is((await within(loop.sockRecv(sock, 5), 'sockRecv')).toString(), 'hello');
        // A signal aborted already rejects at once, even with bytes there.
        await t.throwsAsync(loop.sockRecv(sock, 1024, { signal: AbortSignal.abort() }), {
          code: 'ABORT_ERR',
        });
        const into = Buffer.alloc(64);
        const rejected = loop.sockRecvInto(sock, into, { signal: AbortSignal.abort() });
        await t.throwsAsync(rejected, { code: 'ABORT_ERR' });
        const n = await within(loop.sockRecvInto(sock, into), 'sockRecvInto');
        t.is(into.subarray(0, n).toString(), ' world');
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('closing the handle under pending calls rejects them with ERR_HANDLE_CLOSED', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const sock = await connected(loop, uvloop, server.port);
        const recv = loop.sockRecv(sock, 10);
        const into = loop.sockRecvInto(sock, Buffer.alloc(10));
        sock.close();
        await t.throwsAsync(recv, { code: 'ERR_HANDLE_CLOSED' });
        await t.throwsAsync(into, { code: 'ERR_HANDLE_CLOSED' });
        await t.throwsAsync(loop.sockRecv(sock, 10), { code: 'ERR_HANDLE_CLOSED' });

        const listener = new TCP(uvloop);
        listener.bind('127.0.0.1', 0);
        const accept = loop.sockAccept(listener);
        listener.close();
        await t.throwsAsync(accept, { code: 'ERR_HANDLE_CLOSED' });

        const udp = new UDP(uvloop);
        udp.bind('127.0.0.1', 0);
        const recvfrom = loop.sockRecvfrom(udp, 10);
        udp.close();
        await t.throwsAsync(recvfrom, { code: 'ERR_HANDLE_CLOSED' });

        // A sendall the peer does not take: the close fails it too.
        const [full, peer] = await connectedPeer(loop, uvloop, server);
        peer.pause();
        const sending = loop.sockSendall(full, Buffer.alloc(32 * 1024 * 1024));
        await sleep(10);
        full.close();
        await t.throwsAsync(sending, { code: 'ERR_HANDLE_CLOSED' });
      } finally {
        await server.close();
      }
    }));

  it('closing the loop rejects pending calls with ERR_LOOP_CLOSED; the handle stays the caller’s', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const sock = await connected(loop, uvloop, server.port);
        const recv = loop.sockRecv(sock, 10);
        loop.close();
        await t.throwsAsync(recv, { code: 'ERR_LOOP_CLOSED' });
        await t.throwsAsync(loop.sockRecv(sock, 10), { code: 'ERR_LOOP_CLOSED' });
        t.false(sock.closed);
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('sockSendfile sends a file (from an offset, a count) through a socket', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const dir = tempDir();
      const content = Buffer.alloc(600_000);
      for (let i = 0; i < content.length; i++) content[i] = (i * 7) % 256;
      writeFileSync(dir.path('file'), content);
      const fd = openSync(dir.path('file'), 'r');
      const server = await netServer();
      try {
        const [sock, peer] = await connectedPeer(loop, uvloop, server);
        const all = readToEnd(peer);
        t.is(await within(loop.sockSendfile(sock, fd), 'sockSendfile'), content.length);
        t.is(await within(loop.sockSendfile(sock, fd, 1000, 5000), 'sockSendfile'), 5000);
        await t.throwsAsync(loop.sockSendfile(sock, fd, 0, null, { fallback: false }), {
          instanceOf: SendfileNotAvailableError,
        });
        await t.throwsAsync(loop.sockSendfile(sock, fd, -1), { code: 'ERR_OUT_OF_RANGE' });
        await t.throwsAsync(loop.sockSendfile(sock, -1), { code: 'ERR_INVALID_ARG_VALUE' });
        sock.shutdown();
        const got = await within(all, 'the peer reading');
        t.true(got.equals(Buffer.concat([content, content.subarray(1000, 6000)])));
        sock.close();
      } finally {
        closeSync(fd);
        await server.close();
        dir.remove();
      }
    }));

  it('bad arguments: typed UsageErrors, and the handle stays usable', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer((s) => s.end('still works'));
      try {
        const sock = await connected(loop, uvloop, server.port);
        const udp = new UDP(uvloop);
        const type = { code: 'ERR_INVALID_ARG_TYPE' };
        const range = { code: 'ERR_OUT_OF_RANGE' };
        const bad = <T>(v: unknown): T => v as T;
        // Not a handle, or the wrong kind.
        await t.throwsAsync(loop.sockRecv(bad({}), 1), type);
        await t.throwsAsync(loop.sockRecv(bad(udp), 1), type);
        await t.throwsAsync(loop.sockSendall(bad(udp), 'x'), type);
        await t.throwsAsync(loop.sockRecvfrom(bad(sock), 1), type);
        await t.throwsAsync(loop.sockSendto(bad(sock), 'x', ['127.0.0.1', 9]), type);
        await t.throwsAsync(loop.sockAccept(bad(udp)), type);
        await t.throwsAsync(loop.sockConnect(bad(null), ['127.0.0.1', 1]), type);
        // The other arguments.
        await t.throwsAsync(loop.sockRecv(sock, -1), range);
        await t.throwsAsync(loop.sockRecv(sock, 1.5), range);
        await t.throwsAsync(loop.sockRecv(sock, bad('1')), type);
        await t.throwsAsync(loop.sockRecvInto(sock, bad([1, 2])), type);
        await t.throwsAsync(loop.sockSendall(sock, bad(42)), type);
        await t.throwsAsync(loop.sockConnect(sock, bad('127.0.0.1')), type);
        await t.throwsAsync(loop.sockConnect(sock, bad(['127.0.0.1', 70000])), range);
        await t.throwsAsync(loop.sockSendto(udp, 'x', bad(['127.0.0.1'])), type);
        await t.throwsAsync(loop.sockRecvfromInto(udp, Buffer.alloc(4), 5), range);
        await t.throwsAsync(loop.sockRecvfrom(udp, -1), range);
        await t.throwsAsync(loop.sockRecv(sock, 1, bad({ signal: 'no' })), type);
        await t.throwsAsync(loop.sockRecv(sock, 1, bad(7)), type);
        // A handle reading with a callback of the caller's.
        sock.readStart(() => {});
        await t.throwsAsync(loop.sockRecv(sock, 1), { code: 'ERR_INVALID_STATE' });
        sock.readStop();
        // An IPC pipe, and one not bound for sockAccept.
        const ipc = new Pipe(uvloop, true);
        await t.throwsAsync(loop.sockRecv(ipc, 1), { code: 'ERR_INVALID_ARG_VALUE' });
        ipc.close();
        const unbound = new TCP(uvloop);
        await t.throwsAsync(loop.sockAccept(unbound), { code: 'ERR_INVALID_ARG_VALUE' });
        unbound.close();
        // A closed handle.
        const closed = new TCP(uvloop);
        closed.close();
        await t.throwsAsync(loop.sockRecv(closed, 1), { code: 'ERR_HANDLE_CLOSED' });
        await t.throwsAsync(loop.sockConnect(closed, ['127.0.0.1', 1]), {
          code: 'ERR_HANDLE_CLOSED',
        });
        // Nothing was taken: the socket reads on.
        t.is((await recvAll(loop, sock)).toString(), 'still works');
        sock.close();
        udp.close();
      } finally {
        await server.close();
      }
    }));

  it('bytes read beyond a sockRecv go to the transport the handle is given to next', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const [sock, peer] = await connectedPeer(loop, uvloop, server);
        peer.write('hello world');
        // One read brings all of it; the receive takes two bytes.
        t.is((await within(loop.sockRecv(sock, 2), 'sockRecv')).toString(), 'he');
        const got: Buffer[] = [];
        const [transport] = await loop.createConnection(
          () => ({ dataReceived: (data: Buffer) => void got.push(Buffer.from(data)) }),
          null,
          null,
          { sock },
        );
        peer.write('!');
        await until(() => Buffer.concat(got).length >= 10, 'the transport reading');
        t.is(Buffer.concat(got).toString(), 'llo world!');
        transport.close();
      } finally {
        await server.close();
      }
    }));

  it('a handle a transport uses is refused', async ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const sock = await connected(loop, uvloop, server.port);
        const [transport] = await loop.createConnection(() => ({}), null, null, { sock });
        // UvEventLoop's transport reads the handle itself; NodeEventLoop's
        // took a duplicate of its fd and closed it.
        const expected = loop instanceof UvEventLoop ? 'ERR_INVALID_STATE' : 'ERR_HANDLE_CLOSED';
        await t.throwsAsync(loop.sockRecv(sock, 1), { code: expected });
        await t.throwsAsync(loop.sockSendall(sock, 'x'), { code: expected });
        transport.pauseReading();
        await t.throwsAsync(loop.sockRecv(sock, 1), { code: expected }, 'also while paused');
        const own = transport.getExtraInfo('socket');
        if (own instanceof TCP) {
          await t.throwsAsync(loop.sockRecv(own, 1), { code: 'ERR_INVALID_STATE' });
        }
        transport.close();
      } finally {
        await server.close();
      }
    }));

  it('a handle of another Loop: UvEventLoop refuses it, NodeEventLoop takes it', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async () => {
      const other = new Loop();
      const server = await netServer((s) => s.end('ok'));
      try {
        const sock = new TCP(other);
        if (loop instanceof UvEventLoop) {
          await t.throwsAsync(loop.sockConnect(sock, ['127.0.0.1', server.port]), {
            code: 'ERR_INVALID_ARG_VALUE',
          });
        } else {
          await within(loop.sockConnect(sock, ['127.0.0.1', server.port]), 'sockConnect');
          t.is((await recvAll(loop, sock)).toString(), 'ok');
        }
        sock.close();
      } finally {
        await server.close();
        await assertNoHandlesAndClose(t, other);
      }
    }));

  it('closing the handle’s Loop under a pending receive rejects it with ERR_HANDLE_CLOSED', async ({
    loop,
  }, t) => {
    // The Loop's close() closes its handles without their close(): the
    // pending call hears of it all the same. On UvEventLoop that Loop is
    // the event loop's own, so a Loop of a second UvEventLoop stands in.
    const other = new Loop();
    const owner = loop instanceof UvEventLoop ? new UvEventLoop(other) : loop;
    const server = await netServer();
    try {
      const sock = await connected(owner, other, server.port);
      const recv = owner.sockRecv(sock, 10);
      other.close();
      await t.throwsAsync(within(recv, 'the rejection'), { code: 'ERR_HANDLE_CLOSED' });
      t.true(sock.closed);
    } finally {
      if (owner !== loop) owner.close();
      other.close();
      await server.close();
    }
  });

  test.serial(`${name}: sock ops: no fd left behind over 50 cycles`, (t) =>
    withLoop(t, makeLoop, ({ loop }) =>
      withHandles(t, loop, async (uvloop) => {
        const server = await netServer((s) => s.pipe(s));
        const echo = await udpEcho();
        try {
          let before = 0;
          // Cycle 0 warms up (lazily made fds); the count is taken after it.
          for (let i = 0; i <= 50; i++) {
            if (i === 1) before = await quietFdCount();
            const sock = await connected(loop, uvloop, server.port);
            await loop.sockSendall(sock, 'ping');
            t.is((await within(loop.sockRecv(sock, 4), 'echo')).toString(), 'ping');
            const listener = new TCP(uvloop);
            listener.bind('127.0.0.1', 0);
            const accepting = loop.sockAccept(listener);
            const client = netClient(listener.getsockname().port);
            const [conn] = await within(accepting, 'sockAccept');
            (await client).destroy();
            const udp = new UDP(uvloop);
            await loop.sockSendto(udp, 'u', ['127.0.0.1', echo.port]);
            await within(loop.sockRecvfrom(udp, 10), 'recvfrom');
            const pending = loop.sockRecv(conn, 10);
            conn.close();
            await t.throwsAsync(pending, { code: 'ERR_HANDLE_CLOSED' });
            for (const h of [sock, listener, udp]) h.close();
          }
          t.is(await settledFdCount(before), before, 'the fd count is back where it was');
        } finally {
          await server.close();
          echo.socket.close();
        }
      }),
    ),
  );
}
