// Cases of CPython's test_unix_events.py that go through a real loop and
// had no counterpart in this suite: TestFunctional's
// test_add_reader_or_writer_transport_fd (asyncio's
// _ensure_fd_no_transport: an fd a transport uses is the transport's), and
// the same rule for every other kind of transport that owns an fd: a
// datagram endpoint, a Unix socket, a subprocess's pipes.
// The rest of that file mocks the selector, os.read/os.write or the
// signal module (SelectorEventLoopSignalTests, UnixReadPipeTransportTests,
// UnixWritePipeTransportTests: their behaviours are pipes.ts's and
// pipe-ends.ts's), tests child watchers (Python only) or forks (TestFork);
// its Unix socket cases are unix.ts's and unix-paths.ts's.
import type { ExecutionContext } from 'ava';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AbstractEventLoop } from 'asyncuv';
import { makeFifo } from '../fifo.js';
import { MyWritePipeProto } from '../protocols.js';
import {
  cases,
  featureCases,
  featureCasesWith,
  type MakeLoop,
  type Test,
  until,
  within,
  future,
} from '../harness.js';
import { Collect } from '../protocols.js';

/**
 * The fd under a transport's `socket` or `pipe`: UvEventLoop's handles say
 * it (fileno()); a net.Socket through its libuv handle; a dgram.Socket
 * through the handle its state keeps (its `_handle` getter would warn,
 * DEP0112).
 */
function fdOf(sock: unknown): number {
  const s = sock as {
    fileno?: () => number;
    _handle?: { fd?: number } | null;
    [key: symbol]: { handle?: { fd?: number } } | undefined;
  };
  if (typeof s.fileno === 'function') return s.fileno();
  const state = Object.getOwnPropertySymbols(s).find((k) => k.description === 'state symbol');
  const fd = state !== undefined ? s[state]?.handle?.fd : s._handle?.fd;
  if (typeof fd !== 'number') throw new Error('no fd under this transport');
  return fd;
}

/** What asyncio raises for each of the four calls on a transport's fd: here ERR_INVALID_STATE. */
function refusesAll(t: ExecutionContext, loop: AbstractEventLoop, fd: number): void {
  const calls: Array<[string, () => unknown]> = [
    ['addReader', () => loop.addReader(fd, () => {})],
    ['addWriter', () => loop.addWriter(fd, () => {})],
    ['removeReader', () => loop.removeReader(fd)],
    ['removeWriter', () => loop.removeWriter(fd)],
  ];
  for (const [what, call] of calls) {
    const err = t.throws(call, { code: 'ERR_INVALID_STATE' }, `${what}(${fd})`);
    t.true(String(err?.message).includes(`File descriptor ${fd} is used by a transport`));
  }
}

export function unixEventsPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const withFifo = featureCasesWith(
    test,
    makeLoop,
    'pipes',
    `${name}: unix_events`,
    makeFifo,
    (f) => f.dispose(),
  );
  const it = cases(test, makeLoop, `${name}: unix_events`);

  withFifo(
    'test_add_reader_or_writer_transport_fd: pipe transports’ fds are refused to fd watchers; the transports go on',
    async ({ loop }, t, fifo) => {
      const reader = new Collect();
      await loop.connectReadPipe(() => reader, fifo.readFd);
      fifo.closeRead = () => {}; // the transports own the fds now
      const writerProto = new MyWritePipeProto();
      const [writer] = await loop.connectWritePipe(() => writerProto, fifo.writeFd);
      fifo.closeWrite = () => {};
      refusesAll(t, loop, fifo.readFd);
      refusesAll(t, loop, fifo.writeFd);
      t.deepEqual(loop.liveResources(), { transport: 2 }, 'no watcher was added');
      writer.write('still');
      await until(() => reader.data === 'still', 'the bytes through both transports');
      writer.close();
      t.is(await within(reader.lost.promise, 'EOF at the reader'), null);
      t.is(await within(writerProto.lost.promise, 'the writer closed'), null);
    },
  );

  it('test_add_reader_or_writer_transport_fd: a TCP transport’s fd is refused to fd watchers', async ({
    loop,
  }, t) => {
    const server = net.createServer((s) => s.resume());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      const proto = new Collect();
      const [transport] = await loop.createConnection(() => proto, '127.0.0.1', port);
      // UvEventLoop's socket is a TCP handle, NodeEventLoop's a net.Socket
      // (whose fd is its libuv handle's).
      const sock = transport.getExtraInfo('socket') as
        { fileno(): number } | { _handle: { fd: number } };
      const fd = 'fileno' in sock ? sock.fileno() : sock._handle.fd;
      t.true(fd > 2);
      refusesAll(t, loop, fd);
      transport.close();
      await within(proto.lost.promise, 'connectionLost');
    } finally {
      server.close();
      await once(server, 'close');
    }
  });

  it('the same rule for a datagram endpoint: its fd is refused to fd watchers; it goes on receiving', async ({
    loop,
  }, t) => {
    const got: string[] = [];
    const [transport] = await loop.createDatagramEndpoint(
      () => ({ datagramReceived: (data: Buffer) => void got.push(data.toString()) }),
      { localAddr: ['127.0.0.1', 0] },
    );
    const fd = fdOf(transport.getExtraInfo('socket'));
    t.true(fd > 2);
    refusesAll(t, loop, fd);
    t.deepEqual(loop.liveResources(), { datagram: 1 }, 'no watcher was added');
    transport.sendto(
      Buffer.from('to self'),
      transport.getExtraInfo('sockname') as [string, number],
    );
    await until(() => got.length === 1, 'the datagram to itself');
    t.deepEqual(got, ['to self']);
    transport.close();
    await until(() => Object.keys(loop.liveResources()).length === 0, 'the endpoint closed');
    // Closed, the fd is no transport's any more.
    t.notThrows(() => loop.removeReader(fd));
  });

  const withPath = featureCasesWith(
    test,
    makeLoop,
    'unix',
    `${name}: unix_events`,
    () =>
      join(
        tmpdir(),
        `asyncuv-conf-fd-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`,
      ),
    (path) => rmSync(path, { force: true }),
  );
  withPath(
    'the same rule for Unix socket transports: both ends’ fds are refused',
    async ({ loop }, t, path) => {
      const served = new Collect();
      let serverSide: { getExtraInfo(name: 'socket'): unknown } | undefined;
      const server = await loop.createUnixServer(
        () =>
          Object.assign(served, {
            connectionMade: (tr: typeof serverSide) => void (serverSide = tr),
          }),
        path,
      );
      try {
        const proto = new Collect();
        const [transport] = await loop.createUnixConnection(() => proto, path);
        await until(() => serverSide !== undefined, 'the server side');
        refusesAll(t, loop, fdOf(transport.getExtraInfo('socket')));
        refusesAll(t, loop, fdOf(serverSide!.getExtraInfo('socket')));
        transport.write('still');
        await until(() => served.data === 'still', 'the bytes through both ends');
        transport.close();
        await within(proto.lost.promise, 'client connectionLost');
        await within(served.lost.promise, 'server side connectionLost');
      } finally {
        server.close();
        await within(server.waitClosed(), 'waitClosed');
      }
    },
  );

  featureCases(
    test,
    makeLoop,
    'subprocess',
    `${name}: unix_events`,
  )(
    'the same rule for a subprocess’s pipes: the fds of stdin, stdout and stderr are refused',
    async ({ loop }, t) => {
      const exited = future();
      const [transport] = await loop.subprocessExec(
        () => ({ processExited: () => exited.resolve() }),
        'cat',
        [],
        { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' },
      );
      for (const fd of [0, 1, 2]) {
        const pipe = transport.getPipeTransport(fd)!.getExtraInfo('pipe');
        refusesAll(t, loop, fdOf(pipe));
      }
      transport.getPipeTransport(0)!.close(); // cat exits at EOF
      await within(exited.promise, 'cat exited');
      transport.close();
    },
  );
}
