// Cases of CPython's test_unix_events.py that go through a real loop and
// had no counterpart in this suite: TestFunctional's
// test_add_reader_or_writer_transport_fd (asyncio's
// _ensure_fd_no_transport: an fd a transport uses is the transport's).
// The rest of that file mocks the selector, os.read/os.write or the
// signal module (SelectorEventLoopSignalTests, UnixReadPipeTransportTests,
// UnixWritePipeTransportTests: their behaviours are pipes.ts's and
// pipe-ends.ts's), tests child watchers (Python only) or forks (TestFork);
// its Unix socket cases are unix.ts's and unix-paths.ts's.
import type { ExecutionContext } from 'ava';
import { once } from 'node:events';
import net from 'node:net';
import type { AbstractEventLoop } from 'asyncuv';
import { makeFifo } from '../fifo.js';
import { MyWritePipeProto } from '../protocols.js';
import { cases, featureCasesWith, type MakeLoop, type Test, until, within } from '../harness.js';
import { Collect } from '../protocols.js';

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
}
