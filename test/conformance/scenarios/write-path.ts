// The write path of a stream transport under queueing: byte order across
// writes that go out at once, are joined, or wait in the queue; writes from
// a protocol callback and from outside the loop; writeEof and close behind
// queued bytes; flow control with queued writes; a write into a reset
// connection (selector_events._SelectorSocketTransport.write and
// test_selector_events.py's write tests).
import { randomBytes } from 'node:crypto';
import type { Protocol, Transport } from 'asyncuv';
import { connectedTo, readToEnd } from '../peers.js';
import { type MakeLoop, type Test, future, until, withLoop, within } from '../harness.js';

class Writer implements Protocol {
  transport: Transport | undefined;
  received: Buffer[] = [];
  flow: string[] = [];
  lost = future<Error | null>();
  lostCount = 0;
  /** Answers each read with these writes, if set. */
  onData: ((t: Transport, data: Buffer) => void) | undefined;

  connectionMade(t: Transport): void {
    this.transport = t;
  }
  dataReceived(data: Buffer): void {
    this.received.push(data);
    this.onData?.(this.transport!, data);
  }
  eofReceived(): boolean {
    return true; // keep the writing side open
  }
  pauseWriting(): void {
    this.flow.push('pause');
  }
  resumeWriting(): void {
    this.flow.push('resume');
  }
  connectionLost(err: Error | null): void {
    this.lostCount++;
    this.lost.resolve(err);
  }
}

function connected(
  loop: Parameters<Parameters<typeof withLoop>[2]>[0]['loop'],
): ReturnType<typeof connectedTo<Writer>> {
  return connectedTo(loop, () => new Writer());
}

/** Small, joined, large and writev'd writes, in an order that mixes them. */
function mixedWrites(transport: Transport): Buffer {
  const sent: Buffer[] = [];
  const write = (b: Buffer): void => {
    sent.push(b);
    transport.write(b);
  };
  const lines = (parts: Buffer[]): void => {
    sent.push(...parts);
    transport.writelines(parts);
  };
  for (let i = 0; i < 8; i++) {
    write(Buffer.from(`small ${i};`));
    lines(Array.from({ length: 20 }, (_, j) => Buffer.from(`${i}.${j},`)));
    write(randomBytes(300 * 1024 + i));
    lines([randomBytes(200 * 1024), Buffer.from('tiny'), randomBytes(70 * 1024)]);
    lines([Buffer.from('a'), randomBytes(3000), Buffer.from('b')]);
  }
  return Buffer.concat(sent);
}

export function writePath(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: small, joined, large and writev'd writes arrive in order behind a slow peer, with pauseWriting and resumeWriting once each`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        transport.setWriteBufferLimits({ high: 64 * 1024 });
        peer.pause();
        const expected = mixedWrites(transport);
        t.deepEqual(proto.flow, ['pause'], 'paused once, above the high-water mark');
        t.true(transport.getWriteBufferSize() > 64 * 1024);
        const all = readToEnd(peer);
        peer.resume();
        await until(() => transport.getWriteBufferSize() === 0, 'the queue drains');
        t.deepEqual(proto.flow, ['pause', 'resume']);
        transport.close();
        t.true((await within(all, 'all bytes')).equals(expected));
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
      } finally {
        await server.close();
      }
    }));

  test(`${name}: writes from dataReceived and from outside any loop callback arrive, in order`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        const got: Buffer[] = [];
        const text = (): string => Buffer.concat(got).toString();
        peer.on('data', (d: Buffer) => got.push(d));
        proto.onData = (tr, data) => {
          tr.write(`<${data.toString()}>`);
          tr.writelines(['[', data, ']']);
        };
        peer.write('ping');
        await until(() => text() === '<ping>[ping]', 'the answer from dataReceived');
        // From Node's own loop (a timer), not from a callback of ours: it
        // goes out with nothing else happening on the loop.
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            transport.write('late ');
            transport.writelines(['and ', 'later']);
            resolve();
          }, 1),
        );
        await until(() => text() === '<ping>[ping]late and later', 'a write from outside');
        transport.close();
        await within(proto.lost.promise, 'connectionLost');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: writeEof behind queued writes: every byte, then EOF, and reading goes on`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        peer.pause();
        const expected = mixedWrites(transport);
        t.true(transport.getWriteBufferSize() > 0, 'writes are queued');
        transport.writeEof();
        t.throws(() => transport.write('x'), { code: 'ERR_TRANSPORT_EOF' });
        const all = readToEnd(peer);
        peer.resume();
        t.true((await within(all, 'bytes, then EOF')).equals(expected));
        peer.end('bye');
        await until(
          () => Buffer.concat(proto.received).toString() === 'bye',
          'the peer still talks',
        );
        transport.close();
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
      } finally {
        await server.close();
      }
    }));

  test(`${name}: a write into a connection the peer reset ends it once, with the error`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        // Not reading: only the write can notice the reset.
        transport.pauseReading();
        const closed = new Promise((resolve) => peer.once('close', resolve));
        peer.resetAndDestroy();
        await within(closed, 'the peer reset');
        // The first write may still be accepted by the kernel (the RST not
        // yet seen); keep writing until the connection is lost.
        for (let i = 0; i < 1000 && proto.lostCount === 0; i++) {
          transport.write(Buffer.alloc(64 * 1024, 1));
          transport.writelines([Buffer.from('a'), Buffer.from('b')]);
          await new Promise((resolve) => setImmediate(resolve));
        }
        const err = (await within(proto.lost.promise, 'connectionLost')) as
          (Error & { code?: string }) | null;
        t.true(
          err !== null && ['EPIPE', 'ECONNRESET'].includes(err.code ?? ''),
          `connectionLost(${String(err)})`,
        );
        t.notThrows(() => transport.write('after'));
        await new Promise((resolve) => setImmediate(resolve));
        t.is(proto.lostCount, 1);
      } finally {
        await server.close();
      }
    }));
}
