import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createSocket } from 'node:dgram';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Loop, Pipe, Process, TCP, Timer, UDP, UvError, UsageError } from '../../handles/index.js';
import { withPrograms } from '../helpers/tools.js';
import { assertNoHandlesAndClose, until } from '../helpers/loop-test.js';

function tmpPath(tag: string): string {
  return join(
    tmpdir(),
    `asyncuv-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`,
  );
}

function closeAll(...handles: Array<{ close(cb?: () => void): void }>): Promise<void> {
  return Promise.all(handles.map((h) => new Promise<void>((resolve) => h.close(resolve)))).then(
    () => {},
  );
}

function connect(pipe: Pipe, path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    pipe.connect(path, (err) => (err ? reject(err) : resolve())),
  );
}

/** Reads until `n` bytes or EOF; resolves with the bytes and whether EOF came. */
function readBytes(stream: Pipe | TCP, n = Infinity): Promise<{ data: Buffer; eof: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.readStart((err, data) => {
      if (err) return reject(err);
      if (data === null) {
        stream.readStop();
        return resolve({ data: Buffer.concat(chunks), eof: true });
      }
      chunks.push(data);
      size += data.length;
      if (size >= n) {
        stream.readStop();
        resolve({ data: Buffer.concat(chunks), eof: false });
      }
    });
  });
}

/** A listening pipe whose connections echo back what they read, then close at EOF. */
function echoServer(loop: Loop, name: string): { server: Pipe; accepted: Pipe[] } {
  const server = new Pipe(loop);
  const accepted: Pipe[] = [];
  server.bind(name);
  server.listen(16, (err) => {
    if (err) throw err;
    const conn = new Pipe(loop);
    server.accept(conn);
    accepted.push(conn);
    conn.readStart((rerr, data) => {
      if (rerr || data === null) conn.close();
      else conn.write(data);
    });
  });
  return { server, accepted };
}

async function echoRoundTrip(t: ExecutionContext, loop: Loop, name: string): Promise<void> {
  const { server } = echoServer(loop, name);
  t.is(server.getsockname(), name);
  const client = new Pipe(loop);
  await connect(client, name);
  t.is(client.getpeername(), name);
  const message = Buffer.from('hello over a unix socket');
  client.write(message);
  const { data } = await readBytes(client, message.length);
  t.deepEqual(data, message);
  await closeAll(client, server);
}

test('echo over a Unix socket path, and the socket file is removed on close', async (t) => {
  const loop = new Loop();
  const path = tmpPath('echo');
  await echoRoundTrip(t, loop, path);
  t.false(existsSync(path));
  await assertNoHandlesAndClose(t, loop);
});

test('echo over an abstract socket name', async (t) => {
  const loop = new Loop();
  const name = `\0asyncuv-abstract-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await echoRoundTrip(t, loop, name);
  await assertNoHandlesAndClose(t, loop);
});

// Abstract names are addressed with their exact length, as the kernel, Python
// and socat do (libuv 1.46 alone pads them; pipe_wrap.cc explains).
withPrograms(test, ['python3'])(
  'abstract names interoperate with other programs (python3)',
  async (t) => {
    const loop = new Loop();
    const ours = `\0asyncuv-py-in-${process.pid}`;
    const theirs = `\0asyncuv-py-out-${process.pid}`;
    const server = new Pipe(loop);
    server.bind(ours);
    const got = new Promise<Buffer>((resolve) =>
      server.listen(1, () => {
        const conn = new Pipe(loop);
        server.accept(conn);
        readBytes(conn).then(({ data }) => conn.close(() => resolve(data)));
      }),
    );
    const script = [
      'import socket, sys',
      'c = socket.socket(socket.AF_UNIX); c.connect("\\0" + sys.argv[1]); c.sendall(b"from python"); c.close()',
      's = socket.socket(socket.AF_UNIX); s.bind("\\0" + sys.argv[2]); s.listen(1); print("ready", flush=True)',
      'a, _ = s.accept(); a.sendall(b"python serves"); a.close()',
    ].join('\n');
    // Names go without their NUL: argv strings cannot hold one.
    const py = spawn('python3', ['-c', script, ours.slice(1), theirs.slice(1)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.is((await got).toString(), 'from python');
    await new Promise((resolve) => py.stdout.once('data', resolve));
    const client = new Pipe(loop);
    await connect(client, theirs);
    t.deepEqual(await readBytes(client), { data: Buffer.from('python serves'), eof: true });
    await new Promise((resolve) => py.once('exit', resolve));
    await closeAll(client, server);
    await assertNoHandlesAndClose(t, loop);
  },
);

test('an IPC pipe cannot listen; an abstract name has no file to chmod; an unnamed peer is ""', async (t) => {
  const loop = new Loop();
  // libuv refuses listen() on an IPC pipe: EINVAL, the handle still usable.
  const ipc = new Pipe(loop, true);
  ipc.bind(tmpPath('ipc-listen'));
  const refused = t.throws(() => ipc.listen(1, () => {}), { instanceOf: UvError });
  t.is(refused?.code, 'EINVAL');
  t.is(refused?.syscall, 'listen');

  const name = `\0asyncuv-names-${process.pid}`;
  const { server, accepted } = echoServer(loop, name);
  const chmod = t.throws(() => server.chmod('rw'), { instanceOf: UvError });
  t.is(chmod?.code, 'ENOENT');
  const client = new Pipe(loop);
  await connect(client, name);
  t.is(client.getpeername(), name);
  t.is(client.getsockname(), '', 'a client that did not bind has no name');
  await until(() => accepted.length === 1, 'the accepted connection');
  t.is(accepted[0]!.getpeername(), '', 'so its peer is unnamed');
  t.is(accepted[0]!.getsockname(), name);
  await closeAll(client, server, ipc);
  await assertNoHandlesAndClose(t, loop);
});

test('connecting to an abstract name completes at once, its callback later; a full backlog is EAGAIN in the callback', async (t) => {
  const loop = new Loop();
  const name = `\0asyncuv-backlog-${process.pid}`;
  const server = new Pipe(loop);
  server.bind(name);
  // Nobody accepts: the kernel queues backlog + 1 connections, then refuses.
  server.listen(1, () => {});
  const results: Array<string | null> = [];
  const clients: Pipe[] = [];
  let inside = true;
  for (let i = 0; i < 8; i++) {
    const client = new Pipe(loop);
    clients.push(client);
    client.connect(name, (err) => results.push(inside ? 'inside connect()' : (err?.code ?? null)));
  }
  inside = false;
  t.deepEqual(results, [], 'no callback inside connect()');
  await until(() => results.length === 8, 'eight connect callbacks');
  const ok = results.filter((r) => r === null).length;
  t.true(ok >= 1 && ok < 8, `${ok} connected`);
  t.deepEqual(results.slice(ok), Array<string>(8 - ok).fill('EAGAIN'), results.join(','));
  await closeAll(server, ...clients);
  await assertNoHandlesAndClose(t, loop);
});

test('shutdown sends EOF and the other direction stays open (half-close)', async (t) => {
  const loop = new Loop();
  const path = tmpPath('half');
  const server = new Pipe(loop);
  server.bind(path);
  const serverSaw = new Promise<{ data: Buffer; eof: boolean }>((resolve) => {
    server.listen(4, () => {
      const conn = new Pipe(loop);
      server.accept(conn);
      readBytes(conn).then((result) => {
        // The client can no longer write, but it still reads our reply.
        conn.write(`got ${result.data.length} bytes`, () => conn.close());
        resolve(result);
      });
    });
  });
  const client = new Pipe(loop);
  await connect(client, path);
  client.write('abc');
  const shutdownErr = await new Promise((resolve) => client.shutdown(resolve));
  t.is(shutdownErr, null);
  t.false(client.writable);
  t.true(client.readable);
  const seen = await serverSaw;
  t.deepEqual(seen, { data: Buffer.from('abc'), eof: true });
  const reply = await readBytes(client);
  t.deepEqual(reply, { data: Buffer.from('got 3 bytes'), eof: true });
  await closeAll(client, server);
  await assertNoHandlesAndClose(t, loop);
});

test('connect to a missing path is ENOENT, to a socket nobody listens on ECONNREFUSED', async (t) => {
  const loop = new Loop();
  const missing = new Pipe(loop);
  const err1 = await new Promise<UvError | null>((resolve) =>
    missing.connect(tmpPath('missing'), resolve),
  );
  t.true(err1 instanceof UvError);
  t.is(err1?.code, 'ENOENT');
  t.is(err1?.syscall, 'connect');

  const path = tmpPath('refused');
  const bound = new Pipe(loop);
  bound.bind(path); // bound, never listening
  const refused = new Pipe(loop);
  const err2 = await new Promise<UvError | null>((resolve) => refused.connect(path, resolve));
  t.is(err2?.code, 'ECONNREFUSED');
  t.true(err2!.message.includes(JSON.stringify(path)), 'the message names the path');
  // One connect at a time: a second one while the first is pending is
  // EALREADY (libuv would drop the first and never finish it).
  const twice = new Pipe(loop);
  const first = new Promise<UvError | null>((resolve) => twice.connect(path, resolve));
  t.is(
    (t.throws(() => twice.connect(path, () => t.fail()), { instanceOf: UvError }) as UvError).code,
    'EALREADY',
  );
  t.is((await first)?.code, 'ECONNREFUSED');
  await closeAll(missing, bound, refused, twice);
  await assertNoHandlesAndClose(t, loop);
});

test('binding a path twice is EADDRINUSE', async (t) => {
  const loop = new Loop();
  const path = tmpPath('inuse');
  const first = new Pipe(loop);
  first.bind(path);
  first.listen(1, () => {});
  const second = new Pipe(loop);
  const err = t.throws(() => second.bind(path), { instanceOf: UvError });
  t.is((err as UvError).code, 'EADDRINUSE');
  t.is((err as UvError).syscall, 'bind');
  await closeAll(first, second);
  await assertNoHandlesAndClose(t, loop);
});

test('chmod sets the socket file to readable and/or writable by everyone, nothing else', async (t) => {
  const loop = new Loop();
  const path = tmpPath('chmod');
  const server = new Pipe(loop);
  server.bind(path);
  server.chmod('r');
  t.is(statSync(path).mode & 0o777, 0o444);
  server.chmod('rw');
  t.is(statSync(path).mode & 0o777, 0o666);
  server.chmod('w');
  t.is(statSync(path).mode & 0o777, 0o222);
  t.throws(() => server.chmod('x' as 'r'), { code: 'ERR_INVALID_ARG_VALUE' });
  const unbound = new Pipe(loop);
  t.throws(() => unbound.chmod('r'), { instanceOf: UvError });
  await closeAll(server, unbound);
  await assertNoHandlesAndClose(t, loop);
});

test('close with pending writes runs each write callback once with ECANCELED', async (t) => {
  const loop = new Loop();
  const path = tmpPath('cancel');
  const server = new Pipe(loop);
  server.bind(path);
  let peer: Pipe | undefined;
  server.listen(1, () => {
    peer = new Pipe(loop);
    server.accept(peer); // never reads: the client's writes back up
  });
  const client = new Pipe(loop);
  await connect(client, path);
  const chunk = Buffer.alloc(1 << 20, 0x61);
  const results: Array<string | null> = [];
  for (let i = 0; i < 8; i++) client.write(chunk, (err) => results.push(err ? err.code : null));
  t.true(client.writeQueueSize > 0);
  const queued = results.length;
  await closeAll(client);
  await sleep(20);
  const cancelled = results.slice(queued);
  t.true(cancelled.length > 0);
  t.is(results.length, 8); // each callback exactly once
  t.true(cancelled.every((code) => code === 'ECANCELED'));
  await closeAll(server, peer!);
  await assertNoHandlesAndClose(t, loop);
});

test('misuse and bad input are typed errors, never crashes', async (t) => {
  const loop = new Loop();
  t.throws(() => new Pipe(loop, 'yes' as unknown as boolean), { code: 'ERR_INVALID_ARG_TYPE' });
  const pipe = new Pipe(loop);
  t.throws(() => pipe.bind(''), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => pipe.bind('a\0b'), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => pipe.bind(42 as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' });
  // Longer than sun_path: refused rather than truncated to another name.
  const long = t.throws(() => pipe.bind(join(tmpdir(), 'x'.repeat(200))), { instanceOf: UvError });
  t.is((long as UvError).code, 'EINVAL');
  // Exactly sun_path's 108 bytes leaves no room for the NUL: refused too.
  const exact = `/tmp/${'y'.repeat(103)}`;
  t.is(exact.length, 108);
  t.is((t.throws(() => pipe.bind(exact), { instanceOf: UvError }) as UvError).code, 'EINVAL');
  t.is(
    (t.throws(() => new Pipe(loop).connect(exact, () => {}), { instanceOf: UvError }) as UvError)
      .code,
    'EINVAL',
  );
  t.throws(() => pipe.open(-1), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => pipe.open(999_999), { instanceOf: UvError });
  t.throws(() => pipe.connect('/tmp/x', undefined as unknown as () => void), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.throws(() => pipe.getsockname(), { instanceOf: UvError, message: /EBADF/ }); // no socket yet
  t.is(pipe.pendingCount(), 0);
  t.is(pipe.pendingType(), null);
  const tcp = new TCP(loop);
  // Only IPC pipes carry handles.
  t.throws(() => pipe.write('x', undefined, tcp), { code: 'ERR_INVALID_ARG_VALUE' });
  const ipc = new Pipe(loop, true);
  t.true(ipc.ipc);
  t.false(pipe.ipc);
  t.throws(() => ipc.write('', undefined, tcp), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => ipc.write('x', undefined, {} as TCP), { code: 'ERR_INVALID_ARG_TYPE' });
  // A handle that is not a stream or UDP socket, and one already closed.
  const timer = new Timer(loop);
  t.throws(() => ipc.write('x', undefined, timer as never), { code: 'ERR_INVALID_ARG_TYPE' });
  timer.close();
  const closedTcp = new TCP(loop);
  closedTcp.close();
  t.throws(() => ipc.write('x', undefined, closedTcp), {
    instanceOf: UsageError,
    code: 'ERR_HANDLE_CLOSED',
  });
  t.is(ipc.writeQueueSize, 0, 'the refused writes queued nothing');
  // Nothing is pending on an unconnected IPC pipe: accept says EAGAIN.
  t.throws(() => ipc.accept(new Pipe(loop)), { instanceOf: UvError, message: /EAGAIN/ });
  pipe.close();
  t.throws(() => pipe.bind('/tmp/y'), { instanceOf: UsageError, code: 'ERR_HANDLE_CLOSED' });
  pipe.close(); // twice is a no-op
  for (const h of loop.handles()) h.close();
  await assertNoHandlesAndClose(t, loop);
});

// libuv accepts any fd in uv_pipe_open/uv_tcp_open and aborts the process
// once epoll refuses to watch it; these fds must be refused up front.
test('open(fd) makes the fd non-blocking', async (t) => {
  const loop = new Loop();
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-pipe-nb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  // O_RDWR: a FIFO opened both ways opens at once, and blocking.
  const fd = openSync(path, constants.O_RDWR);
  const nonBlocking = (): boolean => {
    const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
    return (parseInt(flags, 8) & constants.O_NONBLOCK) !== 0;
  };
  t.false(nonBlocking());
  const pipe = new Pipe(loop);
  pipe.open(fd);
  t.true(nonBlocking());
  await closeAll(pipe); // the Pipe owns the fd and closes it
  await assertNoHandlesAndClose(t, loop);
});

test('open() refuses fds epoll cannot watch (files, /dev/null) instead of aborting later', async (t) => {
  const loop = new Loop();
  for (const path of ['/etc/hostname', '/dev/null']) {
    const fd = openSync(path, 'r');
    const pipe = new Pipe(loop);
    t.is((t.throws(() => pipe.open(fd), { instanceOf: UvError }) as UvError).code, 'EINVAL');
    const tcp = new TCP(loop);
    t.is((t.throws(() => tcp.open(fd), { instanceOf: UvError }) as UvError).code, 'ENOTSOCK');
    closeSync(fd);
    await closeAll(pipe, tcp);
  }
  const closed = openSync('/dev/null', 'r');
  closeSync(closed);
  const pipe = new Pipe(loop);
  t.is((t.throws(() => pipe.open(closed), { instanceOf: UvError }) as UvError).code, 'EBADF');
  await closeAll(pipe);
  await assertNoHandlesAndClose(t, loop);
});

/** An IPC pipe pair across two loops, through a listening Unix socket. */
async function ipcPair(loopA: Loop, loopB: Loop): Promise<{ a: Pipe; b: Pipe; server: Pipe }> {
  const path = tmpPath('ipc');
  const server = new Pipe(loopA);
  server.bind(path);
  const a = new Pipe(loopA, true);
  const accepted = new Promise<void>((resolve) =>
    server.listen(1, () => {
      server.accept(a);
      resolve();
    }),
  );
  const b = new Pipe(loopB, true);
  await connect(b, path);
  await accepted;
  return { a, b, server };
}

/** Accepts the handle that arrives with the next bytes on `ipc`. */
function receiveHandle<H extends TCP | Pipe>(
  ipc: Pipe,
  make: () => H,
): Promise<{ handle: H; type: string | null; data: string }> {
  return new Promise((resolve, reject) => {
    ipc.readStart((err, data) => {
      if (err || data === null) return reject(err ?? new Error('EOF before a handle arrived'));
      ipc.readStop();
      const type = ipc.pendingType();
      const handle = make();
      ipc.accept(handle);
      resolve({ handle, type, data: data.toString() });
    });
  });
}

function netRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(request));
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (reply += d));
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
  });
}

test('passes an accepted TCP connection from one loop to another over an IPC pipe', async (t) => {
  const loopA = new Loop();
  const loopB = new Loop();
  const { a, b, server } = await ipcPair(loopA, loopB);
  const tcpServer = new TCP(loopA);
  tcpServer.bind('127.0.0.1', 0);
  const port = tcpServer.getsockname().port;
  tcpServer.listen(4, () => {
    const conn = new TCP(loopA);
    tcpServer.accept(conn);
    // Loop A hands the connection over and forgets it.
    a.write(
      'tcp',
      (err) => {
        t.is(err, null);
        conn.close();
      },
      conn,
    );
  });
  const served = receiveHandle(b, () => new TCP(loopB)).then(({ handle, type, data }) => {
    t.is(type, 'tcp');
    t.is(data, 'tcp');
    t.is(handle.loop, loopB);
    handle.readStart((err, chunk) => {
      if (err || chunk === null) return;
      handle.write(`loop B got ${chunk.toString()}`, () => handle.close());
    });
  });
  const reply = await netRequest(port, 'ping');
  await served;
  t.is(reply, 'loop B got ping');
  await closeAll(a, b, server, tcpServer);
  await assertNoHandlesAndClose(t, loopA, loopB);
});

test('passes a connected Pipe between loops and both ends keep working', async (t) => {
  const loopA = new Loop();
  const loopB = new Loop();
  const { a, b, server } = await ipcPair(loopA, loopB);
  // A second connection, on loop A, whose client end goes to loop B.
  const path = tmpPath('passed');
  const { server: echo } = echoServer(loopA, path);
  const client = new Pipe(loopA);
  await connect(client, path);
  const received = receiveHandle(b, () => new Pipe(loopB));
  a.write('pipe', () => client.close(), client);
  const { handle, type } = await received;
  t.is(type, 'pipe');
  t.is(handle.getpeername(), path);
  handle.write('through a passed pipe');
  const { data } = await readBytes(handle, 21);
  t.is(data.toString(), 'through a passed pipe');
  await closeAll(handle, echo, a, b, server);
  await assertNoHandlesAndClose(t, loopA, loopB);
});

test('passes a bound UDP socket from one loop to another over an IPC pipe', async (t) => {
  const loopA = new Loop();
  const loopB = new Loop();
  const { a, b, server } = await ipcPair(loopA, loopB);
  const udp = new UDP(loopA);
  udp.bind('127.0.0.1', 0);
  const { port } = udp.getsockname();
  a.write('udp', () => udp.close(), udp);
  const { handle, type } = await new Promise<{ handle: UDP; type: string | null }>(
    (resolve, reject) => {
      b.readStart((err, data) => {
        if (err || data === null) return reject(err ?? new Error('EOF'));
        b.readStop();
        const pending = b.pendingType();
        const received = new UDP(loopB);
        b.accept(received);
        resolve({ handle: received, type: pending });
      });
    },
  );
  t.is(type, 'udp');
  t.is(handle.getsockname().port, port);
  const datagram = new Promise<string>((resolve) =>
    handle.recvStart((err, data) => resolve(err ? err.code : data!.toString())),
  );
  const sender = createSocket('udp4');
  sender.send('to loop B', port, '127.0.0.1');
  t.is(await datagram, 'to loop B');
  sender.close();
  await closeAll(handle, a, b, server);
  await assertNoHandlesAndClose(t, loopA, loopB);
});

// A listening socket that came through IPC (or open()) is marked readable
// and writable by libuv, which aborts in uv__server_io if it is shut down:
// asyncuv refuses reads, writes and shutdown on it first.
test('a listening socket received over IPC refuses reads, writes and shutdown (ENOTCONN)', async (t) => {
  const loopA = new Loop();
  const loopB = new Loop();
  const { a, b, server } = await ipcPair(loopA, loopB);
  const tcp = new TCP(loopA);
  tcp.bind('127.0.0.1', 0);
  const received = receiveHandle(b, () => new TCP(loopB));
  a.write('srv', () => tcp.close(), tcp);
  const { handle } = await received;
  handle.listen(4, () => {});
  for (const call of [
    () => handle.shutdown(),
    () => handle.write('x'),
    () => handle.readStart(() => {}),
  ]) {
    t.is((t.throws(call, { instanceOf: UvError }) as UvError).code, 'ENOTCONN');
  }
  t.notThrows(() => handle.listen(8, () => {})); // listening again only changes the backlog
  await sleep(20);
  await closeAll(handle, a, b, server);
  await assertNoHandlesAndClose(t, loopA, loopB);
});

test('several handles sent back to back are all accepted, in order', async (t) => {
  const loopA = new Loop();
  const loopB = new Loop();
  const { a, b, server } = await ipcPair(loopA, loopB);
  const sent = [0, 1, 2].map(() => {
    const tcp = new TCP(loopA);
    tcp.bind('127.0.0.1', 0);
    return tcp;
  });
  const ports = sent.map((tcp) => tcp.getsockname().port);
  for (const tcp of sent) a.write('x', () => tcp.close(), tcp);
  const received: TCP[] = [];
  await new Promise<void>((resolve, reject) => {
    b.readStart((err, data) => {
      if (err || data === null) return reject(err ?? new Error('EOF'));
      // One read may carry several handles: accept while any is pending.
      while (b.pendingCount() > 0) {
        t.is(b.pendingType(), 'tcp');
        const tcp = new TCP(loopB);
        b.accept(tcp);
        received.push(tcp);
      }
      if (received.length === 3) resolve();
    });
  });
  t.deepEqual(
    received.map((tcp) => tcp.getsockname().port),
    ports,
  );
  await closeAll(a, b, server, ...received);
  await assertNoHandlesAndClose(t, loopA, loopB);
});

test('a handle closed before its queued IPC write goes out fails that write with EBADF', async (t) => {
  const loop = new Loop();
  const { a, b, server } = await ipcPair(loop, loop);
  // b does not read yet, so these back up and the handle write waits in line.
  const filler = Buffer.alloc(1 << 20);
  for (let i = 0; i < 4; i++) a.write(filler);
  t.true(a.writeQueueSize > 0);
  const tcp = new TCP(loop);
  tcp.bind('127.0.0.1', 0);
  const sent = new Promise<UvError | null>((resolve) => a.write('h', resolve, tcp));
  await closeAll(tcp);
  // Sockets opened now may reuse the closed handle's fd number or memory;
  // none of them may travel instead of it.
  const others = Array.from({ length: 20 }, () => {
    const other = new TCP(loop);
    other.bind('127.0.0.1', 0);
    return other;
  });
  const drained = readBytes(b, 4 << 20);
  const err = await sent;
  t.is(err?.code, 'EBADF');
  t.is((await drained).data.length, 4 << 20);
  await sleep(20);
  t.is(b.pendingCount(), 0);
  await closeAll(a, b, server, ...others);
  await assertNoHandlesAndClose(t, loop);
});

const fixtures = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures');

/** Spawns a fixture script with an IPC pipe as its fd 3. */
function spawnIpcChild(loop: Loop): {
  proc: Process;
  ipc: Pipe;
  exited: Promise<[number, number]>;
} {
  const ipc = new Pipe(loop, true);
  let onExit!: (status: number, signal: number) => void;
  const exited = new Promise<[number, number]>(
    (resolve) => (onExit = (s, sig) => resolve([s, sig])),
  );
  const proc = Process.spawn(loop, {
    file: process.execPath,
    args: [join(fixtures, 'ipc-child.js')],
    stdio: ['ignore', 'inherit', 'inherit', ipc],
    onExit,
  });
  return { proc, ipc, exited };
}

test('passes a listening TCP server to a child process, which serves a request on it', async (t) => {
  const loop = new Loop();
  const { proc, ipc, exited } = spawnIpcChild(loop);
  t.is(proc.stdio[3], ipc);
  const tcpServer = new TCP(loop);
  tcpServer.bind('127.0.0.1', 0);
  const port = tcpServer.getsockname().port;
  tcpServer.listen(8, () =>
    t.fail('the parent must not see connections once it passed the server'),
  );
  await new Promise<void>((resolve, reject) =>
    ipc.write('listen', (err) => (err ? reject(err) : resolve()), tcpServer),
  );
  tcpServer.close(); // the child holds the only copy now
  // The child says when it listens, so the request below reaches it.
  const ready = await readBytes(ipc, 5);
  t.is(ready.data.toString(), 'ready');
  const reply = await netRequest(port, 'hello child');
  t.is(reply, `child ${proc.pid} served: hello child`);
  t.deepEqual(await exited, [0, 0]);
  await closeAll(ipc, proc);
  await assertNoHandlesAndClose(t, loop);
});

test('passes an accepted TCP connection to a child process', async (t) => {
  const loop = new Loop();
  const { proc, ipc, exited } = spawnIpcChild(loop);
  const tcpServer = new TCP(loop);
  tcpServer.bind('127.0.0.1', 0);
  const port = tcpServer.getsockname().port;
  tcpServer.listen(8, () => {
    const conn = new TCP(loop);
    tcpServer.accept(conn);
    ipc.write('conn', () => conn.close(), conn);
  });
  const reply = await netRequest(port, 'via parent');
  t.is(reply, `child ${proc.pid} served: via parent`);
  t.deepEqual(await exited, [0, 0]);
  await closeAll(ipc, proc, tcpServer);
  await assertNoHandlesAndClose(t, loop);
});

test('open(fd) wraps the ends of the pipes a parent gave to a child', async (t) => {
  const loop = new Loop();
  let onExit!: (status: number, signal: number) => void;
  const exited = new Promise<[number, number]>(
    (resolve) => (onExit = (s, sig) => resolve([s, sig])),
  );
  // The child opens its fds 0 and 1 with Pipe.open and upper-cases stdin.
  const proc = Process.spawn(loop, {
    file: process.execPath,
    args: [join(fixtures, 'pipe-open-child.js')],
    stdio: ['pipe', 'pipe', 'inherit'],
    onExit,
  });
  const [stdin, stdout] = [proc.stdio[0]!, proc.stdio[1]!];
  t.true(stdin.writable);
  t.false(stdin.readable);
  t.true(stdout.readable);
  t.false(stdout.writable);
  stdin.write('shout this');
  stdin.shutdown(() => stdin.close());
  const out = await readBytes(stdout);
  t.deepEqual(out, { data: Buffer.from('SHOUT THIS'), eof: true });
  t.deepEqual(await exited, [0, 0]);
  await closeAll(stdout, proc);
  await assertNoHandlesAndClose(t, loop);
});
