// createServer's `sock` (asyncio's sock=) on UvEventLoop: serving a TCP
// handle that is already bound, such as a duplicate of a listening socket
// that several loops (threads) accept from.
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { Loop, NodeEventLoop, TCP, type Protocol, type Transport } from 'asyncuv';
import { onUvEventLoop } from '../helpers/event-loop-test.js';
import { within } from '../helpers/loop-test.js';

/** Answers every chunk with `name`. */
function naming(name: string): () => Protocol {
  return () => {
    let transport: Transport;
    return {
      connectionMade: (t: Transport) => (transport = t),
      dataReceived: () => transport.write(name),
    };
  };
}

async function ask(port: number): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write('?');
  const [data] = (await within(once(socket, 'data'), 'an answer', 5000)) as [Buffer];
  socket.destroy();
  return data.toString();
}

test('createServer serves a bound TCP handle given as sock, and owns it', (t) =>
  onUvEventLoop(t, async (loop, uvloop) => {
    const sock = new TCP(uvloop);
    sock.bind('127.0.0.1', 0);
    const port = sock.getsockname().port;
    const server = await loop.createServer(naming('sock'), null, 0, { sock });
    t.deepEqual(server.sockets(), [{ address: '127.0.0.1', port, family: 'IPv4' }]);
    t.is(await ask(port), 'sock');
    server.close();
    t.true(sock.closed, 'closing the server closes its socket');
    await within(server.waitClosed(), 'waitClosed', 5000);
  }));

test('two event loops serve duplicates of one listening socket', (t) =>
  onUvEventLoop(t, async (first, firstUv) =>
    onUvEventLoop(t, async (second, secondUv) => {
      const anchor = new TCP(firstUv);
      anchor.bind('127.0.0.1', 0);
      const port = anchor.getsockname().port;
      const servers = [];
      for (const [name, loop, uvloop] of [
        ['one', first, firstUv],
        ['two', second, secondUv],
      ] as const) {
        const sock = new TCP(uvloop);
        sock.open(anchor.fileno(), { duplicate: true });
        servers.push(await loop.createServer(naming(name), null, 0, { sock }));
      }
      t.regex(await ask(port), /^(one|two)$/);
      servers[0]!.close();
      t.is(await ask(port), 'two', 'the socket listens while one duplicate is served');
      servers[1]!.close();
      anchor.close();
      await within(Promise.all(servers.map((s) => s.waitClosed())), 'waitClosed', 5000);
    }),
  ));

test('a bad sock is a usage error, and NodeEventLoop does not take one', (t) =>
  onUvEventLoop(t, async (loop, uvloop) => {
    const other = new Loop();
    const sock = new TCP(uvloop);
    const unbound = new TCP(uvloop);
    const foreign = new TCP(other);
    try {
      sock.bind('127.0.0.1', 0);
      foreign.bind('127.0.0.1', 0);
      const make = naming('x');
      await t.throwsAsync(loop.createServer(make, null, 0, { sock: 3 as unknown as TCP }), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
      await t.throwsAsync(loop.createServer(make, '127.0.0.1', 0, { sock }), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
      await t.throwsAsync(loop.createServer(make, null, 80, { sock }), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
      await t.throwsAsync(loop.createServer(make, null, 0, { sock: unbound }), {
        code: 'ERR_INVALID_ARG_VALUE',
        message: /must be bound/,
      });
      await t.throwsAsync(loop.createServer(make, null, 0, { sock: foreign }), {
        code: 'ERR_INVALID_ARG_VALUE',
        message: /Loop/,
      });
      t.false(sock.closed, "a refused sock stays the caller's");
      const nodeLoop = new NodeEventLoop();
      await t.throwsAsync(nodeLoop.createServer(make, null, 0, { sock }), {
        code: 'ERR_NOT_SUPPORTED',
      });
      nodeLoop.close();
    } finally {
      sock.close();
      unbound.close();
      foreign.close();
      other.close();
    }
  }));
