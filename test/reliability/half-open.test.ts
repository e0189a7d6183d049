// Half-open connections: the peer shuts down its write side and keeps
// reading while we keep writing. eofReceived() returning true keeps the
// transport open for writing; anything else closes it, but only after the
// writes already queued are out. (The conformance suite checks the
// eofReceived/close order with small writes; this checks megabytes written
// after, and queued before, the peer's EOF.)
import test from 'ava';
import net from 'node:net';
import type { Protocol, Transport } from 'asyncuv';
import { deferred, loopTest, within } from '../helpers/loop-test.js';
import { onUvEventLoop } from '../helpers/event-loop-test.js';
import { closeAll, listenTcp } from './tcp-peers.js';

const MiB = 1024 * 1024;

/** A node:net client that ends its write side at once and reads everything. */
function halfClosingPeer(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end());
    s.on('data', (d: Buffer) => (n += d.byteLength));
    s.on('end', () => {
      s.destroy();
      resolve(n);
    });
    s.on('error', reject);
  });
}

test('eofReceived() returning true: 16 MiB written after the peer EOF all arrive, then connectionLost(null) once', (t) =>
  onUvEventLoop(t, async (loop) => {
    const calls: string[] = [];
    const lost = deferred();
    const protocol: Protocol & { t?: Transport } = {
      connectionMade(tr) {
        protocol.t = tr;
      },
      eofReceived() {
        calls.push('eof');
        // Keep writing on the half-open connection, then close (flushes).
        const chunk = Buffer.alloc(MiB, 0x63);
        for (let i = 0; i < 16; i++) protocol.t!.write(chunk);
        protocol.t!.close();
        return true;
      },
      connectionLost(err) {
        calls.push(`lost:${String(err)}`);
        lost.resolve();
      },
    };
    const server = await loop.createServer(() => protocol, '127.0.0.1', 0);
    const got = await within(
      halfClosingPeer((server.sockets()[0] as { port: number }).port),
      'the peer to read to EOF',
      20_000,
    );
    await within(lost.promise, 'connectionLost', 5000);
    t.is(got, 16 * MiB);
    t.deepEqual(calls, ['eof', 'lost:null']);
    server.close();
    await server.waitClosed();
  }));

test('eofReceived() returning nothing closes, but the 8 MiB queued before the EOF still arrive', (t) =>
  onUvEventLoop(t, async (loop) => {
    const calls: string[] = [];
    const lost = deferred();
    const protocol: Protocol = {
      connectionMade(tr) {
        // Queued now, before the peer (which ends at once) reads any of it.
        const chunk = Buffer.alloc(MiB, 0x64);
        for (let i = 0; i < 8; i++) tr.write(chunk);
      },
      eofReceived() {
        calls.push('eof');
      },
      connectionLost(err) {
        calls.push(`lost:${String(err)}`);
        lost.resolve();
      },
    };
    const server = await loop.createServer(() => protocol, '127.0.0.1', 0);
    const got = await within(
      halfClosingPeer((server.sockets()[0] as { port: number }).port),
      'the peer to read to EOF',
      20_000,
    );
    await within(lost.promise, 'connectionLost', 5000);
    t.is(got, 8 * MiB);
    t.deepEqual(calls, ['eof', 'lost:null']);
    server.close();
    await server.waitClosed();
  }));

loopTest(
  'handle level: after reading EOF, 16 MiB more written and a shutdown reach the peer',
  async (t, loop) => {
    const done = deferred<number>();
    const server = listenTcp(loop, (peer) => {
      peer.readStart((err, data) => {
        if (err !== null || data !== null) return;
        // EOF: the peer is half-closed; we still write.
        peer.readStop();
        const chunk = Buffer.alloc(MiB, 0x65);
        let written = 0;
        for (let i = 0; i < 16; i++) {
          peer.write(chunk, (werr) => {
            if (werr === null) written += chunk.byteLength;
          });
        }
        peer.shutdown(() => peer.close(() => done.resolve(written)));
      });
    });
    const got = await within(
      halfClosingPeer(server.getsockname().port),
      'the peer to read to EOF',
      20_000,
    );
    t.is(got, 16 * MiB);
    t.is(await done.promise, 16 * MiB);
    await closeAll(server);
  },
);
