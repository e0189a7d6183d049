import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Loop, Pipe, TCP, Timer, UDP, UsageError, UvError } from 'asyncuv';
import { assertNoHandlesAndClose, deferred, within } from '../helpers/loop-test.js';
import { binding } from '../../handles/binding.js';
import { kNative } from '../../handles/internal.js';
import { tcpNames } from '../../handles/tcp.js';
import { errno } from '../../handles/uv-error.js';

function listenEcho(loop: Loop, host = '127.0.0.1'): { server: TCP; port: number; clients: TCP[] } {
  const server = new TCP(loop);
  const clients: TCP[] = [];
  server.bind(host, 0);
  server.listen(128, (err) => {
    if (err) throw err;
    const c = new TCP(loop);
    server.accept(c);
    clients.push(c);
    c.readStart((e, data) => {
      if (e || data === null) c.close();
      else c.write(data);
    });
  });
  return { server, port: server.getsockname().port, clients };
}

function connect(loop: Loop, host: string, port: number): Promise<TCP> {
  const c = new TCP(loop);
  return new Promise((resolve, reject) =>
    c.connect(host, port, (err) => {
      if (err) {
        c.close();
        reject(err);
      } else resolve(c);
    }),
  );
}

function readAll(c: TCP, until: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  return new Promise((resolve, reject) =>
    c.readStart((err, data) => {
      if (err) return reject(err);
      if (data === null) return resolve(Buffer.concat(parts));
      parts.push(data);
      n += data.length;
      if (n >= until) {
        c.readStop();
        resolve(Buffer.concat(parts));
      }
    }),
  );
}

// 127.100.20.3: a loopback address with one-, two- and three-digit parts for tcpNames().
for (const host of ['127.0.0.1', '127.100.20.3', '::1']) {
  test(`echo over ${host}`, async (t) => {
    const loop = new Loop();
    const { server, port } = listenEcho(loop, host);
    const c = await connect(loop, host, port);
    t.is(c.getpeername().port, port);
    t.is(c.getpeername().family, host.includes(':') ? 'IPv6' : 'IPv4');
    // tcpNames(): both ends as [address, port], the same as the two calls.
    const peer = c.getpeername();
    const sock = c.getsockname();
    t.deepEqual(tcpNames(c), [
      [peer.address, peer.port],
      [sock.address, sock.port],
    ]);
    const payload = randomBytes(100_000);
    const got = readAll(c, payload.length);
    c.write(payload);
    t.true((await got).equals(payload));
    c.close();
    server.close();
    await assertNoHandlesAndClose(t, loop);
  });
}

test('64 MiB through one connection keep their checksum', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const c = await connect(loop, '127.0.0.1', port);
  const total = 64 * 1024 * 1024;
  const chunk = randomBytes(256 * 1024);
  const sent = createHash('sha256');
  const received = createHash('sha256');
  let got = 0;
  const done = new Promise<void>((resolve, reject) =>
    c.readStart((err, data) => {
      if (err) return reject(err);
      if (data === null) return reject(new Error('early EOF'));
      received.update(data);
      got += data.length;
      if (got === total) resolve();
    }),
  );
  let writesDone = 0;
  for (let i = 0; i < total / chunk.length; i++) {
    sent.update(chunk);
    c.write(chunk, (err) => {
      if (!err) writesDone++;
    });
  }
  await done;
  t.is(writesDone, total / chunk.length);
  t.is(received.digest('hex'), sent.digest('hex'));
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('a buffer may be reused as soon as write returns', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const c = await connect(loop, '127.0.0.1', port);
  // Big enough that most of it is queued, then overwritten at once.
  const buf = Buffer.alloc(8 * 1024 * 1024, 0x61);
  const got = readAll(c, buf.length);
  c.write(buf);
  buf.fill(0x62);
  const data = await got;
  t.is(data.length, buf.length);
  t.true(data.every((b) => b === 0x61));
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('strings and arrays of buffers are written in order', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const c = await connect(loop, '127.0.0.1', port);
  const expected = 'héllo ' + 'a,b,c';
  const got = readAll(c, Buffer.byteLength(expected));
  c.write('héllo ');
  c.write([Buffer.from('a,'), Buffer.from('b,'), Buffer.from('c')]);
  t.is((await got).toString(), expected);
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('write callbacks run once each, later, in order', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const c = await connect(loop, '127.0.0.1', port);
  const order: number[] = [];
  let inside = true;
  const all = new Promise<void>((resolve) => {
    for (let i = 0; i < 50; i++) {
      c.write(Buffer.alloc(64 * 1024, i), (err) => {
        t.is(err, null);
        t.false(inside, 'never called from inside write()');
        order.push(i);
        if (order.length === 50) resolve();
      });
    }
  });
  inside = false;
  const drained = readAll(c, 50 * 64 * 1024);
  await all;
  await drained;
  t.deepEqual(order, [...Array(50).keys()]);
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('EOF and half-close: shutdown, then still read', async (t) => {
  const loop = new Loop();
  const server = new TCP(loop);
  server.bind('127.0.0.1', 0);
  let accepted: TCP | undefined;
  server.listen(16, () => {
    accepted = new TCP(loop);
    server.accept(accepted);
    const parts: Buffer[] = [];
    accepted.readStart((err, data) => {
      if (data === null) {
        // The peer half-closed: answer, then close.
        accepted!.write(Buffer.concat(parts).toString().toUpperCase(), () => accepted!.close());
      } else parts.push(data!);
    });
  });
  const c = await connect(loop, '127.0.0.1', server.getsockname().port);
  c.write('ping');
  const shut = new Promise<UvError | null>((r) => c.shutdown(r));
  const reply = await readAll(c, Infinity);
  t.is(await shut, null);
  t.is(reply.toString(), 'PING');
  t.false(c.writable);
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('peer reset gives ECONNRESET', async (t) => {
  const loop = new Loop();
  const server = new TCP(loop);
  server.bind('127.0.0.1', 0);
  server.listen(16, () => {
    const a = new TCP(loop);
    server.accept(a);
    // Reset once the client is surely connected: after its first bytes.
    a.readStart(() => a.closeReset());
  });
  const c = await connect(loop, '127.0.0.1', server.getsockname().port);
  c.write('x');
  const err = await new Promise<UvError | null>((resolve) =>
    c.readStart((e, data) => resolve(e ?? (data === null ? null : e))),
  );
  t.is(err?.code, 'ECONNRESET');
  t.is(err?.syscall, 'read');
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('connect to a closed port is ECONNREFUSED', async (t) => {
  const loop = new Loop();
  const probe = new TCP(loop);
  probe.bind('127.0.0.1', 0);
  const port = probe.getsockname().port;
  // Held bound, not listening, until the connect failed: a freed port
  // could become the client's own (a connection with itself).
  const err = await t.throwsAsync(connect(loop, '127.0.0.1', port));
  probe.close();
  t.true(err instanceof UvError);
  t.is((err as UvError).code, 'ECONNREFUSED');
  t.is((err as UvError).syscall, 'connect');
  t.regex(
    (err as UvError).message,
    new RegExp(`^connect ECONNREFUSED: .* 127\\.0\\.0\\.1:${port}$`),
  );
  await assertNoHandlesAndClose(t, loop);
});

test('binding a port in use is EADDRINUSE; reusePort shares it', async (t) => {
  const loop = new Loop();
  const a = new TCP(loop);
  a.bind('127.0.0.1', 0);
  a.listen(8, () => {});
  const port = a.getsockname().port;
  const b = new TCP(loop);
  // Linux reports a taken port at bind or at listen.
  const e = t.throws(() => {
    b.bind('127.0.0.1', port);
    b.listen(8, () => {});
  });
  t.is((e as UvError).code, 'EADDRINUSE');
  const r1 = new TCP(loop);
  const r2 = new TCP(loop);
  r1.bind('127.0.0.1', 0, { reusePort: true });
  r1.listen(8, () => {});
  r2.bind('127.0.0.1', r1.getsockname().port, { reusePort: true });
  t.notThrows(() => r2.listen(8, () => {}));
  for (const h of [a, b, r1, r2]) h.close();
  await assertNoHandlesAndClose(t, loop);
});

test('close with queued writes cancels each write once', async (t) => {
  const loop = new Loop();
  const server = new TCP(loop);
  server.bind('127.0.0.1', 0);
  let peer: TCP | undefined;
  server.listen(8, () => {
    peer = new TCP(loop);
    server.accept(peer); // never reads: writes pile up
  });
  const c = await connect(loop, '127.0.0.1', server.getsockname().port);
  const results: Array<string | null> = [];
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 64; i++) c.write(chunk, (err) => results.push(err ? err.code : null));
  t.true(c.writeQueueSize > 0);
  let atClose = -1;
  const closed = new Promise<void>((r) =>
    c.close(() => {
      atClose = results.length;
      r();
    }),
  );
  t.is(results.length, 0, 'no write callback inside close()');
  await closed;
  t.is(atClose, 64, 'every write callback ran before the close callback');
  t.is(results.length, 64);
  t.true(results.includes('ECANCELED'));
  t.true(results.every((r) => r === null || r === 'ECANCELED'));
  // In order: the writes that went out, then the cancelled ones.
  const firstCancelled = results.indexOf('ECANCELED');
  t.true(
    results.slice(firstCancelled).every((r) => r === 'ECANCELED'),
    results.join(','),
  );
  peer?.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('a second connect while one is pending is EALREADY, and the first callback still runs, once', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const c = new TCP(loop);
  const calls: string[] = [];
  const first = deferred();
  c.connect('127.0.0.1', port, (err) => {
    calls.push(`first:${err?.code ?? 'ok'}`);
    first.resolve();
  });
  const refused = t.throws(() => c.connect('127.0.0.1', port, () => calls.push('second')), {
    instanceOf: UvError,
  });
  t.is(refused?.code, 'EALREADY');
  await within(first.promise, 'the first connect');
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(calls, ['first:ok'], 'the refused call took nothing over');
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('misuse throws typed errors', async (t) => {
  const loop = new Loop();
  const c = new TCP(loop);
  t.throws(() => c.bind('not an ip', 1), { instanceOf: UvError, code: 'EINVAL' } as never);
  t.throws(() => c.bind('127.0.0.1', 70000), { code: 'ERR_OUT_OF_RANGE' } as never);
  t.throws(() => c.write(42 as never), { code: 'ERR_INVALID_ARG_TYPE' } as never);
  t.throws(() => c.readStart('x' as never), { code: 'ERR_INVALID_ARG_TYPE' } as never);
  t.throws(() => c.accept({} as never), { code: 'ERR_INVALID_ARG_TYPE' } as never);
  for (const other of [new Timer(loop), new UDP(loop), new Pipe(loop)]) {
    t.throws(() => c.accept(other as never), {
      instanceOf: UsageError,
      code: 'ERR_INVALID_ARG_TYPE',
    });
    other.close();
  }
  // Options: an object of booleans. null failed as a TypeError, and a
  // non-boolean option was taken as false.
  for (const opts of [null, 5, 'reusePort', { reusePort: 'yes' }, { ipv6Only: 1 }]) {
    t.throws(() => c.bind('127.0.0.1', 0, opts as never), {
      instanceOf: UsageError,
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  for (const opts of [null, 5, { duplicate: 'yes' }]) {
    t.throws(() => c.open(999_999, opts as never), {
      instanceOf: UsageError,
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  t.throws(() => c.getsockname(), { code: 'EBADF' } as never, 'the refused calls bound nothing');
  // No socket yet: libuv says EBADF; a bound, unconnected one: ENOTCONN.
  t.throws(() => c.getpeername(), { code: 'EBADF' } as never);
  t.deepEqual(tcpNames(c), [undefined, undefined]);
  c.bind('127.0.0.1', 0);
  t.throws(() => c.getpeername(), { code: 'ENOTCONN' } as never);
  // tcpNames() leaves out the name a socket has not (no peer while unconnected).
  t.deepEqual(tcpNames(c), [undefined, ['127.0.0.1', c.getsockname().port]]);
  c.close();
  t.throws(() => tcpNames(c), { code: 'ERR_HANDLE_CLOSED' } as never);
  t.throws(() => c.write('x'), { code: 'ERR_HANDLE_CLOSED' } as never);
  t.throws(() => c.readStart(() => {}), { code: 'ERR_HANDLE_CLOSED' } as never);
  t.notThrows(() => c.close());
  const other = new Loop();
  const s = new TCP(loop);
  s.bind('127.0.0.1', 0);
  const foreign = new TCP(other);
  s.listen(4, () => {});
  const pending = await connect(loop, '127.0.0.1', s.getsockname().port);
  await new Promise((r) => setTimeout(r, 20));
  // A client on another loop is refused, not a libuv assertion.
  t.throws(() => s.accept(foreign), { code: 'EINVAL' } as never);
  foreign.close();
  pending.close();
  s.close();
  await assertNoHandlesAndClose(t, other);
  await assertNoHandlesAndClose(t, loop);
});

test('tryWrite writes what the socket takes now and returns its byte count', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const c = await connect(loop, '127.0.0.1', port);
  t.is(c.tryWrite('hello'), 5, 'an empty socket buffer takes it all');
  t.is(c.tryWrite(Buffer.from('abc')), 3);
  t.is(c.tryWrite(''), 0);
  t.is(c.writeQueueSize, 0, "nothing is queued: what did not fit is the caller's");
  t.is(String(await readAll(c, 8)), 'helloabc');
  // Past what the kernel takes (a small send buffer, a peer not reading),
  // it returns less than it was given, never queueing the rest.
  c.sendBufferSize = 4096;
  const big = Buffer.alloc(16 << 20);
  const taken = c.tryWrite(big);
  t.true(taken > 0 && taken < big.length, `took ${taken} of ${big.length}`);
  t.is(c.writeQueueSize, 0);
  // A full socket takes nothing: 0, not EAGAIN.
  let zero = -1;
  for (let i = 0; i < 64 && zero !== 0; i++) zero = c.tryWrite(big);
  t.is(zero, 0);
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('readStartInto reads into the caller buffer without allocating', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const c = await connect(loop, '127.0.0.1', port);
  const into = Buffer.alloc(4096);
  let total = 0;
  const text: string[] = [];
  const done = new Promise<void>((resolve) =>
    c.readStartInto(into, (err, n) => {
      text.push(into.toString('latin1', 0, n));
      total += n;
      if (total === 10_000) resolve();
    }),
  );
  c.write(Buffer.alloc(10_000, 'z'));
  await done;
  t.is(text.join(''), 'z'.repeat(10_000));
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('readStart or readStartInto again while reading switches the callback and the mode; setReadBuffer swaps the buffer', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const c = await connect(loop, '127.0.0.1', port);
  const seen: string[] = [];
  let next = deferred();
  const onBuffer =
    (tag: string) =>
    (err: Error | null, data: Buffer | null): void => {
      seen.push(`${tag}:${err ? err.message : String(data)}`);
      next.resolve();
    };
  const first = Buffer.alloc(16);
  const second = Buffer.alloc(16);
  const onInto =
    (tag: string, buffers: Buffer[]) =>
    (err: Error | null, n: number): void => {
      // The bytes are in whichever buffer is current.
      const where = buffers.findIndex((b) => b.toString('latin1', 0, n) !== '\0'.repeat(n));
      seen.push(`${tag}:${err ? err.message : `${n} in buffer ${where}`}`);
      for (const b of buffers) b.fill(0);
      next.resolve();
    };
  const roundTrip = async (text: string): Promise<void> => {
    next = deferred();
    c.write(text);
    await within(next.promise, `the echo of ${text}`);
  };
  c.readStart(onBuffer('A'));
  await roundTrip('one');
  c.readStart(onBuffer('B'));
  await roundTrip('two');
  c.readStartInto(first, onInto('C', [first, second]));
  await roundTrip('three');
  c.setReadBuffer(second);
  await roundTrip('four');
  c.readStart(onBuffer('D'));
  await roundTrip('five');
  t.deepEqual(seen, ['A:one', 'B:two', 'C:5 in buffer 0', 'C:4 in buffer 1', 'D:five']);
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('node:net clients talk to our server and the reverse', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const reply = await new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.end('from net'));
    let acc = '';
    s.on('data', (d) => (acc += d));
    s.on('close', () => resolve(acc));
  });
  t.is(reply, 'from net');
  const ns = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => ns.listen(0, '127.0.0.1', r));
  const c = await connect(loop, '127.0.0.1', (ns.address() as net.AddressInfo).port);
  const got = readAll(c, 5);
  c.write('hello');
  t.is((await got).toString(), 'hello');
  c.close();
  ns.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('socket options: nodelay, keepalive, buffer sizes', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const c = await connect(loop, '127.0.0.1', port);
  t.notThrows(() => c.setNoDelay(true));
  t.notThrows(() => c.setKeepAlive(true, 30));
  c.sendBufferSize = 65536;
  t.true(c.sendBufferSize >= 65536);
  t.true(c.recvBufferSize > 0);
  t.true(c.fileno() > 2);
  c.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});

test('open(fd, { duplicate }): handles on new fds of one listening socket accept', async (t) => {
  const loop = new Loop();
  const anchor = new TCP(loop);
  anchor.bind('127.0.0.1', 0);
  const port = anchor.getsockname().port;
  const accepted: string[] = [];
  const listeners = ['a', 'b'].map((name) => {
    const l = new TCP(loop);
    l.open(anchor.fileno(), { duplicate: true });
    t.not(l.fileno(), anchor.fileno());
    t.is(l.getsockname().port, port);
    l.listen(16, (err) => {
      if (err) return;
      const c = new TCP(loop);
      l.accept(c);
      accepted.push(name);
      c.close();
    });
    return l;
  });
  // Closing one duplicate leaves the socket listening through the others.
  listeners[0]!.close();
  for (let i = 0; i < 3; i++) {
    const client = await connect(loop, '127.0.0.1', port);
    await new Promise<void>((resolve) => client.readStart((_e, d) => d === null && resolve()));
    client.close();
  }
  t.deepEqual(accepted, ['b', 'b', 'b']);
  listeners[1]!.close();
  t.is(anchor.getsockname().port, port, 'the original fd is still open');
  anchor.close();
  const unused = new TCP(loop);
  t.throws(() => unused.open(1 << 30, { duplicate: true }), { code: 'EBADF' });
  const notBoolean = 'yes' as unknown as boolean;
  t.throws(() => unused.open(0, { duplicate: notBoolean }), { code: 'ERR_INVALID_ARG_TYPE' });
  unused.close();
  t.throws(() => listeners[1]!.open(0, { duplicate: true }), { code: 'ERR_HANDLE_CLOSED' });
  await assertNoHandlesAndClose(t, loop);
});

test('the write entry by id: a closed stream id is EBADF and never reaches a newer stream', async (t) => {
  const loop = new Loop();
  const { server, port } = listenEcho(loop);
  const first = await connect(loop, '127.0.0.1', port);
  const staleId = first[kNative].id();
  t.true(staleId > 0);
  t.is(first[kNative].id(), staleId, 'one id per stream');
  first.close();
  t.is(first[kNative].id(), 0, 'a closing stream has no id');
  // The freed slot serves the next stream, under a new generation.
  const second = await connect(loop, '127.0.0.1', port);
  const id = second[kNative].id();
  t.not(id, staleId);
  const EBADF = errno['EBADF']!;
  t.is(binding.streamWrite(staleId, Buffer.from('x')), EBADF);
  t.is(binding.streamWritev(staleId, [Buffer.from('x')]), EBADF);
  for (const bad of [0, -1, 0.5, NaN, Infinity, 2 ** 60, id + 2 ** 24, '1', undefined, {}])
    t.is(binding.streamWrite(bad as number, Buffer.from('x')), EBADF, String(bad));
  t.is(binding.streamWrite(id, 'x' as unknown as Uint8Array), errno['EINVAL']!);
  t.is(binding.streamWritev(id, ['x'] as unknown as Uint8Array[]), errno['EINVAL']!);
  // Only the writes to the live id arrive, in order, as bytes of any view;
  // a write done at once returns undefined (native/stream_wrap.h rule 4).
  const got = readAll(second, 9);
  t.is(binding.streamWrite(id, Buffer.from('ab')), undefined);
  t.is(binding.streamWritev(id, [new Uint8Array([0x63]), Buffer.from('de')]), undefined);
  t.is(binding.streamWrite(id, new Uint16Array([0x6968]) as unknown as Uint8Array), undefined);
  t.is(binding.streamWritev(id, []), undefined);
  second.write([Buffer.from('f'), Buffer.from('g')]);
  t.is((await got).toString(), 'abcdehifg');
  second.close();
  server.close();
  await assertNoHandlesAndClose(t, loop);
});
