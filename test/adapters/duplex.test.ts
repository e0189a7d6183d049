import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { type Duplex, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tls from 'node:tls';
import { Loop, NodeEventLoop, UvEventLoop, fromDuplex, toDuplex, type Transport } from 'asyncuv';
import { CollectProtocol } from './protocols.js';
import { assertNoLeaks, resourceCounts } from './resources.js';
import { selfSignedCert } from './tls-cert.js';
import { withPrograms } from '../helpers/tools.js';
import { bothEventLoops } from '../helpers/event-loop-test.js';

// These tests make a certificate with openssl (test/adapters/tls-cert.ts).
const tlsTest = withPrograms(test.serial, ['openssl']);

const serial = test.serial;

/** Each test's UvEventLoop runs on its own libuv loop, which must end empty. */
async function closeUv(t: ExecutionContext, loop: UvEventLoop): Promise<void> {
  loop.close();
  const uv: Loop = loop.uvloop;
  const deadline = Date.now() + 2000;
  while (Object.keys(uv.handleCounts()).length > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));
  t.deepEqual(uv.handleCounts(), {}, 'every libuv handle closed');
  uv.close();
}

function nodeListen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

function get(
  port: number,
  path: string,
  agent: http.Agent,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            body: Buffer.concat(parts).toString(),
            headers: res.headers,
          }),
        );
      })
      .on('error', reject);
  });
}

serial('node:http serves requests over UvEventLoop transports through toDuplex', async (t) => {
  const base = resourceCounts();
  const loop = new UvEventLoop(new Loop());
  const httpServer = http.createServer((req, res) => {
    res.setHeader('x-remote', String(req.socket.remoteAddress));
    res.end(`you asked for ${req.url}`);
  });
  const duplexes: Duplex[] = [];
  const server = await loop.createServer(
    () => ({
      connectionMade: (transport: Transport) => {
        const duplex = toDuplex(transport);
        duplexes.push(duplex);
        httpServer.emit('connection', duplex);
      },
    }),
    '127.0.0.1',
    0,
  );
  const port = (server.sockets()[0] as { port: number }).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const first = await get(port, '/one', agent);
  const second = await get(port, '/two', agent);
  t.is(first.status, 200);
  t.is(first.body, 'you asked for /one');
  t.is(second.body, 'you asked for /two');
  t.is(first.headers['x-remote'], '127.0.0.1', 'remoteAddress comes from the transport peername');
  t.is(duplexes.length, 1, 'both requests on one kept-alive connection');
  // The client hangs up: the duplex ends and is destroyed, the transport closes.
  agent.destroy();
  await new Promise<void>((resolve) =>
    duplexes[0]!.destroyed ? resolve() : duplexes[0]!.once('close', () => resolve()),
  );
  server.close();
  await server.waitClosed();
  httpServer.close();
  await closeUv(t, loop);
  await assertNoLeaks(t, base);
});

serial(
  'toDuplex: write() reports backpressure from the transport and drains after resumeWriting',
  async (t) => {
    const base = resourceCounts();
    const loop = new UvEventLoop(new Loop());
    // A node:net peer that does not read until told to.
    let peer!: net.Socket;
    let peerGot = 0;
    const peerReady = new Promise<void>((resolve) => {
      const srv = net.createServer((s) => {
        peer = s;
        s.pause();
        s.on('data', (d: Buffer) => void (peerGot += d.length));
        srv.close();
        resolve();
      });
      void nodeListen(srv).then((port) => (peerPort = port));
    });
    let peerPort = 0;
    while (peerPort === 0) await new Promise((r) => setImmediate(r));
    const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', peerPort);
    await peerReady;
    const duplex = toDuplex(transport);
    const chunk = Buffer.alloc(64 * 1024, 1);
    let written = 0;
    let accepted = true;
    while (accepted && written < 256 * 1024 * 1024) {
      accepted = duplex.write(chunk);
      written += chunk.length;
      if (accepted) await new Promise((r) => setImmediate(r));
    }
    t.false(accepted, 'write() returned false once the transport paused writing');
    t.true(
      transport.getWriteBufferSize() > 64 * 1024,
      'the transport is above its high-water mark',
    );
    const drained = new Promise<void>((resolve) => duplex.once('drain', () => resolve()));
    peer.resume();
    await drained;
    t.true(
      transport.getWriteBufferSize() <= 16 * 1024,
      'drain came once the transport resumed writing',
    );
    duplex.end();
    await new Promise<void>((resolve) => peer.on('end', () => resolve()));
    t.is(peerGot, written, 'every byte arrived, then EOF from end()');
    peer.end();
    await new Promise<void>((resolve) => duplex.once('close', () => resolve()).resume());
    await closeUv(t, loop);
    await assertNoLeaks(t, base);
  },
);

serial(
  "toDuplex: 'data' pausing, a slow pipe() and setEncoding() see every byte in order",
  async (t) => {
    const base = resourceCounts();
    const loop = new UvEventLoop(new Loop());
    const peers: net.Socket[] = [];
    const srv = net.createServer((s) => peers.push(s));
    const port = await nodeListen(srv);
    const open = async (): Promise<[Duplex, net.Socket, Transport]> => {
      const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', port);
      while (peers.length === 0) await new Promise((r) => setImmediate(r));
      return [toDuplex(transport), peers.shift()!, transport];
    };
    const payload = randomBytes(2 * 1024 * 1024);
    const text = 'é€'.repeat(200_000); // multi-byte characters split across reads

    // A 'data' listener that pauses for a while on every 10th chunk.
    const [paused, peer1] = await open();
    const got: Buffer[] = [];
    paused.on('data', (d: Buffer) => {
      got.push(d);
      if (got.length % 10 === 0) {
        paused.pause();
        setTimeout(() => paused.resume(), 5);
      }
    });
    const ended1 = new Promise((r) => paused.once('end', r));
    peer1.end(payload);
    await ended1;
    t.true(Buffer.concat(got).equals(payload), 'pause() in a data listener');

    // pipe() into a writer that takes a tick per chunk and has a small buffer.
    const [piped, peer2, transport2] = await open();
    const sunk: Buffer[] = [];
    let pausedReading = false;
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        sunk.push(chunk);
        setImmediate(() => {
          // Before this write completes, the duplex buffered the next reads.
          if (!transport2.isReading()) pausedReading = true;
          cb();
        });
      },
    });
    peer2.end(payload);
    await pipeline(piped, sink);
    t.true(Buffer.concat(sunk).equals(payload), 'pipe() into a slow writer');
    t.true(pausedReading, 'the slow writer paused the transport reading');

    // setEncoding(): strings, no character cut in two.
    const [decoded, peer3] = await open();
    decoded.setEncoding('utf8');
    let str = '';
    decoded.on('data', (s: string) => (str += s));
    const ended3 = new Promise((r) => decoded.once('end', r));
    peer3.end(Buffer.from(text));
    await ended3;
    t.is(str, text, 'setEncoding()');

    for (const d of [paused, piped, decoded]) d.destroy();
    srv.close();
    await closeUv(t, loop);
    await assertNoLeaks(t, base);
  },
);

serial('toDuplex: an unread duplex pauses the transport reading; reading resumes it', async (t) => {
  const base = resourceCounts();
  const loop = new UvEventLoop(new Loop());
  let peer!: net.Socket;
  const srv = net.createServer((s) => {
    peer = s;
    srv.close();
  });
  const port = await nodeListen(srv);
  const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', port);
  while (peer === undefined) await new Promise((r) => setImmediate(r));
  const duplex = toDuplex(transport);
  const payload = randomBytes(1024 * 1024);
  peer.write(payload);
  peer.end();
  // Nobody reads: the duplex buffer fills past its 16 KiB mark.
  const deadline = Date.now() + 5000;
  while (transport.isReading() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.false(transport.isReading(), 'push() returning false paused the transport');
  t.true(duplex.readableLength >= duplex.readableHighWaterMark);
  const parts: Buffer[] = [];
  for await (const part of duplex) parts.push(part as Buffer);
  t.true(
    Buffer.concat(parts).equals(payload),
    'reading resumed it; everything arrived, then the end',
  );
  duplex.destroy();
  await new Promise<void>((resolve) =>
    duplex.closed ? resolve() : duplex.once('close', () => resolve()),
  );
  await closeUv(t, loop);
  await assertNoLeaks(t, base);
});

serial(
  'toDuplex: destroy() aborts the transport; connectionLost with an error destroys the duplex with it',
  async (t) => {
    const base = resourceCounts();
    const loop = new UvEventLoop(new Loop());
    const sockets: net.Socket[] = [];
    const srv = net.createServer((s) => void sockets.push(s.on('error', () => {})));
    const port = await nodeListen(srv);
    const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', port);
    const duplex = toDuplex(transport);
    duplex.destroy();
    t.true(transport.isClosing());
    // The peer sees the connection go away.
    while (sockets.length === 0) await new Promise((r) => setImmediate(r));
    await new Promise<void>((resolve) => sockets[0]!.once('close', () => resolve()).resume());

    const [transport2] = await loop.createConnection(() => ({}), '127.0.0.1', port);
    const duplex2 = toDuplex(transport2);
    while (sockets.length < 2) await new Promise((r) => setImmediate(r));
    const errored = new Promise<Error>((resolve) => duplex2.once('error', resolve));
    sockets[1]!.resetAndDestroy(); // RST: the transport loses the connection with ECONNRESET
    const err = await errored;
    t.is((err as { code?: string }).code, 'ECONNRESET');
    t.true(duplex2.destroyed);
    srv.close();
    await closeUv(t, loop);
    await assertNoLeaks(t, base);
  },
);

tlsTest(
  'fromDuplex runs a Protocol over a tls.TLSSocket, with flow control both ways',
  async (t) => {
    const base = resourceCounts();
    const { key, cert } = await selfSignedCert();
    // A node:tls echo server that can stop reading.
    let serverSide!: tls.TLSSocket;
    const tlsServer = tls.createServer({ key, cert }, (s) => {
      serverSide = s;
      s.pipe(s);
    });
    const port = await nodeListen(tlsServer);
    const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' });
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    const loop = new NodeEventLoop();
    const [transport, protocol] = fromDuplex(socket, () => new CollectProtocol(), { loop });
    t.is(transport.getExtraInfo('peercert')!.subject.CN, 'localhost');
    t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', port]);
    t.deepEqual(protocol.calls, [], 'connectionMade is deferred');
    await new Promise((r) => setImmediate(r));
    t.deepEqual(protocol.calls, ['made']);
    transport.write('hello over TLS');
    await protocol.until(14);
    t.is(protocol.data().toString(), 'hello over TLS');

    // Writing side: the echo server stops reading, our buffer passes 64 KiB.
    serverSide.unpipe(serverSide);
    serverSide.pause();
    const chunk = Buffer.alloc(64 * 1024, 2);
    let sent = 14;
    while (!protocol.calls.includes('pause') && sent < 256 * 1024 * 1024) {
      transport.write(chunk);
      sent += chunk.length;
      await new Promise((r) => setImmediate(r));
    }
    t.true(protocol.calls.includes('pause'));
    // Reading side: we stop reading, the server's echo backs up behind us.
    transport.pauseReading();
    const receivedBefore = protocol.received;
    serverSide.pipe(serverSide);
    const resumed = new Promise<void>((resolve) => (protocol.resumeWriting = () => resolve()));
    await new Promise((r) => setTimeout(r, 100));
    t.is(protocol.received, receivedBefore, 'no dataReceived while reading is paused');
    transport.resumeReading();
    await resumed;
    await protocol.until(sent);
    t.is(protocol.received, sent, 'everything echoed once reading resumed');
    transport.close();
    t.is(await protocol.lost, null);
    tlsServer.close();
    loop.close();
    await assertNoLeaks(t, base);
  },
);

tlsTest('NodeEventLoop.startTls upgrades a UvEventLoop transport through toDuplex', async (t) => {
  const base = resourceCounts();
  const { key, cert } = await selfSignedCert();
  const tlsServer = tls.createServer({ key, cert }, (s) => s.pipe(s));
  const port = await nodeListen(tlsServer);
  const uvLoop = new UvEventLoop(new Loop());
  const nodeLoop = new NodeEventLoop();
  const [plain] = await uvLoop.createConnection(() => ({}), '127.0.0.1', port);
  const secure = new CollectProtocol();
  const upgraded = await nodeLoop.startTls(
    plain,
    secure,
    { ca: cert },
    { serverHostname: 'localhost' },
  );
  t.is(upgraded.getExtraInfo('peercert')!.subject.CN, 'localhost');
  const payload = randomBytes(200_000);
  upgraded.write(payload);
  await secure.until(payload.length);
  t.true(secure.data().equals(payload));
  upgraded.close();
  t.is(await secure.lost, null);
  tlsServer.close();
  nodeLoop.close();
  await closeUv(t, uvLoop);
  await assertNoLeaks(t, base);
});

test('fromDuplex refuses what is not a Duplex with ERR_INVALID_ARG_TYPE and tracks nothing', (t) => {
  const loop = new NodeEventLoop();
  for (const bad of [undefined, null, 1, 'socket', {}, { on() {}, write() {} }]) {
    t.throws(() => fromDuplex(bad as never, () => new CollectProtocol(), { loop }), {
      code: 'ERR_INVALID_ARG_TYPE',
      name: 'UsageError',
    });
  }
  t.deepEqual(loop.liveResources(), {});
  loop.close();
});

test('toDuplex refuses options that are not an object or an allowHalfOpen that is not a boolean, and leaves the transport as it was', async (t) => {
  const loop = new NodeEventLoop();
  // The client may close before reading 'hello': the reset is expected.
  const server = net.createServer((s) => s.on('error', () => {}).end('hello'));
  const port = await nodeListen(server);
  const [transport, protocol] = await loop.createConnection(
    () => new CollectProtocol(),
    '127.0.0.1',
    port,
  );
  for (const bad of [null, 1, 'yes']) {
    t.throws(() => toDuplex(transport, bad as never), {
      code: 'ERR_INVALID_ARG_TYPE',
      name: 'UsageError',
    });
  }
  t.throws(() => toDuplex(transport, { allowHalfOpen: 1 as never }), {
    code: 'ERR_INVALID_ARG_TYPE',
    name: 'UsageError',
  });
  t.is(transport.getProtocol(), protocol, 'the protocol was not replaced');
  transport.close();
  await protocol.lost;
  await new Promise((resolve) => server.close(resolve));
  t.deepEqual(loop.liveResources(), {});
  loop.close();
});

// docs/loop.md, "Closing", and docs/adapters.md, toDuplex: a Node stream from
// toDuplex() is destroyed at once when its transport's loop closes (the
// transport is closed without connectionLost, which would otherwise be what
// ends the stream), with no error, and emits 'close'.
for (const [name, onLoop] of bothEventLoops) {
  serial(`toDuplex on ${name}: the loop's close() destroys the stream at once`, (t) =>
    onLoop(t, async (loop) => {
      const peer = net.createServer((socket) => socket.on('error', () => {}));
      const port = await nodeListen(peer);
      try {
        const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', port);
        const duplex = toDuplex(transport);
        const errors: unknown[] = [];
        duplex.on('error', (err) => errors.push(err));
        const closed = new Promise<void>((resolve) => duplex.once('close', () => resolve()));
        loop.close();
        t.true(duplex.destroyed, 'destroyed within close()');
        t.true(transport.isClosing());
        await closed;
        t.deepEqual(errors, []);
      } finally {
        await new Promise((resolve) => peer.close(resolve));
      }
    }),
  );
}
