import test from 'ava';
import { networkInterfaces } from 'node:os';
import { type Loop, UDP, UsageError, UvError } from 'asyncuv';
import { assertNoHandlesAndClose, deferred, newLoop, within } from '../helpers/loop-test.js';

function closeAll(...handles: UDP[]): Promise<void[]> {
  return Promise.all(handles.map((h) => new Promise<void>((resolve) => h.close(resolve))));
}

/** A server that echoes every datagram back to its sender. */
function echoServer(loop: Loop, host: string): UDP {
  const server = new UDP(loop);
  server.bind(host, 0);
  server.recvStart((err, data, rinfo) => {
    if (err === null) server.send(data!, rinfo!.address, rinfo!.port);
  });
  return server;
}

for (const [family, host] of [
  ['IPv4', '127.0.0.1'],
  ['IPv6', '::1'],
] as const) {
  test(`echo over ${family} loopback`, async (t) => {
    const loop = newLoop(t);
    const server = echoServer(loop, host);
    const { port } = server.getsockname();
    t.is(server.getsockname().family, family);
    const client = new UDP(loop);
    // An unbound socket would bind to 0.0.0.0 on recvStart, and could not reach ::1.
    client.bind(host, 0);
    const got = deferred<[Buffer, string, number, string]>();
    client.recvStart((err, data, rinfo) => {
      t.is(err, null);
      got.resolve([data!, rinfo!.address, rinfo!.port, rinfo!.family]);
    });
    const sent = deferred<UvError | null>();
    client.send('hello', host, port, sent.resolve);
    t.is(await within(sent.promise, 'send callback', 2000), null);
    const [data, address, fromPort, fromFamily] = await within(got.promise, 'echo', 2000);
    t.is(data.toString(), 'hello');
    t.is(address, host);
    t.is(fromPort, port);
    t.is(fromFamily, family);
    await closeAll(client, server);
    await assertNoHandlesAndClose(t, loop);
  });
}

test("an unbound socket is bound by recvStart (0.0.0.0) or its first send (the wildcard of the destination's family); send callbacks run later, once", async (t) => {
  const loop = newLoop(t);
  const receiving = new UDP(loop);
  receiving.recvStart(() => {});
  const r = receiving.getsockname();
  t.is(r.address, '0.0.0.0');
  t.true(r.port > 0);
  const results: Array<string | null> = [];
  let inside = true;
  const to6 = new UDP(loop);
  to6.send('x', '::1', r.port, (err) =>
    results.push(inside ? 'inside send()' : (err?.code ?? null)),
  );
  const to4 = new UDP(loop);
  to4.send('x', '127.0.0.1', r.port, (err) =>
    results.push(inside ? 'inside send()' : (err?.code ?? null)),
  );
  inside = false;
  t.like(to6.getsockname(), { address: '::', family: 'IPv6' });
  t.like(to4.getsockname(), { address: '0.0.0.0', family: 'IPv4' });
  t.deepEqual(results, [], 'no callback inside send()');
  await within(
    new Promise<void>((resolve) => {
      const check = setInterval(() => results.length === 2 && (clearInterval(check), resolve()), 5);
    }),
    'both send callbacks',
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(results, [null, null], 'each callback ran once, without an error');
  await closeAll(receiving, to6, to4);
  await assertNoHandlesAndClose(t, loop);
});

test('many datagrams arrive intact, each in its own buffer', async (t) => {
  const loop = newLoop(t);
  const server = new UDP(loop);
  server.bind('127.0.0.1', 0);
  server.recvBufferSize = 1 << 20;
  const { port } = server.getsockname();
  const total = 2000;
  const received: Buffer[] = [];
  const done = deferred();
  server.recvStart((err, data) => {
    t.is(err, null);
    received.push(data!);
    if (received.length === total) done.resolve();
  });
  const client = new UDP(loop);
  // One buffer, rewritten before every send: send() must not keep it.
  const scratch = Buffer.alloc(64);
  let callbacks = 0;
  // Send in bursts that fit the socket buffer, letting the receiver drain between them.
  for (let i = 0; i < total; i++) {
    scratch.fill(i & 0xff);
    scratch.writeUInt32BE(i, 0);
    client.send(scratch, '127.0.0.1', port, (err) => {
      t.is(err, null);
      callbacks++;
    });
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 2));
  }
  await within(done.promise, `${total} datagrams`, 10000);
  t.is(callbacks, total);
  // Every delivered buffer still holds its own datagram: none was overwritten.
  const seen = new Set<number>();
  for (const data of received) {
    t.is(data.length, 64);
    const i = data.readUInt32BE(0);
    t.is(data[63], i & 0xff);
    seen.add(i);
  }
  t.is(seen.size, total);
  await closeAll(client, server);
  await assertNoHandlesAndClose(t, loop);
});

test('recvStart again replaces the callback; recvStop stops delivery', async (t) => {
  const loop = newLoop(t);
  const server = new UDP(loop);
  server.bind('127.0.0.1', 0);
  const { port } = server.getsockname();
  const first: string[] = [];
  const second: string[] = [];
  server.recvStart((_err, data) => first.push(data!.toString()));
  const got = deferred();
  server.recvStart((_err, data) => {
    second.push(data!.toString());
    got.resolve();
  });
  const client = new UDP(loop);
  client.send('one', '127.0.0.1', port);
  await within(got.promise, 'datagram', 2000);
  t.deepEqual(first, []);
  t.deepEqual(second, ['one']);
  server.recvStop();
  t.false(server.active);
  await closeAll(client, server);
  await assertNoHandlesAndClose(t, loop);
});

test('trySend returns the bytes sent', async (t) => {
  const loop = newLoop(t);
  const server = new UDP(loop);
  server.bind('127.0.0.1', 0);
  const { port } = server.getsockname();
  const got = deferred<Buffer>();
  server.recvStart((_err, data) => got.resolve(data!));
  const client = new UDP(loop);
  t.is(client.trySend(Buffer.from('abcdef'), '127.0.0.1', port), 6);
  t.is((await within(got.promise, 'datagram', 2000)).toString(), 'abcdef');
  await closeAll(client, server);
  await assertNoHandlesAndClose(t, loop);
});

test('connected UDP sends without an address and knows its peer', async (t) => {
  const loop = newLoop(t);
  const server = echoServer(loop, '127.0.0.1');
  const { port } = server.getsockname();
  const client = new UDP(loop);
  // No socket exists before bind, connect or a first send.
  t.throws(() => client.getpeername(), { instanceOf: UvError, code: 'EBADF' });
  client.bind('127.0.0.1', 0);
  t.throws(() => client.getpeername(), { instanceOf: UvError, code: 'ENOTCONN' });
  client.connect('127.0.0.1', port);
  t.deepEqual(client.getpeername(), { address: '127.0.0.1', port, family: 'IPv4' });
  // A connected socket refuses an explicit destination.
  t.throws(() => client.send('x', '127.0.0.1', port), { instanceOf: UvError, code: 'EISCONN' });
  const got = deferred<string>();
  client.recvStart((_err, data) => got.resolve(data!.toString()));
  client.send('ping');
  t.is(await within(got.promise, 'echo', 2000), 'ping');
  client.disconnect();
  t.throws(() => client.getpeername(), { instanceOf: UvError, code: 'ENOTCONN' });
  t.throws(() => client.send('x'), { instanceOf: UvError, code: 'EDESTADDRREQ' });
  await closeAll(client, server);
  await assertNoHandlesAndClose(t, loop);
});

test('socket options: broadcast, TTLs, buffer sizes', async (t) => {
  const loop = newLoop(t);
  const udp = new UDP(loop);
  udp.bind('0.0.0.0', 0);
  t.notThrows(() => udp.setBroadcast(true));
  t.notThrows(() => udp.setBroadcast(false));
  t.notThrows(() => udp.setTTL(64));
  t.notThrows(() => udp.setMulticastTTL(2));
  t.notThrows(() => udp.setMulticastLoopback(true));
  t.throws(() => udp.setTTL(0), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => udp.setTTL(256), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => udp.setBroadcast('yes' as unknown as boolean), { code: 'ERR_INVALID_ARG_TYPE' });
  udp.sendBufferSize = 65536;
  // Linux doubles the requested size for bookkeeping (docs/handles-io.md).
  if (process.platform === 'linux') t.is(udp.sendBufferSize, 2 * 65536);
  else t.true(udp.sendBufferSize >= 65536);
  udp.recvBufferSize = 65536;
  if (process.platform === 'linux') t.is(udp.recvBufferSize, 2 * 65536);
  else t.true(udp.recvBufferSize >= 65536);
  t.true(udp.fileno() > 2);
  await closeAll(udp);
  await assertNoHandlesAndClose(t, loop);
});

// Multicast needs a route for 224.0.0.0/4. On a machine whose only
// interface is loopback without the MULTICAST flag, joining may fail: then
// the test checks the calls and their errors instead of delivery.
test('multicast on loopback (or the option calls and their errors)', async (t) => {
  const loop = newLoop(t);
  const group = '239.255.42.99';
  const receiver = new UDP(loop);
  receiver.bind('0.0.0.0', 0, { reuseAddr: true });
  const { port } = receiver.getsockname();
  const sender = new UDP(loop);
  sender.bind('127.0.0.1', 0);
  sender.setMulticastTTL(1);
  sender.setMulticastLoopback(true);
  t.throws(() => receiver.addMembership('not-an-address'), { instanceOf: UvError, code: 'EINVAL' });
  t.throws(() => sender.setMulticastInterface('nonsense'), { instanceOf: UvError, code: 'EINVAL' });
  let joined = true;
  try {
    receiver.addMembership(group, '127.0.0.1');
    sender.setMulticastInterface('127.0.0.1');
  } catch (err) {
    joined = false;
    t.true(err instanceof UvError, String(err));
    t.log(`multicast unavailable here (${(err as UvError).code}); option calls checked only`);
  }
  if (joined) {
    const got = deferred<string>();
    receiver.recvStart((_err, data) => got.resolve(data!.toString()));
    let delivered: string | undefined;
    try {
      sender.send('to the group', group, port);
      delivered = await within(got.promise, 'multicast datagram', 1000);
    } catch (err) {
      // Joined but no route for the group (no MULTICAST on lo): record why.
      t.log(`multicast joined but not delivered: ${String(err)}`);
    }
    if (delivered !== undefined) t.is(delivered, 'to the group');
    receiver.dropMembership(group, '127.0.0.1');
    // Dropping twice is an error from the kernel.
    t.throws(() => receiver.dropMembership(group, '127.0.0.1'), { instanceOf: UvError });
  }
  await closeAll(sender, receiver);
  await assertNoHandlesAndClose(t, loop);
});

test('send after close throws ERR_HANDLE_CLOSED', async (t) => {
  const loop = newLoop(t);
  const udp = new UDP(loop);
  udp.close();
  t.true(udp.closed);
  t.throws(() => udp.send('x', '127.0.0.1', 9), { code: 'ERR_HANDLE_CLOSED' });
  t.throws(() => udp.recvStart(() => {}), { code: 'ERR_HANDLE_CLOSED' });
  t.throws(() => udp.bind('127.0.0.1', 0), { code: 'ERR_HANDLE_CLOSED' });
  t.is(udp.sendQueueSize, 0);
  await assertNoHandlesAndClose(t, loop);
});

test('bad arguments are typed errors', async (t) => {
  const loop = newLoop(t);
  const udp = new UDP(loop);
  t.throws(() => udp.bind('localhost', 0), { instanceOf: UvError, code: 'EINVAL' });
  t.throws(() => udp.bind('127.0.0.1', 70000), { code: 'ERR_OUT_OF_RANGE' });
  for (const opts of [null, 5, 'reuseAddr', { reuseAddr: 'yes' }, { ipv6Only: 1 }]) {
    t.throws(() => udp.bind('127.0.0.1', 0, opts as never), {
      instanceOf: UsageError,
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  t.throws(() => udp.send(42 as unknown as string, '127.0.0.1', 9), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.throws(() => udp.send('x', '127.0.0.1', -1), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => udp.recvStart(undefined as unknown as () => void), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  const other = new UDP(loop);
  other.bind('127.0.0.1', 0);
  t.throws(() => udp.bind('127.0.0.1', other.getsockname().port), {
    instanceOf: UvError,
    code: 'EADDRINUSE',
  });
  await closeAll(udp, other);
  await assertNoHandlesAndClose(t, loop);
});

/**
 * Loopback delivers a datagram inside sendmsg(), so its sends never queue.
 * A datagram to an unresolved neighbour on a real interface waits in the
 * kernel's ARP queue, charged to the sender's (small) send buffer: the next
 * sends get EAGAIN and are queued by libuv. Returns such a destination.
 */
function unresolvedNeighbour(): string | undefined {
  for (const iface of Object.values(networkInterfaces()).flat()) {
    if (iface === undefined || iface.internal || iface.family !== 'IPv4') continue;
    const own = iface.address.split('.').map(Number);
    const mask = iface.netmask.split('.').map(Number);
    if (mask[3] !== 0) continue; // want at least a /24 to pick a free host from
    const host = own[3] === 77 ? 78 : 77;
    return `${own[0]}.${own[1]}.${own[2]}.${host}`;
  }
  return undefined;
}

test('closing with queued sends cancels each exactly once', async (t) => {
  const dest = unresolvedNeighbour();
  if (dest === undefined) {
    t.log('no IPv4 interface besides loopback: sends cannot be made to queue here');
  }
  const loop = newLoop(t);
  const client = new UDP(loop);
  client.bind('0.0.0.0', 0);
  client.sendBufferSize = 4096;
  const big = Buffer.alloc(8192);
  const results: Array<string | null> = [];
  let calls = 0;
  for (let i = 0; i < 10; i++) {
    client.send(big, dest ?? '127.0.0.1', 9, (err) => results.push(err === null ? null : err.code));
    calls++;
  }
  const queued = client.sendQueueCount;
  if (dest !== undefined) {
    t.true(queued > 0, `sends to ${dest} were queued`);
    // Behind a queue nothing can be sent at once.
    t.throws(() => client.trySend(big, dest, 9), { instanceOf: UvError, code: 'EAGAIN' });
  }
  t.is(client.sendQueueSize, queued * big.length);
  const closed = deferred();
  let closeCalls = 0;
  let atClose = -1;
  client.close(() => {
    closeCalls++;
    atClose = results.filter((r) => r === 'ECANCELED').length;
    closed.resolve();
  });
  client.close(() => closeCalls++); // a no-op: the first callback only
  await within(closed.promise, 'close', 2000);
  await new Promise((r) => setImmediate(r));
  t.is(closeCalls, 1);
  // Every callback ran exactly once: the sent ones with null, the queued ones cancelled.
  t.is(results.length, calls);
  t.is(results.filter((r) => r === 'ECANCELED').length, queued);
  t.is(atClose, queued, 'the cancelled callbacks ran before the close callback');
  t.is(results.filter((r) => r === null).length, calls - queued);
  await assertNoHandlesAndClose(t, loop);
});

test('a receiving socket survives GC; an idle unreachable one is closed by it', async (t) => {
  const gc = (globalThis as { gc?: () => void }).gc;
  t.truthy(gc, 'ava runs with --expose-gc');
  const loop = newLoop(t);
  let port = 0;
  const got = deferred<string>();
  (() => {
    // Only libuv refers to this socket once the function returns.
    const server = new UDP(loop);
    server.bind('127.0.0.1', 0);
    port = server.getsockname().port;
    server.recvStart((_err, data, _rinfo, handle) => {
      got.resolve(data!.toString());
      handle.close();
    });
    new UDP(loop).bind('127.0.0.1', 0); // idle and unreachable
  })();
  t.deepEqual(loop.handleCounts(), { udp: 2 });
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
  }
  const client = new UDP(loop);
  client.send('still here', '127.0.0.1', port);
  t.is(await within(got.promise, 'datagram', 2000), 'still here');
  client.close();
  await assertNoHandlesAndClose(t, loop);
});

test('bind options: ipv6Only leaves the IPv4 port free, reuseAddr shares a port', async (t) => {
  const loop = newLoop(t);
  const v6 = new UDP(loop);
  v6.bind('::', 0, { ipv6Only: true });
  const { port } = v6.getsockname();
  t.is(v6.getsockname().family, 'IPv6');
  // Without ipv6Only, '::' would hold the IPv4 port too.
  const v4 = new UDP(loop);
  t.notThrows(() => v4.bind('0.0.0.0', port));
  const a = new UDP(loop);
  a.bind('127.0.0.1', 0, { reuseAddr: true });
  const b = new UDP(loop);
  t.notThrows(() => b.bind('127.0.0.1', a.getsockname().port, { reuseAddr: true }));
  const c = new UDP(loop);
  t.throws(() => c.bind('127.0.0.1', a.getsockname().port), {
    instanceOf: UvError,
    code: 'EADDRINUSE',
  });
  t.throws(() => c.bind('127.0.0.1', 0, { ipv6Only: 'yes' as unknown as boolean }), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  // A datagram larger than UDP allows fails at once.
  t.throws(() => a.send(Buffer.alloc(70_000), '127.0.0.1', port), {
    instanceOf: UvError,
    code: 'EMSGSIZE',
  });
  await closeAll(v6, v4, a, b, c);
  await assertNoHandlesAndClose(t, loop);
});
