// Three options of asyncio's servers, on both loops: create_server's
// keep_alive (3.13: SO_KEEPALIVE on every accepted connection) and
// reuse_address (SO_REUSEADDR, which libuv always sets on Unix), and
// create_unix_server's cleanup_socket (3.13: the socket file goes with the
// server unless it is false). What the kernel did is read back from
// /proc/net/tcp, not taken from our own state.
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pipe, TCP, type Transport, UsageError } from 'asyncuv';
import { MyProto } from '../protocols.js';
import { cases, featureCasesWith, type MakeLoop, type Test, until, within } from '../harness.js';
import { withHandles } from './sock-ops.js';

/** One IPv4 TCP socket as /proc/net/tcp lists it. */
interface ProcTcp {
  localPort: number;
  remotePort: number;
  /** The kernel's TCP state: 0x01 ESTABLISHED, 0x06 TIME_WAIT, 0x0A LISTEN. */
  state: number;
  /** The timer running: 0 none, 1 retransmit, 2 keep-alive, 3 TIME_WAIT, 4 zero-window probe. */
  timer: number;
}

/** The IPv4 TCP sockets of this network namespace (Linux's /proc/net/tcp). */
function procTcp(): ProcTcp[] {
  const rows = readFileSync('/proc/net/tcp', 'utf8').trim().split('\n').slice(1);
  return rows.map((row) => {
    const f = row.trim().split(/\s+/);
    const port = (field: string): number => Number.parseInt(field.split(':')[1]!, 16);
    return {
      localPort: port(f[1]!),
      remotePort: port(f[2]!),
      state: Number.parseInt(f[3]!, 16),
      timer: Number.parseInt(f[5]!.split(':')[0]!, 16),
    };
  });
}

/** The established socket from local port `local` to remote port `remote`. */
function established(local: number, remote: number): ProcTcp | undefined {
  return procTcp().find((s) => s.localPort === local && s.remotePort === remote && s.state === 1);
}

function socketPath(): string {
  const tag = Math.random().toString(36).slice(2, 8);
  return join(tmpdir(), `asyncuv-conf-${process.pid}-${tag}.sock`);
}

export function serverOptions(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, `${name}: server options`);
  const itUnix = featureCasesWith(
    test,
    makeLoop,
    'unix',
    `${name}: server options`,
    socketPath,
    (path) => rmSync(path, { force: true }),
  );

  it('keepAlive: true sets SO_KEEPALIVE on each accepted connection; absent or false, none', async ({
    loop,
  }, t) => {
    for (const keepAlive of [true, false, undefined]) {
      const accepted: MyProto[] = [];
      const server = await loop.createServer(
        () => {
          const p = new MyProto(null);
          accepted.push(p);
          return p;
        },
        '127.0.0.1',
        0,
        keepAlive === undefined ? {} : { keepAlive },
      );
      const { port } = server.sockets()[0]!;
      const clients: Array<[Transport, MyProto]> = [];
      for (let i = 0; i < 2; i++) {
        clients.push(await loop.createConnection(() => new MyProto(null), '127.0.0.1', port));
      }
      await until(() => accepted.length === 2, 'both connections accepted');
      for (const [transport] of clients) {
        const [, clientPort] = transport.getExtraInfo('sockname') as [string, number];
        const serverSide = established(port, clientPort);
        const clientSide = established(clientPort, port);
        t.truthy(serverSide, `the accepted socket of ${clientPort}`);
        // The keep-alive timer runs exactly where SO_KEEPALIVE is on.
        t.is(serverSide!.timer === 2, keepAlive === true, `keepAlive ${String(keepAlive)}`);
        t.not(clientSide?.timer, 2, 'a client connection has no keep-alive of its own');
      }
      for (const [transport, proto] of clients) {
        transport.close();
        await within(proto.done, 'client connectionLost');
      }
      server.close();
      await within(server.waitClosed(), 'waitClosed');
    }
  });

  it('keepAlive on a server given its socket (sock): SO_KEEPALIVE too', ({ loop }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const sock = new TCP(uvloop);
      sock.bind('127.0.0.1', 0);
      const { port } = sock.getsockname();
      const accepted: MyProto[] = [];
      const server = await loop.createServer(
        () => {
          const p = new MyProto(null);
          accepted.push(p);
          return p;
        },
        null,
        0,
        { sock, keepAlive: true },
      );
      const [transport, proto] = await loop.createConnection(
        () => new MyProto(null),
        '127.0.0.1',
        port,
      );
      await until(() => accepted.length === 1, 'the connection accepted');
      const [, clientPort] = transport.getExtraInfo('sockname') as [string, number];
      t.is(established(port, clientPort)?.timer, 2);
      transport.close();
      await within(proto.done, 'client connectionLost');
      server.close();
      await within(server.waitClosed(), 'waitClosed');
    }));

  it('reuseAddress: true rebinds a port that TIME_WAIT still holds, as asyncio’s default', async ({
    loop,
  }, t) => {
    let serverSide: MyProto | undefined;
    const first = await loop.createServer(() => (serverSide = new MyProto(null)), '127.0.0.1', 0, {
      reuseAddress: true,
    });
    const { port } = first.sockets()[0]!;
    const [, client] = await loop.createConnection(() => new MyProto(null), '127.0.0.1', port);
    await until(() => serverSide !== undefined, 'the connection accepted');
    // The server's side closes first, so its socket (local port `port`)
    // is the one left in TIME_WAIT.
    serverSide!.transport!.close();
    await within(client.done, 'client connectionLost');
    await within(serverSide!.done, 'server connectionLost');
    first.close();
    await within(first.waitClosed(), 'waitClosed');
    await until(
      () => procTcp().some((s) => s.localPort === port && s.state === 6),
      'the TIME_WAIT socket',
    );
    // Without SO_REUSEADDR this bind fails with EADDRINUSE for a minute.
    for (const opts of [{ reuseAddress: true }, {}]) {
      const again = await loop.createServer(() => new MyProto(null), '127.0.0.1', port, opts);
      t.is(again.sockets()[0]!.port, port);
      again.close();
      await within(again.waitClosed(), 'waitClosed');
    }
  });

  it('reuseAddress: false is refused with ERR_NOT_SUPPORTED; bad flags are type errors; nothing is left', async ({
    loop,
  }, t) => {
    const err = await t.throwsAsync(
      loop.createServer(() => new MyProto(null), '127.0.0.1', 0, { reuseAddress: false }),
      { instanceOf: UsageError, code: 'ERR_NOT_SUPPORTED' },
    );
    t.regex(err!.message, /SO_REUSEADDR/);
    for (const flag of ['keepAlive', 'reuseAddress', 'reusePort', 'startServing'] as const) {
      for (const bad of [1, 'yes', null]) {
        await t.throwsAsync(
          loop.createServer(() => new MyProto(null), '127.0.0.1', 0, { [flag]: bad as never }),
          { instanceOf: UsageError, code: 'ERR_INVALID_ARG_TYPE' },
          `${flag}: ${String(bad)}`,
        );
      }
    }
    t.deepEqual(loop.liveResources(), {});
  });

  itUnix(
    'cleanupSocket: false leaves the socket file when the server closes',
    async ({ loop }, t, path) => {
      const server = await loop.createUnixServer(() => new MyProto(null), path, {
        cleanupSocket: false,
      });
      const [transport, proto] = await loop.createUnixConnection(() => new MyProto(null), path);
      transport.close();
      await within(proto.done, 'connectionLost');
      const before = statSync(path).ino;
      server.close();
      await within(server.waitClosed(), 'waitClosed');
      t.true(statSync(path).isSocket(), 'the socket file stays');
      t.is(statSync(path).ino, before, 'the same file');
      // A stale file nobody listens on: the next server at the path takes it.
      const next = await loop.createUnixServer(() => new MyProto(null), path);
      next.close();
      await within(next.waitClosed(), 'waitClosed');
      t.false(existsSync(path), 'cleanupSocket defaults to true');
    },
  );

  itUnix(
    'cleanupSocket: true (the default) removes it; false with a bound sock keeps it',
    async ({ loop }, t, path) => {
      const server = await loop.createUnixServer(() => new MyProto(null), path, {
        cleanupSocket: true,
      });
      server.close();
      await within(server.waitClosed(), 'waitClosed');
      t.false(existsSync(path));
      await withHandles(t, loop, async (uvloop) => {
        const sock = new Pipe(uvloop);
        sock.bind(path);
        const onSock = await loop.createUnixServer(() => new MyProto(null), null, {
          sock,
          cleanupSocket: false,
        });
        onSock.close();
        await within(onSock.waitClosed(), 'waitClosed');
      });
      t.true(statSync(path).isSocket(), 'a sock bound with bind(): its file stays too');
    },
  );

  itUnix(
    'cleanupSocket of another type is ERR_INVALID_ARG_TYPE; nothing is bound',
    async ({ loop }, t, path) => {
      for (const bad of [0, 'no', null]) {
        await t.throwsAsync(
          loop.createUnixServer(() => new MyProto(null), path, { cleanupSocket: bad as never }),
          { instanceOf: UsageError, code: 'ERR_INVALID_ARG_TYPE' },
        );
      }
      t.false(existsSync(path));
      t.deepEqual(loop.liveResources(), {});
    },
  );
}
