// Cases of uvloop's tests/test_pipes.py (copied there from asyncio, run on
// both uvloop and asyncio's loop) that had no counterpart in this suite:
// test_write_buffer_full (the reader closes while the writer holds a full
// buffer) and test_write_pipe_disconnect_on_close (a socket pair there, a fifo
// and a Unix socket here: the reader closes while nothing is being written: asyncio's write pipe transport watches its fd
// for the hang-up, and ends with connection_lost(None)). test_read_pipe,
// test_write_pipe and the pty cases are in pipes.ts and events-port.ts.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Loop, Pipe, type UvError } from 'asyncuv';
import { makeFifo } from '../fifo.js';
import { MyWritePipeProto } from '../protocols.js';
import {
  featureCases,
  featureCasesWith,
  type MakeLoop,
  type Test,
  until,
  within,
} from '../harness.js';

/**
 * A connected Unix socket: our end as an fd of our own (a duplicate, the
 * handle that connected it closed), the peer's as a net.Socket.
 */
async function socketFd(path: string, server: net.Server): Promise<[number, net.Socket]> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = new Pipe(Loop.default());
  try {
    await new Promise<void>((resolve, reject) =>
      client.connect(path, (err) => (err === null ? resolve() : reject(err))),
    );
    const [peer] = await within(accepted, 'the connection');
    return [client.dupFileno(), peer];
  } finally {
    client.close();
  }
}

/** MyWritePipeProto with pause_writing / resume_writing. */
class FlowWritePipeProto extends MyWritePipeProto {
  paused = false;
  pauseWriting(): void {
    this.paused = true;
  }
  resumeWriting(): void {
    this.paused = false;
  }
}

export function uvloopPipesPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCasesWith(test, makeLoop, 'pipes', `${name}: uvloop`, makeFifo, (f) =>
    f.dispose(),
  );

  it('test_write_buffer_full: the reader closes while the buffer is full: connectionLost with EPIPE, no further write', async ({
    loop,
  }, t, fifo) => {
    const proto = new FlowWritePipeProto();
    const [transport] = await loop.connectWritePipe(() => proto, fifo.writeFd);
    fifo.closeWrite = () => {}; // the transport owns it now
    t.is(proto.state, 'CONNECTED');
    let i = 0;
    for (; i < 64 && !proto.paused; i++) transport.write(Buffer.alloc(32768, 'x'));
    t.true(proto.paused, `paused after ${i} writes`);
    transport.write(Buffer.alloc(32768, 'x'));
    fifo.closeRead();
    const err = await within(proto.lost.promise, 'connectionLost');
    t.is(proto.state, 'CLOSED');
    t.is((err as UvError | null)?.code, 'EPIPE', String(err));
  });

  it('test_write_pipe_disconnect_on_close: the reader closes while nothing is written: connectionLost(null)', async ({
    loop,
  }, t, fifo) => {
    const proto = new MyWritePipeProto();
    const [transport] = await loop.connectWritePipe(() => proto, fifo.writeFd);
    fifo.closeWrite = () => {};
    transport.write('1');
    await until(() => fifo.readNow().toString() === '1', 'the byte at the reader');
    fifo.closeRead();
    t.is(await within(proto.lost.promise, 'connectionLost without a write'), null);
    t.is(proto.state, 'CLOSED');
    t.true(transport.isClosing());
  });

  const plain = featureCases(test, makeLoop, 'pipes', `${name}: uvloop`);
  plain(
    'test_write_pipe_disconnect_on_close over a Unix socket: the peer closes while nothing is written: connectionLost(null)',
    async ({ loop }, t) => {
      const dir = mkdtempSync(join(tmpdir(), 'asyncuv-wpipe-'));
      const server = net.createServer();
      try {
        const path = join(dir, 's');
        await new Promise<void>((resolve) => server.listen(path, resolve));
        const [fd, peer] = await socketFd(path, server);
        const proto = new MyWritePipeProto();
        const [transport] = await loop.connectWritePipe(() => proto, fd);
        transport.write('1');
        const [first] = (await within(once(peer, 'data'), 'the byte at the peer')) as [Buffer];
        t.is(first.toString(), '1');
        t.is(proto.state, 'CONNECTED');
        peer.destroy();
        t.is(await within(proto.lost.promise, 'connectionLost without a write'), null);
        t.is(proto.state, 'CLOSED');
      } finally {
        server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}
