// The write path of a stream transport under queueing: byte order across
// writes that go out at once, are joined, or wait in the queue; writes from
// a protocol callback and from outside the loop; writeEof and close behind
// queued bytes; flow control with queued writes; a write into a reset
// connection (selector_events._SelectorSocketTransport.write and
// test_selector_events.py's write tests); the caller's memory is its own
// again once write() returns.
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

  test(`${name}: the caller may rewrite its buffer once write() returns: the bytes sent are those of the call, whether they went out at once, in part or were queued`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      // Three connections: writes copied for one must not land in memory
      // that a write still waiting on another uses.
      const conns = [await connected(loop), await connected(loop), await connected(loop)];
      try {
        const small = Buffer.alloc(1000);
        const medium = Buffer.alloc(16 * 1024);
        const large = Buffer.alloc(40 * 1024);
        let n = 0;
        const sides = conns.map(({ transport, peer }) => {
          const side = {
            transport,
            peer,
            expected: [] as Buffer[],
            got: [] as Buffer[],
            sent: 0,
            read: 0,
          };
          peer.on('data', (d: Buffer) => {
            side.got.push(d);
            side.read += d.length;
          });
          return side;
        });
        // One buffer of each size, rewritten before every write.
        const write = (side: (typeof sides)[number], buf: Buffer): void => {
          buf.fill(n++ & 0xff);
          side.transport.write(buf);
          side.expected.push(Buffer.from(buf));
          side.sent += buf.length;
        };
        const [a, b, c] = sides as [(typeof sides)[0], (typeof sides)[0], (typeof sides)[0]];
        // The peers read: writes go out at once.
        for (const side of sides)
          for (let i = 0; i < 10; i++) write(side, i % 5 === 4 ? large : small);
        await until(
          () => sides.every((s) => s.read === s.sent),
          'the writes that went out at once',
        );
        // a's and c's peers stop reading: their sockets' buffers fill, a
        // write goes out in part (a: 16 KiB ones, c: 40 KiB ones) and the
        // rest waits, with writes queued behind it; b goes on meanwhile.
        for (const [side, buf] of [
          [a, medium],
          [c, large],
        ] as const) {
          side.peer.pause();
          for (let i = 0; i < 100_000 && side.transport.getWriteBufferSize() === 0; i++) {
            write(side, buf);
          }
          t.true(side.transport.getWriteBufferSize() > 0, 'a write stayed queued');
          for (let i = 0; i < 5; i++) write(side, i % 2 === 0 ? small : large);
          for (let i = 0; i < 10; i++) write(b, i % 3 === 2 ? medium : small);
        }
        for (const buf of [small, medium, large]) buf.fill(0xee);
        a.peer.resume();
        c.peer.resume();
        await until(
          () => sides.every((s) => s.transport.getWriteBufferSize() === 0),
          'the queues drain',
        );
        // Idle again: more writes after the ones that waited.
        for (const side of sides)
          for (let i = 0; i < 10; i++) write(side, i % 5 === 4 ? large : small);
        for (const buf of [small, medium, large]) buf.fill(0xdd);
        await until(() => sides.every((s) => s.read >= s.sent), 'every byte');
        for (const [i, side] of sides.entries()) {
          t.true(Buffer.concat(side.got).equals(Buffer.concat(side.expected)), `connection ${i}`);
          side.transport.close();
        }
        for (const { proto } of conns) await within(proto.lost.promise, 'connectionLost');
      } finally {
        for (const { server } of conns) await server.close();
      }
    }));
}
