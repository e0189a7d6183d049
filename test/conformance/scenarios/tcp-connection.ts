// TCP client connections (test_events.py: test_create_connection*,
// test_create_connection_local_addr*, connection refused, cancellation).
import { UvError, type Protocol, type Transport } from 'asyncuv';
import { HTTP_REQUEST, MyProto } from '../protocols.js';
import {
  HTTP_RESPONSE,
  freePort,
  hasIPv6,
  httpLikeServer,
  netConnect,
  netServer,
} from '../peers.js';
import { type MakeLoop, type Test, future, withLoop, within } from '../harness.js';

export function tcpConnection(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: createConnection: MyProto goes INITIAL -> CONNECTED -> EOF -> CLOSED and counts the bytes`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await httpLikeServer();
      try {
        const [transport, proto] = await loop.createConnection(
          () => new MyProto(),
          '127.0.0.1',
          server.port,
        );
        t.true(proto instanceof MyProto);
        // connectionMade has run by the time createConnection resolves.
        t.is(proto.state, 'CONNECTED');
        t.is(proto.transport, transport);
        await within(proto.done, 'connectionLost');
        t.is(proto.state, 'CLOSED');
        t.is(proto.nbytes, HTTP_RESPONSE.length);
        t.is(proto.received(), HTTP_RESPONSE);
        t.is(proto.lostWith, null);
        t.is(proto.lostCalls, 1);
        t.deepEqual(proto.violations, []);
        t.true(transport.isClosing());
      } finally {
        await server.close();
      }
    }));

  test(`${name}: getExtraInfo gives peername and sockname as [host, port], and a default for unknown names`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await netServer();
      try {
        const accepted = server.nextSocket();
        const [transport, proto] = await loop.createConnection(
          () => new MyProto(null),
          '127.0.0.1',
          server.port,
        );
        const peer = await within(accepted, 'accept');
        t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', server.port]);
        t.deepEqual(transport.getExtraInfo('sockname'), ['127.0.0.1', peer.remotePort]);
        t.is(transport.getExtraInfo('no-such-thing'), undefined);
        t.is(transport.getExtraInfo('no-such-thing', 'dflt'), 'dflt');
        t.is(transport.getProtocol(), proto);
        transport.close();
        await within(proto.done, 'connectionLost');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: createConnection resolves a host name`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await httpLikeServer();
      try {
        const [, proto] = await loop.createConnection(
          () => new MyProto(),
          'localhost',
          server.port,
        );
        await within(proto.done, 'connectionLost');
        t.is(proto.received(), HTTP_RESPONSE);
      } finally {
        await server.close();
      }
    }));

  if (hasIPv6()) {
    test(`${name}: createConnection over IPv6`, (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const server = await netServer(() => {}, '::1');
        try {
          const [transport, proto] = await loop.createConnection(
            () => new MyProto(null),
            '::1',
            server.port,
          );
          t.deepEqual(transport.getExtraInfo('peername'), ['::1', server.port]);
          transport.close();
          await within(proto.done, 'connectionLost');
        } finally {
          await server.close();
        }
      }));
  }

  test(`${name}: a refused connection rejects with UvError ECONNREFUSED and leaves nothing open`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const port = await freePort();
      let made = 0;
      const err = await t.throwsAsync(
        loop.createConnection(
          () => ({ connectionMade: () => void made++ }) as Protocol,
          '127.0.0.1',
          port,
        ),
      );
      t.true(err instanceof UvError, String(err));
      t.is((err as UvError).code, 'ECONNREFUSED');
      t.is((err as UvError).syscall, 'connect');
      // The address, as node:net's 'connect ECONNREFUSED 127.0.0.1:<port>'.
      t.true((err as UvError).message.includes(`127.0.0.1:${port}`), (err as UvError).message);
      t.is(made, 0);
    }));

  test(`${name}: localAddr binds the client side`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await netServer();
      try {
        const port = await freePort();
        const [transport, proto] = await loop.createConnection(
          () => new MyProto(null),
          '127.0.0.1',
          server.port,
          { localAddr: ['127.0.0.1', port] },
        );
        t.deepEqual(transport.getExtraInfo('sockname'), ['127.0.0.1', port]);
        transport.close();
        await within(proto.done, 'connectionLost');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: a localAddr already in use rejects with EADDRINUSE`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await netServer();
      try {
        const err = await t.throwsAsync(
          loop.createConnection(() => new MyProto(null), '127.0.0.1', server.port, {
            localAddr: ['127.0.0.1', server.port],
          }),
        );
        t.is((err as UvError).code, 'EADDRINUSE');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: an aborted signal cancels createConnection with an AbortError`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await netServer();
      try {
        const already = AbortSignal.abort();
        await t.throwsAsync(
          loop.createConnection(() => new MyProto(), '127.0.0.1', server.port, { signal: already }),
          { code: 'ABORT_ERR', name: 'AbortError' },
        );
        // Aborted while the connection is under way (the name is still resolving).
        const controller = new AbortController();
        const made: MyProto[] = [];
        const pending = loop.createConnection(
          () => {
            const p = new MyProto();
            made.push(p);
            return p;
          },
          'localhost',
          server.port,
          { signal: controller.signal },
        );
        controller.abort();
        await t.throwsAsync(pending, { code: 'ABORT_ERR' });
        t.is(made.filter((p) => p.state !== 'INITIAL').length, 0, 'no protocol saw a connection');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: bad arguments to createConnection are usage errors`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      await t.throwsAsync(
        async () => loop.createConnection(() => new MyProto(), '127.0.0.1', 70000),
        { code: 'ERR_OUT_OF_RANGE' },
      );
      await t.throwsAsync(async () => loop.createConnection('nope' as never, '127.0.0.1', 80), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
      await t.throwsAsync(async () => loop.createConnection(() => new MyProto(), 42 as never, 80), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
    }));

  test(`${name}: a protocol that throws in dataReceived reaches the handler with transport and protocol, and the connection is closed`, (t) =>
    withLoop(
      t,
      makeLoop,
      async ({ loop, exceptions }) => {
        const server = await netServer((s) => s.write('trigger'));
        try {
          const lost = future<Error | null>();
          const boom = new Error('protocol bug');
          const proto: Protocol = {
            dataReceived() {
              throw boom;
            },
            connectionLost: (err) => lost.resolve(err),
          };
          const [transport] = await loop.createConnection(() => proto, '127.0.0.1', server.port);
          const err = await within(lost.promise, 'connectionLost');
          t.is(err, boom);
          t.is(exceptions.length, 1);
          t.is(exceptions[0]!.exception, boom);
          t.is(exceptions[0]!.transport, transport);
          t.is(exceptions[0]!.protocol, proto);
        } finally {
          await server.close();
        }
      },
      { expectExceptions: true },
    ));

  test(`${name}: a server-side MyProto sees the client's bytes, then CLOSED after transport.close()`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const proto = new MyProto();
      const server = await loop.createServer(() => proto, '127.0.0.1', 0);
      const { port } = server.sockets()[0] as { port: number };
      const client = await netConnect(port);
      const fromServer = future<string>();
      client.once('data', (d) => fromServer.resolve(d.toString()));
      client.write('xxx');
      for (let i = 0; i < 400 && proto.nbytes < 3; i++) await new Promise((r) => setTimeout(r, 5));
      t.is(proto.state, 'CONNECTED');
      t.is(proto.nbytes, 3);
      t.is(await within(fromServer.promise, 'greeting'), HTTP_REQUEST);
      const transport = proto.transport as Transport;
      t.deepEqual(transport.getExtraInfo('sockname'), ['127.0.0.1', port]);
      t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', client.localPort]);
      transport.close();
      // connectionLost is deferred: not from inside close().
      t.is(proto.state, 'CONNECTED');
      await within(proto.done, 'connectionLost');
      t.is(proto.state, 'CLOSED');
      t.is(proto.lostCalls, 1);
      t.deepEqual(proto.violations, []);
      client.destroy();
      server.close();
      await within(server.waitClosed(), 'waitClosed');
    }));
}
