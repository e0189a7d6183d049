// How a stream transport ends (test_selector_events.py / test_events.py:
// close flushes, abort drops, connection_lost once and deferred, half-close
// with write_eof and eof_received, peer resets; pause/resume reading).
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Protocol, Transport } from 'asyncuv';
import { connectedTo, netConnect, netServer, readToEnd } from '../peers.js';
import { type MakeLoop, type Test, future, until, withLoop, within } from '../harness.js';

/** Records the calls a transport makes, in order. */
class Recorder implements Protocol {
  calls: string[] = [];
  transport: Transport | undefined;
  received: Buffer[] = [];
  lost = future<Error | null>();
  lostCount = 0;
  /** What eofReceived returns. */
  keepOpenOnEof: boolean | undefined = undefined;

  connectionMade(t: Transport): void {
    this.calls.push('made');
    this.transport = t;
  }
  dataReceived(data: Buffer): void {
    if (this.calls.at(-1) !== 'data') this.calls.push('data');
    this.received.push(data);
  }
  eofReceived(): boolean | undefined {
    this.calls.push('eof');
    return this.keepOpenOnEof;
  }
  connectionLost(err: Error | null): void {
    this.calls.push('lost');
    this.lostCount++;
    this.lost.resolve(err);
  }
  text(): string {
    return Buffer.concat(this.received).toString();
  }
}

/** Connects a Recorder to a fresh node:net server; returns both ends. */
function connected(
  loop: Parameters<Parameters<typeof withLoop>[2]>[0]['loop'],
  onServerSocket?: (s: net.Socket) => void,
): ReturnType<typeof connectedTo<Recorder>> {
  return connectedTo(loop, () => new Recorder(), onServerSocket);
}

const BIG = 8 * 1024 * 1024;

export function transportLifecycle(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: close() defers connectionLost(null), calls it once, and the peer sees EOF`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        const ended = readToEnd(peer);
        transport.close();
        t.true(transport.isClosing());
        t.deepEqual(proto.calls, ['made'], 'connectionLost is not called from inside close()');
        transport.close();
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
        await within(ended, 'peer EOF');
        await sleep(20);
        t.deepEqual(proto.calls, ['made', 'lost']);
        t.is(proto.lostCount, 1);
      } finally {
        await server.close();
      }
    }));

  test(`${name}: abort() defers connectionLost(null) and calls it once, whatever follows`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto } = await connected(loop);
      try {
        transport.abort();
        t.deepEqual(proto.calls, ['made'], 'connectionLost is not called from inside abort()');
        t.true(transport.isClosing());
        transport.abort();
        transport.close();
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
        await sleep(20);
        t.is(proto.lostCount, 1);
      } finally {
        await server.close();
      }
    }));

  test(`${name}: close() flushes queued writes before closing`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        peer.pause();
        transport.write(Buffer.alloc(BIG, 'a'));
        await sleep(20);
        t.true(transport.getWriteBufferSize() > 0, 'the peer is not reading: writes are queued');
        transport.close();
        t.deepEqual(proto.calls, ['made']);
        const all = readToEnd(peer);
        peer.resume();
        t.is((await within(all, 'all bytes')).length, BIG);
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
      } finally {
        await server.close();
      }
    }));

  for (const how of ['close', 'abort'] as const) {
    test(`${name}: ${how}() from inside connectionMade: connectionLost(null) follows once, later`, (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const server = await netServer();
        try {
          const calls: string[] = [];
          const lost = future<Error | null>();
          const proto: Protocol = {
            connectionMade(tr) {
              calls.push('made');
              tr[how]();
              calls.push(`after ${how}`);
            },
            dataReceived: () => void calls.push('data'),
            connectionLost(err) {
              calls.push('lost');
              lost.resolve(err);
            },
          };
          const [transport] = await loop
            .createConnection(() => proto, '127.0.0.1', server.port)
            .catch(() => {
              // A loop may also report the connection as failed; connectionLost must still come.
              calls.push('rejected');
              return [undefined] as const;
            });
          t.is(await within(lost.promise, 'connectionLost'), null);
          await sleep(20);
          t.deepEqual(
            calls.filter((c) => c !== 'rejected'),
            ['made', `after ${how}`, 'lost'],
          );
          if (transport !== undefined) t.true(transport.isClosing());
        } finally {
          await server.close();
        }
      }));
  }

  test(`${name}: abort() drops queued writes`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        peer.pause();
        transport.write(Buffer.alloc(BIG, 'b'));
        await sleep(20);
        t.true(transport.getWriteBufferSize() > 0);
        transport.abort();
        const all = readToEnd(peer);
        peer.resume();
        t.true((await within(all, 'what arrived')).length < BIG);
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
      } finally {
        await server.close();
      }
    }));

  test(`${name}: writeEof half-closes: the peer sees EOF, and its reply still arrives`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop, (s) => {
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('end', () => s.end(`bye after ${got}`));
      });
      try {
        t.true(transport.canWriteEof());
        transport.write('hello');
        transport.writeEof();
        t.throws(() => transport.write('more'), { code: 'ERR_TRANSPORT_EOF' });
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
        t.is(proto.text(), 'bye after hello');
        t.deepEqual(proto.calls, ['made', 'data', 'eof', 'lost']);
        void peer;
      } finally {
        await server.close();
      }
    }));

  test(`${name}: eofReceived returning true keeps the transport open for writing`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const proto = new Recorder();
      proto.keepOpenOnEof = true;
      const server = await loop.createServer(() => proto, '127.0.0.1', 0);
      const client = await netConnect((server.sockets()[0] as { port: number }).port, '127.0.0.1', {
        allowHalfOpen: true,
      });
      const reply = readToEnd(client);
      client.end('question');
      await until(() => proto.calls.includes('eof'), 'eofReceived');
      t.false(proto.transport!.isClosing());
      proto.transport!.write(`answer to ${proto.text()}`);
      proto.transport!.close();
      t.is((await within(reply, 'reply after EOF')).toString(), 'answer to question');
      await within(proto.lost.promise, 'connectionLost');
      t.deepEqual(proto.calls, ['made', 'data', 'eof', 'lost']);
      server.close();
      await within(server.waitClosed(), 'waitClosed');
    }));

  test(`${name}: eofReceived returning nothing closes the transport`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        const ended = readToEnd(peer);
        peer.end('last words');
        t.is(await within(proto.lost.promise, 'connectionLost'), null);
        t.true(transport.isClosing());
        await within(ended, 'our side closed too');
        t.deepEqual(proto.calls, ['made', 'data', 'eof', 'lost']);
        t.is(proto.text(), 'last words');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: a peer reset ends the connection with connectionLost(error)`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        peer.resetAndDestroy();
        const err = await within(proto.lost.promise, 'connectionLost');
        // Depending on timing the reset shows on read (ECONNRESET) or as EOF.
        if (err !== null) t.is((err as Error & { code?: string }).code, 'ECONNRESET');
        else t.true(proto.calls.includes('eof'));
        t.true(transport.isClosing());
        t.is(proto.lostCount, 1);
      } finally {
        await server.close();
      }
    }));

  test(`${name}: writes to a transport whose connection is lost are dropped silently`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto } = await connected(loop);
      try {
        transport.abort();
        await within(proto.lost.promise, 'connectionLost');
        t.notThrows(() => transport.write('into the void'));
        t.notThrows(() => transport.writelines(['a', 'b']));
      } finally {
        await server.close();
      }
    }));

  test(`${name}: write and writelines deliver bytes in order; bad data is a usage error`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        const all = readToEnd(peer);
        transport.write('one ');
        transport.write(Buffer.from('two '));
        transport.writelines([
          'three ',
          Buffer.from('four '),
          new Uint8Array([102, 105, 118, 101]),
        ]);
        transport.write('');
        t.throws(() => transport.write(42 as never), { code: 'ERR_INVALID_ARG_TYPE' });
        t.throws(() => transport.writelines([null as never]), { code: 'ERR_INVALID_ARG_TYPE' });
        transport.close();
        t.is((await within(all, 'bytes')).toString(), 'one two three four five');
        await within(proto.lost.promise, 'connectionLost');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: pauseReading stops dataReceived until resumeReading`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        t.true(transport.isReading());
        transport.pauseReading();
        t.false(transport.isReading());
        transport.pauseReading(); // twice is fine
        peer.write('while paused');
        await sleep(50);
        t.is(proto.received.length, 0);
        transport.resumeReading();
        t.true(transport.isReading());
        await until(() => proto.text() === 'while paused', 'data after resume');
        transport.close();
        t.false(transport.isReading());
        await within(proto.lost.promise, 'connectionLost');
      } finally {
        await server.close();
      }
    }));

  test(`${name}: setProtocol switches where data goes`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const { server, transport, proto, peer } = await connected(loop);
      try {
        const other = new Recorder();
        transport.setProtocol(other);
        t.is(transport.getProtocol(), other);
        peer.write('for the other');
        await until(() => other.text() === 'for the other', 'data to the new protocol');
        t.is(proto.received.length, 0);
        const ended = readToEnd(peer);
        transport.close();
        await within(other.lost.promise, 'connectionLost on the new protocol');
        t.is(proto.lostCount, 0);
        await within(ended, 'peer EOF');
      } finally {
        await server.close();
      }
    }));
}
