// createConnection's and createUnixConnection's `sock` (asyncio's sock=)
// on both loops: a transport over a TCP handle or a Unix socket (a Pipe)
// that is connected already, plain or with the client's side of a TLS
// handshake. The transport owns the handle; a refused one stays the
// caller's.
import test from 'ava';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import {
  Loop,
  openConnection,
  openUnixConnection,
  Pipe,
  startUnixServer,
  TCP,
  UvEventLoop,
} from 'asyncuv';
import { CollectProtocol } from '../adapters/protocols.js';
import { selfSignedCert } from '../adapters/tls-cert.js';
import { bothEventLoops, onUvEventLoop } from '../helpers/event-loop-test.js';
import { assertNoHandlesAndClose, within } from '../helpers/loop-test.js';
import { tempDir } from '../helpers/sock-test.js';
import { quietFdCount, settledFdCount } from '../reliability/fd-table.js';
import { withPrograms } from '../helpers/tools.js';

const tlsTest = withPrograms(test, ['openssl']);

/** An echo server of node:net on 127.0.0.1, or on `path`. */
async function echoServer(path?: string): Promise<net.Server> {
  const server = net.createServer((socket) => socket.pipe(socket));
  if (path === undefined) server.listen(0, '127.0.0.1');
  else server.listen(path);
  await within(once(server, 'listening'), 'listening');
  return server;
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

/** A TCP handle of `uvloop` connected to 127.0.0.1:`port`. */
function connectedTcp(uvloop: Loop, port: number): Promise<TCP> {
  const tcp = new TCP(uvloop);
  return within(
    new Promise((resolve, reject) => {
      tcp.connect('127.0.0.1', port, (err) => (err === null ? resolve(tcp) : reject(err)));
    }),
    'connect',
  );
}

/** A Pipe of `uvloop` connected to `path`. */
function connectedPipe(uvloop: Loop, path: string): Promise<Pipe> {
  const pipe = new Pipe(uvloop);
  return within(
    new Promise((resolve, reject) => {
      pipe.connect(path, (err) => (err === null ? resolve(pipe) : reject(err)));
    }),
    'connect',
  );
}

function closeServer(server: net.Server): Promise<unknown> {
  server.close();
  return within(once(server, 'close'), 'the server closing');
}

// Serial: the count is of the whole process, and runs before the other tests.
test.serial(
  'createConnection and createUnixConnection with sock leave no fd behind over 50 cycles on both loops',
  async (t) => {
    const dir = tempDir();
    const path = dir.path('cycles.sock');
    const server = await echoServer();
    const unixServer = await echoServer(path);
    try {
      for (const [name, onLoop] of bothEventLoops) {
        await onLoop(t, async (loop, uvloop) => {
          let before = 0;
          // Cycle 0 warms up (lazily made fds); the count is taken after it.
          for (let i = 0; i <= 50; i++) {
            if (i === 1) before = await quietFdCount();
            const tcp = await connectedTcp(uvloop, portOf(server));
            const [transport, proto] = await loop.createConnection(
              () => new CollectProtocol(),
              null,
              null,
              { sock: tcp },
            );
            const pipe = await connectedPipe(uvloop, path);
            const [unixTransport, unixProto] = await loop.createUnixConnection(
              () => new CollectProtocol(),
              null,
              { sock: pipe },
            );
            transport.close();
            unixTransport.close();
            await within(Promise.all([proto.lost, unixProto.lost]), 'connectionLost');
            t.true(tcp.closed && pipe.closed);
          }
          // The servers' ends close once they read the EOF.
          t.is(await settledFdCount(before), before, `${name}: the fd count is back where it was`);
        });
      }
    } finally {
      await closeServer(server);
      await closeServer(unixServer);
      dir.remove();
    }
  },
);

for (const [name, onLoop] of bothEventLoops) {
  test(`${name}: createConnection serves a connected TCP handle given as sock, and owns it`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const server = await echoServer();
      try {
        const sock = await connectedTcp(uvloop, portOf(server));
        const local = sock.getsockname();
        const [transport, proto] = await loop.createConnection(
          () => new CollectProtocol(),
          null,
          undefined,
          { sock },
        );
        t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', portOf(server)]);
        t.deepEqual(transport.getExtraInfo('sockname'), ['127.0.0.1', local.port]);
        t.not(transport.getExtraInfo('socket'), undefined);
        transport.write('ping');
        await within(proto.until(4), 'the echo');
        t.is(Buffer.concat(proto.chunks).toString(), 'ping');
        transport.close();
        t.is(await within(proto.lost, 'connectionLost'), null);
        t.true(sock.closed, 'the transport closed the handle');
      } finally {
        await closeServer(server);
      }
    }));

  test(`${name}: createUnixConnection serves a connected Pipe given as sock, and owns it`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const dir = tempDir();
      const path = dir.path('echo.sock');
      const server = await echoServer(path);
      try {
        const sock = await connectedPipe(uvloop, path);
        const [transport, proto] = await loop.createUnixConnection(
          () => new CollectProtocol(),
          null,
          { sock },
        );
        t.is(transport.getExtraInfo('peername'), path);
        t.is(transport.getExtraInfo('sockname'), '');
        transport.write('unix');
        await within(proto.until(4), 'the echo');
        t.is(Buffer.concat(proto.chunks).toString(), 'unix');
        transport.close();
        t.is(await within(proto.lost, 'connectionLost'), null);
        t.true(sock.closed, 'the transport closed the handle');
      } finally {
        await closeServer(server);
        dir.remove();
      }
    }));

  tlsTest(`${name}: createConnection with sock and ssl does the client's handshake`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const { key, cert } = await selfSignedCert();
      const server = tls.createServer({ key, cert }, (socket) => socket.pipe(socket));
      server.listen(0, '127.0.0.1');
      await within(once(server, 'listening'), 'listening');
      try {
        const sock = await connectedTcp(uvloop, portOf(server));
        const [transport, proto] = await loop.createConnection(
          () => new CollectProtocol(),
          null,
          null,
          { sock, ssl: { ca: cert }, serverHostname: 'localhost', sslHandshakeTimeout: 10 },
        );
        t.is(typeof transport.getExtraInfo('cipher'), 'object');
        transport.write('secret');
        await within(proto.until(6), 'the echo');
        t.is(Buffer.concat(proto.chunks).toString(), 'secret');
        transport.close();
        await within(proto.lost, 'connectionLost');
        t.true(sock.closed);
        // A server the client does not trust: the call rejects, and the
        // handle, the transport's by then, is closed.
        const untrusted = await connectedTcp(uvloop, portOf(server));
        await t.throwsAsync(
          loop.createConnection(() => new CollectProtocol(), null, null, {
            sock: untrusted,
            ssl: true,
            serverHostname: 'localhost',
          }),
        );
        t.true(untrusted.closed, 'the failed handshake closed the handle');
      } finally {
        await closeServer(server);
      }
    }),
  );

  test(`${name}: a bad sock or argument beside it is a usage error and the sock stays the caller's`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const dir = tempDir();
      const path = dir.path('echo.sock');
      const server = await echoServer();
      const unixServer = await echoServer(path);
      const unconnected = new TCP(uvloop);
      const closed = new TCP(uvloop);
      const ipc = new Pipe(uvloop, true);
      try {
        const sock = await connectedTcp(uvloop, portOf(server));
        const pipe = await connectedPipe(uvloop, path);
        const make = () => new CollectProtocol();
        const value = { code: 'ERR_INVALID_ARG_VALUE' };
        await t.throwsAsync(loop.createConnection(make, '127.0.0.1', null, { sock }), value);
        await t.throwsAsync(loop.createConnection(make, null, portOf(server), { sock }), value);
        await t.throwsAsync(
          loop.createConnection(make, null, null, { sock, localAddr: ['127.0.0.1', 0] }),
          value,
        );
        await t.throwsAsync(loop.createConnection(make, null, null, { sock, ssl: true }), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /serverHostname/,
        });
        await t.throwsAsync(
          loop.createConnection(make, null, null, { sock, serverHostname: 'localhost' }),
          { code: 'ERR_INVALID_ARG_VALUE', message: /only meaningful with ssl/ },
        );
        await t.throwsAsync(
          loop.createConnection(make, null, null, { sock: pipe as unknown as TCP }),
          { code: 'ERR_INVALID_ARG_TYPE' },
        );
        unconnected.bind('127.0.0.1', 0);
        await t.throwsAsync(loop.createConnection(make, null, null, { sock: unconnected }), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /must be connected/,
        });
        closed.close();
        await t.throwsAsync(loop.createConnection(make, null, null, { sock: closed }), {
          code: 'ERR_HANDLE_CLOSED',
        });
        await t.throwsAsync(loop.createUnixConnection(make, path, { sock: pipe }), value);
        await t.throwsAsync(
          loop.createUnixConnection(make, null, { sock: sock as unknown as Pipe }),
          { code: 'ERR_INVALID_ARG_TYPE' },
        );
        await t.throwsAsync(loop.createUnixConnection(make, null, { sock: ipc }), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /IPC/,
        });
        t.false(sock.closed, "a refused sock stays the caller's");
        t.false(pipe.closed);
        t.false(unconnected.closed);
        // A protocol factory that throws: the call rejects with its error,
        // and the handle, taken by then, is closed.
        const boom = new Error('no protocol');
        const thrower = (): CollectProtocol => {
          throw boom;
        };
        await t.throwsAsync(loop.createConnection(thrower, null, null, { sock }), { is: boom });
        await t.throwsAsync(loop.createUnixConnection(thrower, null, { sock: pipe }), { is: boom });
        t.true(sock.closed);
        t.true(pipe.closed);
      } finally {
        unconnected.close();
        ipc.close();
        await closeServer(server);
        await closeServer(unixServer);
        dir.remove();
      }
    }));

  test(`${name}: the stream functions take sock too (open_connection, start_unix_server...)`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const dir = tempDir();
      const path = dir.path('streams.sock');
      const tcpServer = await echoServer();
      try {
        const bound = new Pipe(uvloop);
        bound.bind(path);
        const server = await startUnixServer(
          async (reader, writer) => {
            writer.write(await reader.readline());
            await writer.drain();
            writer.close();
          },
          null,
          { loop, sock: bound },
        );
        const pipe = await connectedPipe(uvloop, path);
        const unix = await openUnixConnection(null, { loop, sock: pipe });
        unix.writer.write('over unix\n');
        t.is((await within(unix.reader.readline(), 'a line')).toString(), 'over unix\n');
        unix.writer.close();
        await within(unix.writer.waitClosed(), 'waitClosed');
        t.true(pipe.closed);
        server.close();
        await within(server.waitClosed(), 'the server closing');
        t.true(bound.closed);
        const tcp = await connectedTcp(uvloop, portOf(tcpServer));
        const { reader, writer } = await openConnection(null, null, { loop, sock: tcp });
        writer.write('over tcp\n');
        t.is((await within(reader.readline(), 'a line')).toString(), 'over tcp\n');
        writer.close();
        await within(writer.waitClosed(), 'waitClosed');
        t.true(tcp.closed);
      } finally {
        await closeServer(tcpServer);
        dir.remove();
      }
    }));

  test(`${name}: a closed loop refuses a sock, which stays the caller's`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const server = await echoServer();
      try {
        const sock = await connectedTcp(uvloop, portOf(server));
        loop.close();
        const make = () => new CollectProtocol();
        await t.throwsAsync(loop.createConnection(make, null, null, { sock }), {
          code: 'ERR_LOOP_CLOSED',
        });
        await t.throwsAsync(loop.connectAcceptedSocket(make, sock), { code: 'ERR_LOOP_CLOSED' });
        t.false(sock.closed);
        sock.close();
      } finally {
        await closeServer(server);
      }
    }));
}

test('UvEventLoop.createConnection takes a sock of its own Loop only', (t) =>
  onUvEventLoop(t, async (loop: UvEventLoop) => {
    const other = new Loop();
    const server = await echoServer();
    try {
      const sock = await connectedTcp(other, portOf(server));
      await t.throwsAsync(
        loop.createConnection(() => new CollectProtocol(), null, null, { sock }),
        { code: 'ERR_INVALID_ARG_VALUE', message: /Loop/ },
      );
      t.false(sock.closed);
      sock.close();
    } finally {
      await closeServer(server);
      await assertNoHandlesAndClose(t, other);
    }
  }));
