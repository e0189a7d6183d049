// Loop behaviours at the edges of the API (test_protocols.py: every
// protocol method is optional; test_base_events.py: test_time_and_call_at,
// test_create_server_empty_host; test_events.py: test_timeout_rounding;
// unix_events' pipe transports: "Pipe transport is for pipes/sockets
// only", and a read pipe transport has no write side;
// transports' set_protocol).
import { once } from 'node:events';
import {
  closeSync,
  fstatSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeFifo } from '../fifo.js';
import { MyProto, MySubprocessProtocol } from '../protocols.js';
import { netConnect, readToEnd } from '../peers.js';
import {
  type CaseBody,
  cases,
  featureCases,
  type MakeLoop,
  type Test,
  future,
  until,
  within,
} from '../harness.js';

/** The loops' clock resolution, in seconds, with room for float rounding. */
const kResolution = 0.0011;

/** The write side a read pipe transport does not have. */
interface WriteSide {
  write(data: string): void;
  canWriteEof(): boolean;
  writeEof(): void;
}

export function loopEdges(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = cases(test, makeLoop, name);
  const itIf = (feature: string, title: string, body: CaseBody): void =>
    featureCases(test, makeLoop, feature, name)(title, body);

  it('a protocol with no methods at all serves a TCP connection both ways, to its end', async ({
    loop,
  }, t) => {
    // test_protocols.py: each method of the base classes does nothing.
    let serverSide: { close(): void } | undefined;
    const server = await loop.createServer(
      () => ({
        connectionMade(transport: { close(): void; write(d: string): void }) {
          serverSide = transport;
          transport.write('hello');
        },
      }),
      '127.0.0.1',
      0,
    );
    const { port } = server.sockets()[0]!;
    // A client whose protocol is an empty object: data and EOF go nowhere.
    const [client] = await loop.createConnection(() => ({}), '127.0.0.1', port);
    const peer = await netConnect(port);
    const got = readToEnd(peer);
    peer.end('bytes nobody listens for');
    await until(() => serverSide !== undefined, 'accepted');
    client.write('to the server');
    await sleep(20);
    client.close();
    t.true(client.isClosing());
    t.is((await within(got, 'the peer reads to EOF')).toString(), 'hello');
    server.close();
    serverSide?.close();
    await within(server.waitClosed(), 'waitClosed');
  });

  itIf(
    'datagram',
    'an empty datagram protocol receives and is closed without errors',
    async ({ loop }, t) => {
      const [endpoint] = await loop.createDatagramEndpoint(() => ({}) as never, {
        localAddr: ['127.0.0.1', 0],
      });
      const [, port] = endpoint.getExtraInfo('sockname') as [string, number];
      const sender = dgram.createSocket('udp4');
      sender.send('datagram', port, '127.0.0.1');
      await once(sender, 'listening');
      await sleep(20);
      sender.close();
      endpoint.sendto('back', ['127.0.0.1', port]);
      await sleep(10);
      endpoint.close();
      t.true(endpoint.isClosing());
    },
  );

  itIf(
    'subprocess',
    'an empty subprocess protocol: the child runs, exits, and is reaped',
    async ({ loop }, t) => {
      const [transport] = await loop.subprocessShell(() => ({}), 'echo out; echo err >&2; exit 3');
      t.is(await within(transport.wait(), 'exit'), 3);
      await until(() => (loop.liveResources()['subprocess'] ?? 0) === 0, 'the transport is done');
      transport.close();
    },
  );

  itIf('pipes', 'an empty protocol on a read pipe and a write pipe', async ({ loop }, t) => {
    const fifo = await makeFifo();
    try {
      const [reader] = await loop.connectReadPipe(() => ({}), fifo.readFd);
      const [writer] = await loop.connectWritePipe(() => ({}), fifo.writeFd);
      fifo.closeRead = () => {};
      fifo.closeWrite = () => {};
      writer.write('into the pipe');
      writer.writeEof();
      await until(() => (loop.liveResources()['transport'] ?? 0) === 0, 'both ends closed');
      t.true(reader.isClosing());
    } finally {
      fifo.dispose();
    }
  });

  it('callAt(time() + 0.1) runs no earlier than its when (within the clock resolution), by loop.time() and by the wall clock', async ({
    loop,
  }, t) => {
    const delay = 0.1;
    const ran = future<[number, number]>();
    const t0 = loop.time();
    const w0 = performance.now();
    const when = t0 + delay;
    const handle = loop.callAt(when, () => ran.resolve([loop.time(), performance.now()]));
    t.is(handle.when(), when);
    const [t1, w1] = await within(ran.promise, 'the timer');
    // A timer due within the clock resolution (1 ms: the timers under
    // both loops count whole milliseconds) runs in the iteration at hand,
    // as asyncio runs those due within its clock's resolution.
    t.true(t1 >= when - kResolution, `loop.time() ${t1} >= when ${when} - ${kResolution}`);
    t.true(w1 - w0 >= (delay - kResolution) * 1000 - 0.1, `wall clock: ${w1 - w0} ms`);
  });

  it('timers with delays down to 1e-10 s each run, none before its when (within the clock resolution)', async ({
    loop,
  }, t) => {
    // test_timeout_rounding: sleeps of 1e-2 ... 1e-10 s one after another.
    const early: string[] = [];
    const delays = [1e-2, 1e-3, 1.5e-3, 1e-4, 1e-6, 1e-8, 1e-10, 0];
    for (const delay of delays) {
      const fired = future();
      const handle = loop.callLater(delay, () => {
        const late = loop.time() - handle.when();
        if (late < -kResolution) early.push(`${delay}: ${late}`);
        fired.resolve();
      });
      await within(fired.promise, `callLater(${delay})`, 2000);
    }
    t.deepEqual(early, [], 'no timer ran more than the clock resolution before its when');
  });

  it("createServer with host '' listens where host null does: every interface", async ({
    loop,
  }, t) => {
    const empty = await loop.createServer(() => ({}), '', 0);
    const none = await loop.createServer(() => ({}), null, 0);
    const shape = (s: typeof empty): string[] =>
      s
        .sockets()
        .map((a) => (a as { address: string }).address)
        .sort();
    t.deepEqual(shape(empty), shape(none));
    t.true(shape(empty).includes('0.0.0.0'));
    const port = (empty.sockets()[0] as { port: number }).port;
    const client = await netConnect(port);
    client.destroy();
    empty.close();
    none.close();
    await within(Promise.all([empty.waitClosed(), none.waitClosed()]), 'waitClosed');
  });

  itIf(
    'pipes',
    "a pipe transport refuses a regular file, a directory, a character device and a closed fd; the fd stays the caller's",
    async ({ loop }, t) => {
      const dir = mkdtempSync(join(tmpdir(), 'asyncuv-pipe-kinds-'));
      try {
        const file = join(dir, 'regular');
        writeFileSync(file, 'not a pipe');
        const fds = [
          openSync(file, 'r'),
          openSync(file, 'w'),
          openSync(dir, 'r'),
          openSync('/dev/null', 'r'),
        ];
        try {
          for (const fd of fds) {
            const connects = [
              (): Promise<unknown> => loop.connectReadPipe(() => ({}), fd),
              (): Promise<unknown> => loop.connectWritePipe(() => ({}), fd),
            ];
            for (const connect of connects) {
              await t.throwsAsync(connect(), {
                code: 'ERR_INVALID_ARG_VALUE',
                message: /pipes, sockets and terminals only/,
              });
              t.notThrows(() => fstatSync(fd), 'the fd is still open');
            }
          }
        } finally {
          for (const fd of fds) closeSync(fd);
        }
        // An fd that is not open.
        await t.throwsAsync(
          loop.connectReadPipe(() => ({}), 2 ** 31 - 1),
          { code: 'EBADF' },
        );
        await t.throwsAsync(
          loop.connectWritePipe(() => ({}), 2 ** 31 - 1),
          { code: 'EBADF' },
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('callExceptionHandler and defaultExceptionHandler take a context object; anything else is a usage error', async ({
    loop,
    exceptions,
  }, t) => {
    for (const bad of [null, undefined, 'message', 42]) {
      t.throws(() => loop.callExceptionHandler(bad as never), { code: 'ERR_INVALID_ARG_TYPE' });
      t.throws(() => loop.defaultExceptionHandler(bad as never), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    t.is(exceptions.length, 0, 'the handler was not called');
  });

  itIf(
    'pipes',
    'a read pipe transport has no write side: write() throws, canWriteEof() is false, writeEof() does nothing',
    async ({ loop }, t) => {
      const fifo = await makeFifo();
      // The read end opened for writing too: the fd could be written, the
      // transport still only reads (asyncio's read pipe transport has no write()).
      const rdwr = openSync(fifo.path, 'r+');
      try {
        for (const fd of [fifo.readFd, rdwr]) {
          const [transport, proto] = await loop.connectReadPipe(() => new MyProto(null), fd);
          if (fd === fifo.readFd) fifo.closeRead = () => {}; // the transport's now
          // Not in ReadTransport's type; a plain JavaScript caller may still try.
          const writer = transport as unknown as WriteSide;
          t.throws(() => writer.write('x'), { code: 'ERR_TRANSPORT_NOT_WRITABLE' });
          t.false(writer.canWriteEof());
          writer.writeEof();
          t.false(transport.isClosing(), 'neither closed it');
          writeSync(fifo.writeFd, 'still reads');
          await until(() => proto.received() === 'still reads', 'the data');
          transport.close();
          await within(proto.done, 'connectionLost');
        }
      } finally {
        fifo.dispose();
      }
    },
  );

  itIf(
    'subprocess',
    "a child's stdout pipe transport refuses writes the same way",
    async ({ loop }, t) => {
      const [transport, proto] = await loop.subprocessShell(
        () => new MySubprocessProtocol(),
        'read x',
        {
          stdin: 'pipe',
          stdout: 'pipe',
          stderr: 'ignore',
        },
      );
      const stdout = transport.getPipeTransport(1)! as unknown as {
        write(d: string): void;
        canWriteEof(): boolean;
      };
      t.throws(() => stdout.write('x'), { code: 'ERR_TRANSPORT_NOT_WRITABLE' });
      t.false(stdout.canWriteEof());
      transport.getPipeTransport(0)!.write('go\n');
      await within(proto.disconnected, 'connectionLost');
      t.is(transport.getReturncode(), 0);
      t.deepEqual(proto.violations, []);
    },
  );

  it('setProtocol takes an object; null or a function is refused and the protocol kept', async ({
    loop,
  }, t) => {
    const server = await loop.createServer(() => ({}), '127.0.0.1', 0);
    const proto = new MyProto(null);
    const [transport] = await loop.createConnection(
      () => proto,
      '127.0.0.1',
      (server.sockets()[0] as { port: number }).port,
    );
    for (const bad of [null, undefined, 42, () => {}]) {
      t.throws(() => transport.setProtocol(bad as never), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    t.is(transport.getProtocol(), proto);
    transport.close();
    await within(proto.done, 'connectionLost');
    server.close();
    await within(server.waitClosed(), 'waitClosed');
  });
}
