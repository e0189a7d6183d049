// Write flow control and BufferedProtocol (test_transports.py,
// test_selector_events.py: set_write_buffer_limits, pause/resume_writing;
// test_buffered_proto.py).
import { createHash, randomBytes } from 'node:crypto';
import type { BufferedProtocol, Protocol, Transport } from 'asyncuv';
import { netServer } from '../peers.js';
import {
  type MakeLoop,
  type Test,
  future,
  until,
  untilStalled,
  withLoop,
  within,
} from '../harness.js';

class Writer implements Protocol {
  transport: Transport | undefined;
  /** getWriteBufferSize() seen at each pauseWriting / resumeWriting. */
  events: Array<['pause' | 'resume', number]> = [];
  lost = future<Error | null>();
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  pauseWriting(): void {
    this.events.push(['pause', this.transport!.getWriteBufferSize()]);
  }
  resumeWriting(): void {
    this.events.push(['resume', this.transport!.getWriteBufferSize()]);
  }
  connectionLost(err: Error | null): void {
    this.lost.resolve(err);
  }
}

export function flowControl(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: pauseWriting fires strictly above high, resumeWriting at or below low, as the peer stops and resumes reading`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await netServer();
      try {
        const accepted = server.nextSocket();
        const [transport, proto] = await loop.createConnection(
          () => new Writer(),
          '127.0.0.1',
          server.port,
        );
        const peer = await within(accepted, 'accept');
        peer.pause();
        const high = 256 * 1024;
        const low = 64 * 1024;
        transport.setWriteBufferLimits({ high, low });
        t.deepEqual(transport.getWriteBufferLimits(), [low, high]);
        // Fill the kernel buffers, then the transport's, until it pauses us.
        const chunk = Buffer.alloc(64 * 1024, 'x');
        let written = 0;
        while (proto.events.length === 0 && written < 256 * 1024 * 1024) {
          transport.write(chunk);
          written += chunk.length;
          if (written % (4 * 1024 * 1024) === 0) await new Promise((r) => setImmediate(r));
        }
        t.is(proto.events.length, 1);
        const [kind, sizeAtPause] = proto.events[0]!;
        t.is(kind, 'pause');
        t.true(sizeAtPause > high, `paused at ${sizeAtPause}`);
        let received = 0;
        peer.on('data', (d: Buffer) => (received += d.length));
        peer.resume();
        await until(() => proto.events.length === 2, 'resumeWriting', 10000);
        const [kind2, sizeAtResume] = proto.events[1]!;
        t.is(kind2, 'resume');
        t.true(sizeAtResume <= low, `resumed at ${sizeAtResume}`);
        await untilStalled(
          () => received === written,
          () => received,
          `every byte of ${written}`,
        );
        t.is(transport.getWriteBufferSize(), 0);
        transport.close();
        await within(proto.lost.promise, 'connectionLost');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: setWriteBufferLimits defaults and validation`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const server = await netServer();
      try {
        const [transport, proto] = await loop.createConnection(
          () => new Writer(),
          '127.0.0.1',
          server.port,
        );
        t.deepEqual(transport.getWriteBufferLimits(), [16 * 1024, 64 * 1024]);
        t.is(transport.getWriteBufferSize(), 0);
        transport.setWriteBufferLimits({ high: 1000 });
        t.deepEqual(transport.getWriteBufferLimits(), [250, 1000]);
        transport.setWriteBufferLimits({ low: 100 });
        t.deepEqual(transport.getWriteBufferLimits(), [100, 400]);
        transport.setWriteBufferLimits({ high: 0, low: 0 });
        t.deepEqual(transport.getWriteBufferLimits(), [0, 0]);
        transport.setWriteBufferLimits();
        t.deepEqual(transport.getWriteBufferLimits(), [16 * 1024, 64 * 1024]);
        t.throws(() => transport.setWriteBufferLimits({ high: 1, low: 2 }), {
          code: 'ERR_OUT_OF_RANGE',
        });
        t.throws(() => transport.setWriteBufferLimits({ high: -1 }), { code: 'ERR_OUT_OF_RANGE' });
        t.throws(() => transport.setWriteBufferLimits({ high: 'big' as never }), {
          code: 'ERR_INVALID_ARG_TYPE',
        });
        t.deepEqual(
          transport.getWriteBufferLimits(),
          [16 * 1024, 64 * 1024],
          'a refused setting changes nothing',
        );
        t.deepEqual(proto.events, []);
        transport.close();
        await within(proto.lost.promise, 'connectionLost');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: a BufferedProtocol receives into the buffers it supplies`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const payload = randomBytes(1024 * 1024);
      const server = await netServer((s) => s.end(payload));
      try {
        const hash = createHash('sha256');
        let total = 0;
        let getBufferCalls = 0;
        let oversize = 0;
        const done = future<Error | null>();
        let eof = false;
        // One small buffer, reused for every read: no allocation per read.
        const buffer = new Uint8Array(4096);
        const proto: BufferedProtocol = {
          getBuffer(sizeHint: number) {
            getBufferCalls++;
            t.is(typeof sizeHint, 'number');
            return buffer;
          },
          bufferUpdated(n: number) {
            if (n > buffer.length || n <= 0) oversize++;
            hash.update(buffer.subarray(0, n));
            total += n;
          },
          eofReceived() {
            eof = true;
          },
          connectionLost: (err) => done.resolve(err),
        };
        await loop.createConnection(() => proto, '127.0.0.1', server.port);
        t.is(await within(done.promise, 'connectionLost'), null);
        t.true(eof);
        t.is(total, payload.length);
        t.is(oversize, 0);
        t.true(getBufferCalls >= 1);
        t.is(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
      } finally {
        await server.close();
      }
    }));

  test(`${name}: a BufferedProtocol whose getBuffer throws loses the connection with that error`, (t) =>
    withLoop(
      t,
      makeLoop,
      async ({ loop, exceptions }) => {
        const server = await netServer((s) => s.write('data'));
        try {
          const boom = new Error('no buffer');
          const done = future<Error | null>();
          const proto: BufferedProtocol = {
            getBuffer() {
              throw boom;
            },
            bufferUpdated() {},
            connectionLost: (err) => done.resolve(err),
          };
          await loop.createConnection(() => proto, '127.0.0.1', server.port).catch(() => {});
          t.is(await within(done.promise, 'connectionLost'), boom);
          await until(() => exceptions.length > 0, 'exception handler');
          t.is(exceptions[0]!.exception, boom);
        } finally {
          await server.close();
        }
      },
      { expectExceptions: true },
    ));
}
