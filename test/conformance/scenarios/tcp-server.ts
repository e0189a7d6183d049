// TCP servers (test_events.py: test_create_server*, test_create_server_reuse_port,
// test_create_server_multiple_hosts*; test_base_events.py: Server close,
// wait_closed, serve_forever).
import { once } from 'node:events';
import type net from 'node:net';
import type {
  AbstractEventLoop,
  Protocol,
  Server,
  ServerOptions,
  Transport,
  UvError,
} from 'asyncuv';
import { hasIPv6, netConnect, portOf, readToEnd } from '../peers.js';
import { type MakeLoop, type Test, future, testIf, until, withLoop, within } from '../harness.js';

/** A protocol that echoes and remembers its transport. */
class EchoProto implements Protocol {
  transport: Transport | undefined;
  lost = future<Error | null>();
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  dataReceived(data: Buffer): void {
    this.transport!.write(data);
  }
  connectionLost(err: Error | null): void {
    this.lost.resolve(err);
  }
}

/** A server of EchoProtos that keeps every protocol it made, in order. */
async function recordingServer(
  loop: AbstractEventLoop,
  opts: ServerOptions = {},
): Promise<{ server: Server; made: EchoProto[] }> {
  const made: EchoProto[] = [];
  const server = await loop.createServer(
    () => {
      const p = new EchoProto();
      made.push(p);
      return p;
    },
    '127.0.0.1',
    0,
    opts,
  );
  return { server, made };
}

async function echoOnce(port: number, host = '127.0.0.1', payload = 'ping'): Promise<string> {
  const client = await netConnect(port, host);
  const got = readToEnd(client);
  client.end(payload);
  return (await got).toString();
}

export function tcpServer(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: createServer on port 0 reports its bound port in sockets() and serves`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await loop.createServer(() => new EchoProto(), '127.0.0.1', 0);
      t.true(server.isServing());
      t.is(server.getLoop(), loop);
      const sockets = server.sockets();
      t.is(sockets.length, 1);
      const port = portOf(server);
      t.true(port > 0);
      t.deepEqual(
        sockets[0],
        { address: '127.0.0.1', port, family: 'IPv4' },
        'the same shape as TCP.getsockname() on every loop',
      );
      t.is(await within(echoOnce(port), 'echo'), 'ping');
      server.close();
      t.false(server.isServing());
      t.deepEqual(server.sockets(), []);
      await within(server.waitClosed(), 'waitClosed');
      server.close(); // twice is a no-op
    }));

  test(`${name}: a closed server refuses new connections`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await loop.createServer(() => new EchoProto(), '127.0.0.1', 0);
      const port = portOf(server);
      server.close();
      await within(server.waitClosed(), 'waitClosed');
      const err = await t.throwsAsync(
        loop.createConnection(() => new EchoProto(), '127.0.0.1', port),
      );
      t.is((err as UvError).code, 'ECONNREFUSED');
    }));

  test(`${name}: many clients at once are each served`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await loop.createServer(() => new EchoProto(), '127.0.0.1', 0);
      const port = portOf(server);
      const replies = await within(
        Promise.all(
          Array.from({ length: 20 }, (_, i) => echoOnce(port, '127.0.0.1', `client ${i}`)),
        ),
        'echoes',
      );
      t.deepEqual(
        replies,
        Array.from({ length: 20 }, (_, i) => `client ${i}`),
      );
      server.close();
      await within(server.waitClosed(), 'waitClosed');
    }));

  test(`${name}: createServer with an empty list of hosts is a usage error; nothing is left listening`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      await t.throwsAsync(
        loop.createServer(() => new EchoProto(), [], 0),
        {
          name: 'UsageError',
          code: 'ERR_INVALID_ARG_VALUE',
        },
      );
    }));

  if (hasIPv6()) {
    test(`${name}: createServer on several hosts listens on each, on one port`, (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const server = await loop.createServer(() => new EchoProto(), ['127.0.0.1', '::1'], 0);
        const sockets = server.sockets() as Array<{ address: string; port: number }>;
        t.deepEqual(sockets.map((s) => s.address).sort(), ['127.0.0.1', '::1']);
        t.is(sockets[0]!.port, sockets[1]!.port);
        t.is(await within(echoOnce(sockets[0]!.port, '127.0.0.1', 'v4'), 'v4 echo'), 'v4');
        t.is(await within(echoOnce(sockets[0]!.port, '::1', 'v6'), 'v6 echo'), 'v6');
        server.close();
        await within(server.waitClosed(), 'waitClosed');
      }));

    test(`${name}: createServer with no host listens on every interface, v4 and v6`, (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const server = await loop.createServer(() => new EchoProto(), null, 0);
        const sockets = server.sockets() as Array<{ address: string; port: number }>;
        t.true(sockets.length >= 2);
        t.true(sockets.some((s) => s.address === '0.0.0.0'));
        t.true(sockets.some((s) => s.address === '::'));
        t.is(await within(echoOnce(portOf(server), '127.0.0.1', 'any4'), 'v4 echo'), 'any4');
        t.is(await within(echoOnce(portOf(server), '::1', 'any6'), 'v6 echo'), 'any6');
        server.close();
        await within(server.waitClosed(), 'waitClosed');
      }));
  }

  testIf(
    test,
    makeLoop,
    'reusePort',
    `${name}: reusePort lets two servers share a port; without it the second fails with EADDRINUSE`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const first = await loop.createServer(() => new EchoProto(), '127.0.0.1', 0, {
          reusePort: true,
        });
        const port = portOf(first);
        const second = await loop.createServer(() => new EchoProto(), '127.0.0.1', port, {
          reusePort: true,
        });
        t.is(portOf(second), port);
        const err = await t.throwsAsync(
          loop.createServer(() => new EchoProto(), '127.0.0.1', port),
        );
        t.is((err as UvError).code, 'EADDRINUSE');
        t.is(await within(echoOnce(port), 'echo'), 'ping');
        first.close();
        second.close();
        await within(Promise.all([first.waitClosed(), second.waitClosed()]), 'waitClosed');
      }),
  );

  test(`${name}: startServing: false holds connections until startServing()`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, made } = await recordingServer(loop, { startServing: false });
      t.false(server.isServing());
      const port = portOf(server);
      // bind() without listen() refuses connections; start, then connect.
      await server.startServing();
      t.true(server.isServing());
      t.is(await within(echoOnce(port), 'echo'), 'ping');
      t.is(made.length, 1);
      server.close();
      await within(server.waitClosed(), 'waitClosed');
    }));

  test(`${name}: serveForever resolves once the server is closed`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await loop.createServer(() => new EchoProto(), '127.0.0.1', 0, {
        startServing: false,
      });
      let settled = false;
      const forever = server.serveForever().then(() => {
        settled = true;
      });
      await until(() => server.isServing(), 'serving');
      t.is(await within(echoOnce(portOf(server)), 'echo'), 'ping');
      t.false(settled);
      loop.callLater(0.01, () => server.close());
      await within(forever, 'serveForever');
      t.true(settled);
      await within(server.waitClosed(), 'waitClosed');
    }));

  test(`${name}: waitClosed waits for the connections the server made`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, made } = await recordingServer(loop);
      const client = await netConnect(portOf(server));
      await until(() => made[0]?.transport !== undefined, 'accepted connection');
      server.close();
      let closed = false;
      const waiting = server.waitClosed().then(() => {
        closed = true;
      });
      // Closing the server does not close its connections.
      client.write('still open');
      const [echoed] = (await within(once(client, 'data'), 'echo after server.close()')) as [
        Buffer,
      ];
      t.is(echoed.toString(), 'still open');
      t.false(closed);
      made[0]!.transport!.close();
      await within(waiting, 'waitClosed');
      t.true(closed);
      client.destroy();
    }));

  test(`${name}: closeClients() flushes and closes, abortClients() aborts; it serves on`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, made } = await recordingServer(loop);
      const accept = async (n: number): Promise<net.Socket[]> => {
        const before = made.length;
        const port = portOf(server);
        const clients = await Promise.all(Array.from({ length: n }, () => netConnect(port)));
        const accepted = (): boolean =>
          made.length === before + n && made.every((p) => p.transport !== undefined);
        await until(accepted, 'accepted connections');
        return clients;
      };
      const closing = await accept(2);
      const ends = closing.map((c) => readToEnd(c));
      made[0]!.transport!.write('last words');
      server.closeClients();
      t.is((await within(ends[0]!, 'first client EOF')).toString(), 'last words');
      await within(ends[1]!, 'second client EOF');
      const lost = await within(Promise.all(made.map((p) => p.lost.promise)), 'connectionLost');
      t.deepEqual(lost, [null, null]);

      const aborted = await accept(2);
      server.abortClients();
      await within(Promise.all(aborted.map((c) => once(c, 'close'))), 'aborted clients closed');
      await within(Promise.all(made.slice(2).map((p) => p.lost.promise)), 'lost after abort');
      t.true(server.isServing());
      t.is(await within(echoOnce(portOf(server)), 'echo'), 'ping');
      server.close();
      await within(server.waitClosed(), 'waitClosed');
    }));

  test(`${name}: a protocol factory that throws reaches the exception handler and the connection is dropped`, (t) =>
    withLoop(
      t,
      makeLoop,
      async ({ loop, exceptions }) => {
        const boom = new Error('factory failed');
        const server = await loop.createServer(
          () => {
            throw boom;
          },
          '127.0.0.1',
          0,
        );
        const client = await netConnect(portOf(server));
        await within(once(client, 'close'), 'client sees the connection closed');
        t.is(exceptions.length, 1);
        t.is(exceptions[0]!.exception, boom);
        server.close();
        await within(server.waitClosed(), 'waitClosed');
      },
      { expectExceptions: true },
    ));

  test(`${name}: a second server on a port in use fails with EADDRINUSE`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const first = await loop.createServer(() => new EchoProto(), '127.0.0.1', 0);
      const err = await t.throwsAsync(
        loop.createServer(() => new EchoProto(), '127.0.0.1', portOf(first)),
      );
      t.is((err as UvError).code, 'EADDRINUSE');
      first.close();
      await within(first.waitClosed(), 'waitClosed');
    }));

  test(`${name}: bad arguments to createServer are usage errors`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      await t.throwsAsync(async () => loop.createServer(() => new EchoProto(), '127.0.0.1', -1), {
        code: 'ERR_OUT_OF_RANGE',
      });
      await t.throwsAsync(async () => loop.createServer(null as never, '127.0.0.1', 0), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
    }));
}
