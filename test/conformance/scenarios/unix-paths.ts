// The socket file of a Unix server (test_server.py: test_unix_server_addr_cleanup,
// test_unix_server_cleanup_gone; unix_events.create_unix_server removing a
// stale socket file before binding) and the names of a Unix connection
// (test_unix_events.py / test_events.py: get_extra_info on both ends;
// test_unix_events.py: test_create_unix_server_existing_path_sock and
// _nonsock).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MyProto } from '../protocols.js';
import { featureCasesWith, future, type MakeLoop, type Test, until, within } from '../harness.js';

function socketPath(): string {
  return join(
    tmpdir(),
    `asyncuv-conf-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`,
  );
}

/**
 * Leaves a socket file at `path` that nobody listens on (a crashed
 * server's): bound by a process that exits without unlinking it (libuv
 * and Node unlink the paths they bound on close).
 */
async function staleSocket(path: string): Promise<void> {
  const bind = 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])';
  await promisify(execFile)('python3', ['-c', bind, path]);
}

export function unixPaths(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCasesWith(test, makeLoop, 'unix', name, socketPath, (path) =>
    rmSync(path, { force: true }),
  );

  it("a Unix server's close() removes its socket file", async ({ loop }, t, path) => {
    const server = await loop.createUnixServer(() => new MyProto(null), path);
    t.true(statSync(path).isSocket());
    server.close();
    await within(server.waitClosed(), 'waitClosed');
    t.false(existsSync(path), 'the socket file is gone');
  });

  it('a stale socket file nobody listens on is replaced by createUnixServer', async ({
    loop,
  }, t, path) => {
    await staleSocket(path);
    t.true(statSync(path).isSocket());
    const server = await loop.createUnixServer(() => new MyProto(null), path);
    const [transport, proto] = await loop.createUnixConnection(() => new MyProto(null), path);
    t.is(proto.state, 'CONNECTED');
    transport.close();
    await within(proto.done, 'connectionLost');
    server.close();
    await within(server.waitClosed(), 'waitClosed');
  });

  it('a file that is not a socket at the path fails with EADDRINUSE and is kept', async ({
    loop,
  }, t, path) => {
    writeFileSync(path, 'not a socket');
    await t.throwsAsync(
      loop.createUnixServer(() => new MyProto(null), path),
      { code: 'EADDRINUSE' },
    );
    t.is(readFileSync(path, 'utf8'), 'not a socket');
  });

  it("a Unix connection's peername (client) and sockname (server side) are the path", async ({
    loop,
  }, t, path) => {
    const accepted = future<MyProto>();
    const server = await loop.createUnixServer(() => {
      const p = new MyProto(null);
      queueMicrotask(() => accepted.resolve(p));
      return p;
    }, path);
    const [transport, proto] = await loop.createUnixConnection(() => new MyProto(null), path);
    t.is(transport.getExtraInfo('peername'), path);
    const serverSide = await within(accepted.promise, 'accept');
    await until(() => serverSide.transport !== undefined, 'connectionMade');
    t.is(serverSide.transport!.getExtraInfo('sockname'), path);
    t.true(transport.canWriteEof());
    transport.writeEof();
    await within(serverSide.done, 'the server side sees EOF and closes');
    await within(proto.done, 'client connectionLost');
    server.close();
    await within(server.waitClosed(), 'waitClosed');
  });
}
