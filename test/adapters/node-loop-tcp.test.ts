import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { NodeEventLoop, UvError, type BufferedProtocol, type Transport } from 'asyncuv';
import { CollectProtocol, EchoProtocol } from './protocols.js';
import { assertNoLeaks, resourceCounts } from './resources.js';

// Serial: each test checks that it leaves no socket or timer behind.
const serial = test.serial;

async function echoServer(loop: NodeEventLoop, host: string | string[] | null = '127.0.0.1') {
  const protocols: EchoProtocol[] = [];
  const server = await loop.createServer(
    () => {
      const p = new EchoProtocol();
      protocols.push(p);
      return p;
    },
    host,
    0,
  );
  const first = server.sockets()[0] as { address: string; port: number };
  return { server, port: first.port, protocols };
}

serial('callSoon runs FIFO, callLater in time order, cancelled timers never', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const order: string[] = [];
  await loop.runUntilComplete(
    new Promise<void>((resolve) => {
      // callAt from one reading of the clock: a stall between two callLater
      // calls on a loaded machine would legitimately reorder them.
      const now = loop.time();
      loop.callAt(now + 0.03, () => {
        order.push('later 30ms');
        // Through the ready queue: whatever was queued before runs first.
        loop.callSoon(resolve);
      });
      loop.callAt(now + 0.01, () => order.push('later 10ms'));
      loop.callSoon(() => {
        order.push('soon 1');
        loop.callSoon(() => order.push('soon 3 (scheduled by 1)'));
      });
      loop.callSoon(() => order.push('soon 2'));
      const cancelled = loop.callAt(now + 0.02, () => order.push('cancelled'));
      cancelled.cancel();
    }),
  );
  // Under load the timers may already be due when the first callbacks run;
  // only the relative orders are guaranteed.
  const at = (s: string): number => order.indexOf(s);
  t.is(order.length, 5);
  t.true(at('soon 1') < at('soon 2') && at('soon 2') < at('soon 3 (scheduled by 1)'));
  t.true(at('later 10ms') < at('later 30ms'));
  t.true(at('soon 1') < at('later 10ms'));
  t.false(order.includes('cancelled'));
  loop.close();
  t.throws(() => loop.callSoon(() => {}), { code: 'ERR_LOOP_CLOSED' });
  await assertNoLeaks(t, base);
});

for (const host of ['127.0.0.1', '::1']) {
  serial(`echo over ${host}: 100 kB round trip, peername and sockname as tuples`, async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const { server, port, protocols } = await echoServer(loop, host);
    const [transport, client] = await loop.createConnection(
      () => new CollectProtocol(),
      host,
      port,
    );
    t.deepEqual(transport.getExtraInfo('peername'), [host, port]);
    const sockname = transport.getExtraInfo('sockname')!;
    t.is(sockname[0], host);
    t.true(transport.getExtraInfo('socket') instanceof net.Socket);
    const payload = randomBytes(100_000);
    transport.write(payload);
    await client.until(payload.length);
    t.true(client.data().equals(payload));
    // The server side sees the client's address as its peer.
    t.deepEqual(protocols[0]!.transport!.getExtraInfo('peername'), sockname);
    transport.close();
    t.is(await client.lost, null);
    t.is(await protocols[0]!.lost, null);
    t.deepEqual(client.calls, ['made', 'lost']);
    t.deepEqual(protocols[0]!.calls, ['made', 'eof', 'lost']);
    server.close();
    await server.waitClosed();
    loop.close();
    await assertNoLeaks(t, base);
  });
}

serial('a server on several hosts listens on each, with one port', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const { server, port } = await echoServer(loop, ['127.0.0.1', '::1']);
  const sockets = server.sockets() as Array<{ address: string; port: number }>;
  t.deepEqual(
    sockets.map((s) => s.address),
    ['127.0.0.1', '::1'],
  );
  t.true(sockets.every((s) => s.port === port));
  for (const host of ['127.0.0.1', '::1']) {
    const [transport, client] = await loop.createConnection(
      () => new CollectProtocol(),
      host,
      port,
    );
    transport.write(host);
    await client.until(host.length);
    t.is(client.data().toString(), host);
    transport.close();
    await client.lost;
  }
  server.close();
  await server.waitClosed();
  t.deepEqual(server.sockets(), []);
  loop.close();
  await assertNoLeaks(t, base);
});

serial('a refused connection rejects with UvError ECONNREFUSED', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  // A port that was just free: bind, read the port, close.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const err = await t.throwsAsync(
    loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port),
  );
  t.true(err instanceof UvError);
  t.is((err as UvError).code, 'ECONNREFUSED');
  t.is((err as UvError).syscall, 'connect');
  loop.close();
  await assertNoLeaks(t, base);
});

serial(
  'a port in use rejects createServer with EADDRINUSE, with and without reusePort',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const { server, port } = await echoServer(loop);
    const err = await t.throwsAsync(loop.createServer(() => new EchoProtocol(), '127.0.0.1', port));
    t.is((err as UvError).code, 'EADDRINUSE');
    // A port taken without SO_REUSEPORT is refused to a reusePort server
    // too (on Node < 22.12, by the socket asyncuv makes for net).
    const shared = await t.throwsAsync(
      loop.createServer(() => new EchoProtocol(), '127.0.0.1', port, { reusePort: true }),
    );
    t.is((shared as UvError).code, 'EADDRINUSE');
    server.close();
    loop.close();
    await assertNoLeaks(t, base);
  },
);

serial('reusePort servers share a port and each serves connections, on every Node', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const opts = { reusePort: true, backlog: 64 };
  const served = [0, 0];
  const factory = (i: number) => () => {
    served[i]!++;
    return new EchoProtocol();
  };
  const first = await loop.createServer(factory(0), '127.0.0.1', 0, opts);
  const { port } = first.sockets()[0]!;
  const second = await loop.createServer(factory(1), '127.0.0.1', port, opts);
  t.deepEqual(
    second.sockets().map((s) => s.port),
    [port],
  );
  // The kernel spreads connections over both listeners by their ports'
  // hash: with 16, each listener gets none with a chance of 2^-15.
  for (let i = 0; i < 16; i++) {
    const [transport, client] = await loop.createConnection(
      () => new CollectProtocol(),
      '127.0.0.1',
      port,
    );
    transport.write(`ping ${i}`);
    await client.until(`ping ${i}`.length);
    t.is(client.data().toString(), `ping ${i}`);
    transport.close();
    await client.lost;
  }
  t.is(served[0]! + served[1]!, 16);
  t.true(served[0]! > 0 && served[1]! > 0, `connections per server: ${served.join(', ')}`);
  first.close();
  second.close();
  await Promise.all([first.waitClosed(), second.waitClosed()]);
  loop.close();
  await assertNoLeaks(t, base);
});

serial('localAddr binds the client side', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const { server, port } = await echoServer(loop);
  const [transport, client] = await loop.createConnection(
    () => new CollectProtocol(),
    '127.0.0.1',
    port,
    { localAddr: ['127.0.0.2', 0] },
  );
  t.is(transport.getExtraInfo('sockname')![0], '127.0.0.2');
  transport.abort();
  t.is(await client.lost, null);
  server.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial('an aborted signal cancels the connection attempt', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const { server, port } = await echoServer(loop);
  const controller = new AbortController();
  controller.abort();
  await t.throwsAsync(
    loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port, {
      signal: controller.signal,
    }),
    { code: 'ABORT_ERR' },
  );
  server.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial(
  'connectionLost is deferred and runs exactly once, whatever closes the transport',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const { server, port } = await echoServer(loop);
    const [transport, client] = await loop.createConnection(
      () => new CollectProtocol(),
      '127.0.0.1',
      port,
    );
    transport.close();
    t.true(transport.isClosing());
    t.deepEqual(client.calls, ['made'], 'not called inside close()');
    transport.close();
    transport.abort();
    await client.lost;
    await new Promise((r) => setTimeout(r, 20));
    t.deepEqual(client.calls, ['made', 'lost']);
    server.close();
    loop.close();
    await assertNoLeaks(t, base);
  },
);

serial('close() flushes buffered writes first; abort() drops them', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  // A sink that counts what it receives until EOF.
  let receivedByServer = 0;
  const sinkDone: Array<() => void> = [];
  const server = await loop.createServer(
    () => ({
      dataReceived: (d: Buffer) => void (receivedByServer += d.length),
      connectionLost: () => sinkDone.shift()?.(),
    }),
    '127.0.0.1',
    0,
  );
  const port = (server.sockets()[0] as { port: number }).port;
  const big = randomBytes(8 * 1024 * 1024);
  const [t1, c1] = await loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port);
  const gone1 = new Promise<void>((r) => sinkDone.push(r));
  t1.write(big);
  t.true(t1.getWriteBufferSize() > 0, 'most of 8 MiB is buffered');
  t1.close();
  t.is(await c1.lost, null);
  await gone1;
  t.is(receivedByServer, big.length, 'every byte arrived before the close');

  receivedByServer = 0;
  const [t2, c2] = await loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port);
  const gone2 = new Promise<void>((r) => sinkDone.push(r));
  t2.write(big);
  t2.abort();
  t.is(await c2.lost, null);
  await gone2;
  t.true(receivedByServer < big.length, 'abort dropped the buffered data');
  server.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial('a buffer may be reused as soon as write() returns', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const { server, port } = await echoServer(loop);
  const [transport, client] = await loop.createConnection(
    () => new CollectProtocol(),
    '127.0.0.1',
    port,
  );
  const buf = Buffer.alloc(4 * 1024 * 1024, 0x61);
  transport.write(buf);
  buf.fill(0x62);
  await client.until(buf.length);
  t.true(client.data().every((b) => b === 0x61));
  transport.close();
  await client.lost;
  server.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial('writeEof half-closes; eofReceived returning true keeps the other way open', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  // The server answers with the byte count once the client's EOF arrives.
  const server = await loop.createServer(
    () => {
      let n = 0;
      let tr: Transport;
      return {
        connectionMade: (x: Transport) => void (tr = x),
        dataReceived: (d: Buffer) => void (n += d.length),
        eofReceived: () => {
          tr.write(`got ${n}`);
          tr.close();
          return true;
        },
      };
    },
    '127.0.0.1',
    0,
  );
  const port = (server.sockets()[0] as { port: number }).port;
  const [transport, client] = await loop.createConnection(
    () => new CollectProtocol(),
    '127.0.0.1',
    port,
  );
  client.keepOpenOnEof = true;
  t.true(transport.canWriteEof());
  transport.write('12345');
  transport.writeEof();
  t.throws(() => transport.write('x'), { code: 'ERR_TRANSPORT_EOF' });
  await client.until(5);
  t.is(client.data().toString(), 'got 5');
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(client.calls, ['made', 'eof'], 'both sides ended, still open until close()');
  t.false(transport.isReading());
  transport.close();
  t.is(await client.lost, null);
  t.deepEqual(client.calls, ['made', 'eof', 'lost']);
  server.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial('eofReceived returning falsy closes the transport', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const server = await loop.createServer(
    () => ({ connectionMade: (tr: Transport) => tr.writeEof() }),
    '127.0.0.1',
    0,
  );
  const port = (server.sockets()[0] as { port: number }).port;
  const [transport, client] = await loop.createConnection(
    () => new CollectProtocol(),
    '127.0.0.1',
    port,
  );
  t.is(await client.lost, null);
  t.true(transport.isClosing());
  t.deepEqual(client.calls, ['made', 'eof', 'lost']);
  server.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial(
  'pauseWriting above the high-water mark, resumeWriting at or below the low one',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    // The server does not read until told to: the client's buffer fills.
    let serverTransport: Transport | undefined;
    const server = await loop.createServer(
      () => ({
        connectionMade: (tr: Transport) => {
          serverTransport = tr;
          tr.pauseReading();
        },
      }),
      '127.0.0.1',
      0,
    );
    const port = (server.sockets()[0] as { port: number }).port;
    const [transport, client] = await loop.createConnection(
      () => new CollectProtocol(),
      '127.0.0.1',
      port,
    );
    t.deepEqual(transport.getWriteBufferLimits(), [16 * 1024, 64 * 1024]);
    transport.setWriteBufferLimits({ high: 100_000 });
    t.deepEqual(transport.getWriteBufferLimits(), [25_000, 100_000]);
    t.throws(() => transport.setWriteBufferLimits({ high: 1, low: 2 }), {
      code: 'ERR_OUT_OF_RANGE',
    });
    const chunk = Buffer.alloc(64 * 1024, 1);
    const sizes: number[] = [];
    while (!client.calls.includes('pause')) {
      transport.write(chunk);
      sizes.push(transport.getWriteBufferSize());
      if (sizes.length > 2000) break;
      if (!client.calls.includes('pause')) await new Promise((r) => setImmediate(r));
    }
    t.true(client.calls.includes('pause'));
    t.true(sizes.at(-1)! > 100_000, 'paused only strictly above high');
    t.true(
      sizes.slice(0, -1).every((s) => s <= 100_000),
      'no pause while at or below high',
    );
    const resumed = new Promise<number>((resolve) => {
      client.resumeWriting = () => resolve(transport.getWriteBufferSize());
    });
    serverTransport!.resumeReading();
    t.true((await resumed) <= 25_000);
    transport.abort();
    await client.lost;
    server.close();
    loop.close();
    await assertNoLeaks(t, base);
  },
);

serial('pauseReading stops dataReceived until resumeReading', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const { server, port } = await echoServer(loop);
  const [transport, client] = await loop.createConnection(
    () => new CollectProtocol(),
    '127.0.0.1',
    port,
  );
  t.true(transport.isReading());
  transport.pauseReading();
  t.false(transport.isReading());
  transport.write('while paused');
  await new Promise((r) => setTimeout(r, 50));
  t.is(client.received, 0);
  transport.resumeReading();
  await client.until(12);
  t.is(client.data().toString(), 'while paused');
  transport.close();
  await client.lost;
  server.close();
  loop.close();
  await assertNoLeaks(t, base);
});

class RecordingBufferedProtocol implements BufferedProtocol {
  readonly buffer = Buffer.alloc(4096);
  readonly hash = createHash('sha256');
  readonly hints = new Set<number>();
  transport: Transport | undefined;
  echo = false;
  received = 0;
  done: Promise<void>;
  #done!: () => void;
  #want: number;

  constructor(want: number) {
    this.#want = want;
    this.done = new Promise((r) => (this.#done = r));
  }

  connectionMade(t: Transport): void {
    this.transport = t;
  }

  getBuffer(sizeHint: number): Uint8Array {
    this.hints.add(sizeHint);
    return this.buffer;
  }

  bufferUpdated(n: number): void {
    const bytes = this.buffer.subarray(0, n);
    this.hash.update(bytes);
    if (this.echo) this.transport!.write(bytes);
    this.received += n;
    if (this.received >= this.#want) this.#done();
  }
}

serial(
  'BufferedProtocol reads into its own buffer, client side (onread) and server side (copied)',
  async (t) => {
    const base = resourceCounts();
    const loop = new NodeEventLoop();
    const total = 1024 * 1024;
    const payload = randomBytes(total);
    const expected = createHash('sha256').update(payload).digest('hex');
    const serverSide = new RecordingBufferedProtocol(total);
    serverSide.echo = true;
    const server = await loop.createServer(() => serverSide, '127.0.0.1', 0);
    const port = (server.sockets()[0] as { port: number }).port;
    const clientSide = new RecordingBufferedProtocol(total);
    const [transport] = await loop.createConnection(() => clientSide, '127.0.0.1', port);
    transport.write(payload);
    await serverSide.done;
    await clientSide.done;
    t.is(serverSide.hash.digest('hex'), expected);
    t.is(clientSide.hash.digest('hex'), expected, 'the echo arrived intact in the client buffer');
    // Node's onread asks for a buffer before each read with no size (-1);
    // the copy path (the server, and the client's first read, which lands
    // in a staging buffer) asks with the size of what arrived.
    t.true(clientSide.hints.has(-1));
    t.false(serverSide.hints.has(-1));
    transport.close();
    server.close();
    await server.waitClosed();
    loop.close();
    await assertNoLeaks(t, base);
  },
);

serial('64 MiB through NodeEventLoop keep their checksum', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const { server, port } = await echoServer(loop);
  const received = createHash('sha256');
  const sent = createHash('sha256');
  const total = 64 * 1024 * 1024;
  let got = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const [transport] = await loop.createConnection(
    () => ({
      dataReceived(d: Buffer) {
        received.update(d);
        got += d.length;
        if (got === total) resolveDone();
      },
    }),
    '127.0.0.1',
    port,
  );
  const chunk = randomBytes(256 * 1024);
  // Respect the flow control: write while not paused.
  let paused = false;
  transport.setProtocol({
    ...transport.getProtocol(),
    pauseWriting: () => void (paused = true),
    resumeWriting: () => {
      paused = false;
      pump();
    },
  });
  let written = 0;
  function pump(): void {
    while (!paused && written < total) {
      transport.write(chunk);
      sent.update(chunk);
      written += chunk.length;
    }
  }
  pump();
  await done;
  t.is(received.digest('hex'), sent.digest('hex'));
  transport.close();
  server.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial('a peer reset gives connectionLost(UvError ECONNRESET)', async (t) => {
  const base = resourceCounts();
  const loop = new NodeEventLoop();
  const peers: net.Socket[] = [];
  const srv = net.createServer((s) => void peers.push(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const [, client] = await loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port);
  while (peers.length === 0) await new Promise((r) => setImmediate(r));
  peers[0]!.resetAndDestroy();
  const err = await client.lost;
  t.true(err instanceof UvError);
  t.is((err as UvError).code, 'ECONNRESET');
  t.deepEqual(client.calls, ['made', 'lost']);
  srv.close();
  loop.close();
  await assertNoLeaks(t, base);
});

serial(
  'a loop closed while connecting rejects the connection with ERR_LOOP_CLOSED and leaves no socket',
  async (t) => {
    const base = resourceCounts();
    const srv = net.createServer((s) => s.on('error', () => {}).resume());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    const loop = new NodeEventLoop();
    const pending = loop.createConnection(() => new CollectProtocol(), '127.0.0.1', port);
    loop.close();
    await t.throwsAsync(pending, { code: 'ERR_LOOP_CLOSED' });
    t.deepEqual(loop.liveResources(), {});
    srv.close();
    await assertNoLeaks(t, base);
  },
);
