// connectAcceptedSocket (asyncio's connect_accepted_socket) on both loops:
// a transport over a TCP handle or a Unix socket (a Pipe) accepted by code
// of the user's own, plain or with the server's side of a TLS handshake.
// The transport owns the handle.
import test from 'ava';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { Loop, Pipe, TCP } from 'asyncuv';
import { EchoProtocol } from '../adapters/protocols.js';
import { selfSignedCert } from '../adapters/tls-cert.js';
import { bothEventLoops, onUvEventLoop } from '../helpers/event-loop-test.js';
import { assertNoHandlesAndClose, within } from '../helpers/loop-test.js';
import { tempDir } from '../helpers/sock-test.js';
import { withPrograms } from '../helpers/tools.js';

/** A TCP handle listening on `uvloop`; accepted() gives the next connection's handle. */
function listener(uvloop: Loop): { port: number; accepted: () => Promise<TCP>; close(): void } {
  const server = new TCP(uvloop);
  server.bind('127.0.0.1', 0);
  const waiting: Array<(tcp: TCP) => void> = [];
  server.listen(8, (err) => {
    if (err !== null) return;
    const tcp = new TCP(uvloop);
    server.accept(tcp);
    waiting.shift()?.(tcp);
  });
  return {
    port: server.getsockname().port,
    accepted: () => within(new Promise<TCP>((resolve) => waiting.push(resolve)), 'accept'),
    close: () => server.close(),
  };
}

/** A Pipe listening at a fresh path on `uvloop`; accepted() gives the next connection's Pipe. */
function unixListener(uvloop: Loop): {
  path: string;
  accepted: () => Promise<Pipe>;
  close(): void;
} {
  const dir = tempDir();
  const path = dir.path('s.sock');
  const server = new Pipe(uvloop);
  server.bind(path);
  const waiting: Array<(pipe: Pipe) => void> = [];
  server.listen(8, (err) => {
    if (err !== null) return;
    const pipe = new Pipe(uvloop);
    server.accept(pipe);
    waiting.shift()?.(pipe);
  });
  return {
    path,
    accepted: () => within(new Promise<Pipe>((resolve) => waiting.push(resolve)), 'accept'),
    close: () => {
      server.close();
      dir.remove();
    },
  };
}

const tlsTest = withPrograms(test, ['openssl']);

for (const [name, onLoop] of bothEventLoops) {
  test(`${name}: connectAcceptedSocket serves an accepted TCP handle, and owns it`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const server = listener(uvloop);
      try {
        const next = server.accepted();
        const client = net.connect(server.port, '127.0.0.1');
        await within(once(client, 'connect'), 'connect');
        const sock = await next;
        const [transport, proto] = await loop.connectAcceptedSocket(() => new EchoProtocol(), sock);
        t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', client.localPort]);
        t.deepEqual(transport.getExtraInfo('sockname'), ['127.0.0.1', server.port]);
        client.write('ping');
        const [echo] = (await within(once(client, 'data'), 'the echo')) as [Buffer];
        t.is(echo.toString(), 'ping');
        transport.close();
        await within(once(client, 'end'), 'the EOF');
        t.is(await within(proto.lost, 'connectionLost'), null);
        t.true(sock.closed, 'the transport closed the handle');
        client.destroy();
      } finally {
        server.close();
      }
    }));

  test(`${name}: connectAcceptedSocket serves an accepted Unix socket, and owns it`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const server = unixListener(uvloop);
      try {
        const next = server.accepted();
        const client = net.connect(server.path);
        await within(once(client, 'connect'), 'connect');
        const sock = await next;
        const [transport, proto] = await loop.connectAcceptedSocket(() => new EchoProtocol(), sock);
        t.is(transport.getExtraInfo('sockname'), server.path);
        t.is(transport.getExtraInfo('peername'), '');
        client.write('ping');
        const [echo] = (await within(once(client, 'data'), 'the echo')) as [Buffer];
        t.is(echo.toString(), 'ping');
        transport.close();
        await within(once(client, 'end'), 'the EOF');
        t.is(await within(proto.lost, 'connectionLost'), null);
        t.true(sock.closed, 'the transport closed the handle');
        client.destroy();
      } finally {
        server.close();
      }
    }));

  test(`${name}: an IPC or unconnected Pipe is a usage error and stays the caller's`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const ipc = new Pipe(uvloop, true);
      const unconnected = new Pipe(uvloop);
      try {
        const make = () => new EchoProtocol();
        await t.throwsAsync(loop.connectAcceptedSocket(make, ipc), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /IPC/,
        });
        await t.throwsAsync(loop.connectAcceptedSocket(make, unconnected), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /must be connected/,
        });
        t.false(ipc.closed);
        t.false(unconnected.closed);
      } finally {
        ipc.close();
        unconnected.close();
      }
    }));

  tlsTest(`${name}: connectAcceptedSocket with ssl does the server's side of the handshake`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const { key, cert } = await selfSignedCert();
      const server = listener(uvloop);
      try {
        const next = server.accepted();
        const client = tls.connect({
          port: server.port,
          host: '127.0.0.1',
          ca: cert,
          servername: 'localhost',
        });
        const secured = once(client, 'secureConnect');
        const sock = await next;
        const [transport] = await loop.connectAcceptedSocket(() => new EchoProtocol(), sock, {
          ssl: { key, cert },
          sslHandshakeTimeout: 10,
        });
        await within(secured, 'the handshake');
        t.true(client.authorized);
        t.is(typeof transport.getExtraInfo('cipher'), 'object');
        client.write('secret');
        const [echo] = (await within(once(client, 'data'), 'the echo')) as [Buffer];
        t.is(echo.toString(), 'secret');
        client.destroy();
        transport.close();
        // A client that does not trust the certificate ends the handshake:
        // the call rejects, and the handle is closed.
        const nextBad = server.accepted();
        const untrusting = tls.connect({ port: server.port, host: '127.0.0.1' });
        untrusting.on('error', () => {});
        const badSock = await nextBad;
        await t.throwsAsync(
          loop.connectAcceptedSocket(() => new EchoProtocol(), badSock, { ssl: { key, cert } }),
        );
        t.true(badSock.closed, 'the failed handshake closed the handle');
        untrusting.destroy();
      } finally {
        server.close();
      }
    }),
  );

  test(`${name}: a bad sock or option is a usage error and the sock stays the caller's`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const server = listener(uvloop);
      const unconnected = new TCP(uvloop);
      const closed = new TCP(uvloop);
      try {
        const next = server.accepted();
        const client = net.connect(server.port, '127.0.0.1');
        const sock = await next;
        const make = () => new EchoProtocol();
        await t.throwsAsync(loop.connectAcceptedSocket(make, 3 as unknown as TCP), {
          code: 'ERR_INVALID_ARG_TYPE',
        });
        unconnected.bind('127.0.0.1', 0);
        await t.throwsAsync(loop.connectAcceptedSocket(make, unconnected), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /must be connected/,
        });
        closed.close();
        await t.throwsAsync(loop.connectAcceptedSocket(make, closed), {
          code: 'ERR_HANDLE_CLOSED',
        });
        await t.throwsAsync(loop.connectAcceptedSocket(make, sock, { ssl: true as never }), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /key and cert/,
        });
        await t.throwsAsync(loop.connectAcceptedSocket(make, sock, { sslHandshakeTimeout: 5 }), {
          code: 'ERR_INVALID_ARG_VALUE',
        });
        t.false(sock.closed, "a refused sock stays the caller's");
        t.false(unconnected.closed);
        // A protocol factory that throws: the call rejects with its error,
        // and the connection it was to serve is closed.
        const boom = new Error('no protocol');
        await t.throwsAsync(
          loop.connectAcceptedSocket(() => {
            throw boom;
          }, sock),
          { is: boom },
        );
        t.true(sock.closed);
        await within(once(client, 'end'), 'the EOF');
        client.destroy();
      } finally {
        unconnected.close();
        server.close();
      }
    }));
}

test('UvEventLoop.connectAcceptedSocket takes a handle of its own Loop only', (t) =>
  onUvEventLoop(t, async (loop) => {
    const other = new Loop();
    const server = listener(other);
    try {
      const next = server.accepted();
      const client = net.connect(server.port, '127.0.0.1');
      const sock = await next;
      await t.throwsAsync(
        loop.connectAcceptedSocket(() => new EchoProtocol(), sock),
        {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /Loop/,
        },
      );
      t.false(sock.closed);
      sock.close();
      client.destroy();
    } finally {
      server.close();
      await assertNoHandlesAndClose(t, other);
    }
  }));
