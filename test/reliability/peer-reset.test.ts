// The peer resets the connection (SO_LINGER 0: closeReset) while we have
// megabytes of writes queued. Every write settles exactly once, the
// transport reports the loss exactly once, nothing crashes, nothing is left
// open. (test/handles/tcp.test.ts "peer reset gives ECONNRESET" covers a
// reset seen by a read with nothing queued; the conformance suite covers a
// reset surfacing through StreamWriter.drain.)
import test from 'ava';
import { Loop, UvEventLoop, UvError, type Protocol, type Transport } from 'asyncuv';
import { deferred, loopTest, waitFor, within } from '../helpers/loop-test.js';
import { closeAll, connectTcp, listenTcp } from './tcp-peers.js';
import type { TCP } from '../../handles/index.js';

const kResetCodes = ['ECONNRESET', 'EPIPE'];

loopTest(
  'handle level: 64 MiB queued, peer resets: each write callback once, reading sees the reset',
  async (t, loop) => {
    const accepted = deferred<TCP>();
    const server = listenTcp(loop, (peer) => accepted.resolve(peer)); // never reads
    const c = await connectTcp(loop, server.getsockname().port);
    const peer = await accepted.promise;
    const calls = new Array<number>(64).fill(0);
    const codes = new Array<string | null>(64).fill(null);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 64; i++) {
      c.write(chunk, (err) => {
        calls[i]!++;
        codes[i] = err === null ? null : err.code;
      });
    }
    t.true(c.writeQueueSize > 0, 'writes are queued behind a peer that does not read');
    let readErr: UvError | null | undefined;
    let reads = 0;
    c.readStart((err) => {
      reads++;
      readErr = err;
    });
    peer.closeReset();
    // The reset fails the write in progress; libuv then fails or cancels the
    // rest. Wait until every callback ran.
    t.true(
      await waitFor(() => calls.every((n) => n >= 1), 10_000),
      `write callbacks: ${calls.join(',')}`,
    );
    await closeAll(c, server);
    t.true(
      calls.every((n) => n === 1),
      `each write callback exactly once: ${calls.join(',')}`,
    );
    const failed = codes.filter((code) => code !== null);
    t.true(failed.length > 0);
    t.true(
      failed.every((code) => [...kResetCodes, 'ECANCELED'].includes(code!)),
      codes.join(','),
    );
    // The read side saw the reset (or nothing, if the write failed first and
    // we closed before a read came): never data, never twice.
    t.true(reads <= 1);
    if (reads === 1)
      t.true(readErr instanceof UvError && kResetCodes.includes(readErr.code), String(readErr));
  },
);

/** Writes until the transport is paused, then 8 MiB more; records what the transport says. */
class Flooder implements Protocol {
  t!: Transport;
  lostCalls = 0;
  lostErr: Error | null | undefined;
  paused = 0;
  readonly made = deferred();
  readonly lost = deferred();
  connectionMade(t: Transport): void {
    this.t = t;
    const chunk = Buffer.alloc(256 * 1024, 0x62);
    while (this.paused === 0) t.write(chunk);
    for (let i = 0; i < 32; i++) t.write(chunk);
    this.made.resolve();
  }
  pauseWriting(): void {
    this.paused++;
  }
  connectionLost(err: Error | null): void {
    this.lostCalls++;
    this.lostErr = err;
    this.lost.resolve();
  }
}

test('transport level: a reset with 8 MiB queued: connectionLost once with a typed error, later writes are dropped', async (t) => {
  const uvloop = new Loop();
  const loop = new UvEventLoop(uvloop);
  try {
    const accepted = deferred<TCP>();
    const server = listenTcp(uvloop, (peer) => accepted.resolve(peer));
    const [transport, proto] = await loop.createConnection(
      () => new Flooder(),
      '127.0.0.1',
      server.getsockname().port,
    );
    await proto.made.promise;
    t.true(transport.getWriteBufferSize() > 8 * 1024 * 1024 - 1);
    const peer = await accepted.promise;
    peer.closeReset();
    await within(proto.lost.promise, 'connectionLost', 10_000);
    t.is(proto.lostCalls, 1);
    t.true(
      proto.lostErr instanceof UvError && kResetCodes.includes(proto.lostErr.code),
      String(proto.lostErr),
    );
    t.true(transport.isClosing());
    // Writing to a lost transport is a no-op, as in asyncio (it only counts).
    t.notThrows(() => transport.write('late'));
    transport.close();
    transport.abort();
    await closeAll(server);
    await new Promise((r) => setTimeout(r, 50));
    t.is(proto.lostCalls, 1, 'close()/abort() after the loss do not report it again');
    loop.close();
    t.true(await waitFor(() => Object.keys(uvloop.handleCounts()).length === 0, 5000));
    t.deepEqual(uvloop.handleCounts(), {});
  } finally {
    if (!loop.isClosed()) loop.close();
    uvloop.close();
  }
});
