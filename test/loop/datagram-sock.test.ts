// createDatagramEndpoint's `sock` (asyncio's sock=) on both loops: an
// endpoint over a UDP handle that is bound (and maybe connected) already.
// The transport owns the handle; a refused one stays the caller's.
import test from 'ava';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { Loop, TCP, UDP, type DatagramProtocol, type DatagramTransport } from 'asyncuv';
import { bothEventLoops, onUvEventLoop } from '../helpers/event-loop-test.js';
import { assertNoHandlesAndClose, within } from '../helpers/loop-test.js';
import { quietFdCount, settledFdCount } from '../reliability/fd-table.js';

/** Records the datagrams it gets; `next()` resolves with the next one. */
class Collect implements DatagramProtocol {
  transport: DatagramTransport | undefined;
  readonly lost: Promise<Error | null>;
  #lost!: (err: Error | null) => void;
  #waiting: Array<(d: [string, [string, number]]) => void> = [];

  constructor() {
    this.lost = new Promise((resolve) => (this.#lost = resolve));
  }

  connectionMade(t: DatagramTransport): void {
    this.transport = t;
  }

  datagramReceived(data: Buffer, addr: [string, number]): void {
    this.#waiting.shift()?.([data.toString(), addr]);
  }

  connectionLost(err: Error | null): void {
    this.#lost(err);
  }

  next(): Promise<[string, [string, number]]> {
    return within(new Promise((resolve) => this.#waiting.push(resolve)), 'a datagram');
  }
}

/** A node:dgram socket on 127.0.0.1 that answers each datagram with 'echo:' + it. */
async function echoPeer(): Promise<{ port: number; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, from) => socket.send(`echo:${msg}`, from.port, from.address));
  socket.bind(0, '127.0.0.1');
  await within(once(socket, 'listening'), 'bound');
  return { port: socket.address().port, close: () => socket.close() };
}

function boundUdp(uvloop: Loop): UDP {
  const udp = new UDP(uvloop);
  udp.bind('127.0.0.1', 0);
  return udp;
}

// Serial: the count is of the whole process, and runs before the other tests.
test.serial(
  'createDatagramEndpoint with sock leaves no fd behind over 50 cycles on both loops',
  async (t) => {
    for (const [name, onLoop] of bothEventLoops) {
      await onLoop(t, async (loop, uvloop) => {
        let before = 0;
        // Cycle 0 warms up (lazily made fds); the count is taken after it.
        for (let i = 0; i <= 50; i++) {
          if (i === 1) before = await quietFdCount();
          const sock = boundUdp(uvloop);
          const [transport, proto] = await loop.createDatagramEndpoint(() => new Collect(), {
            sock,
          });
          transport.close();
          await within(proto.lost, 'connectionLost');
          t.true(sock.closed);
        }
        t.is(await settledFdCount(before), before, `${name}: the fd count is back where it was`);
      });
    }
  },
);

for (const [name, onLoop] of bothEventLoops) {
  test(`${name}: createDatagramEndpoint serves a bound UDP handle given as sock, and owns it`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const peer = await echoPeer();
      try {
        const sock = boundUdp(uvloop);
        const local = sock.getsockname();
        const [transport, proto] = await loop.createDatagramEndpoint(() => new Collect(), { sock });
        t.deepEqual(transport.getExtraInfo('sockname'), ['127.0.0.1', local.port]);
        t.is(transport.getExtraInfo('peername'), undefined);
        t.not(transport.getExtraInfo('socket'), undefined);
        const answer = proto.next();
        transport.sendto('ping', ['127.0.0.1', peer.port]);
        t.deepEqual(await answer, ['echo:ping', ['127.0.0.1', peer.port]]);
        transport.close();
        t.is(await within(proto.lost, 'connectionLost'), null);
        t.true(sock.closed, 'the transport closed the handle');
      } finally {
        peer.close();
      }
    }));

  test(`${name}: a connected UDP handle's peer is the endpoint's remote address`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const peer = await echoPeer();
      try {
        const sock = boundUdp(uvloop);
        sock.connect('127.0.0.1', peer.port);
        const [transport, proto] = await loop.createDatagramEndpoint(() => new Collect(), { sock });
        t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', peer.port]);
        const answer = proto.next();
        transport.sendto('hello');
        t.deepEqual(await answer, ['echo:hello', ['127.0.0.1', peer.port]]);
        transport.close();
        await within(proto.lost, 'connectionLost');
        t.true(sock.closed);
      } finally {
        peer.close();
      }
    }));

  test(`${name}: a bad sock or an option beside it is a usage error and the sock stays the caller's`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const sock = boundUdp(uvloop);
      const unbound = new UDP(uvloop);
      const closed = new UDP(uvloop);
      const tcp = new TCP(uvloop);
      try {
        closed.close();
        const make = () => new Collect();
        for (const extra of [
          { localAddr: ['127.0.0.1', 0] as [string, number] },
          { remoteAddr: ['127.0.0.1', 9] as [string, number] },
          { reusePort: true },
          { allowBroadcast: true },
          { family: 4 as const },
        ]) {
          await t.throwsAsync(
            loop.createDatagramEndpoint(make, { sock, ...extra }),
            { code: 'ERR_INVALID_ARG_VALUE', message: /cannot be given with sock/ },
            JSON.stringify(extra),
          );
        }
        await t.throwsAsync(loop.createDatagramEndpoint(make, { sock: tcp as unknown as UDP }), {
          code: 'ERR_INVALID_ARG_TYPE',
        });
        await t.throwsAsync(loop.createDatagramEndpoint(make, { sock: unbound }), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /must be bound/,
        });
        await t.throwsAsync(loop.createDatagramEndpoint(make, { sock: closed }), {
          code: 'ERR_HANDLE_CLOSED',
        });
        t.false(sock.closed, "a refused sock stays the caller's");
        t.false(unbound.closed);
        // A protocol factory that throws: the call rejects with its error,
        // and the handle, taken by then, is closed.
        const boom = new Error('no protocol');
        await t.throwsAsync(
          loop.createDatagramEndpoint(
            () => {
              throw boom;
            },
            { sock },
          ),
          { is: boom },
        );
        t.true(sock.closed);
        const another = boundUdp(uvloop);
        loop.close();
        await t.throwsAsync(loop.createDatagramEndpoint(make, { sock: another }), {
          code: 'ERR_LOOP_CLOSED',
        });
        t.false(another.closed);
        another.close();
      } finally {
        unbound.close();
        tcp.close();
        if (!sock.closed) sock.close();
      }
    }));
}

test('UvEventLoop.createDatagramEndpoint takes a sock of its own Loop only', (t) =>
  onUvEventLoop(t, async (loop) => {
    const other = new Loop();
    const foreign = boundUdp(other);
    try {
      await t.throwsAsync(
        loop.createDatagramEndpoint(() => new Collect(), { sock: foreign }),
        {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /Loop/,
        },
      );
      t.false(foreign.closed);
    } finally {
      foreign.close();
      await assertNoHandlesAndClose(t, other);
    }
  }));
