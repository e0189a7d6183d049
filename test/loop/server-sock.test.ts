// createServer's `sock` (asyncio's sock=) on both loops: serving a TCP
// handle that is already bound, such as a duplicate of a listening socket
// that several loops (threads) accept from. The server owns the handle.
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { Loop, TCP } from 'asyncuv';
import { bothEventLoops, onNodeEventLoop, onUvEventLoop } from '../helpers/event-loop-test.js';
import { assertNoHandlesAndClose, within } from '../helpers/loop-test.js';
import { ask, naming } from '../helpers/sock-test.js';

for (const [name, onLoop] of bothEventLoops) {
  test(`${name}: createServer serves a bound TCP handle given as sock, and owns it`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const sock = new TCP(uvloop);
      sock.bind('127.0.0.1', 0);
      const port = sock.getsockname().port;
      const server = await loop.createServer(naming('sock'), null, 0, { sock });
      t.deepEqual(server.sockets(), [{ address: '127.0.0.1', port, family: 'IPv4' }]);
      t.is(await ask(port), 'sock');
      server.close();
      t.true(sock.closed, 'closing the server closes its socket');
      await within(server.waitClosed(), 'waitClosed', 5000);
      const probe = net.connect(port, '127.0.0.1');
      const [err] = (await within(once(probe, 'error'), 'refusal', 5000)) as [
        NodeJS.ErrnoException,
      ];
      t.is(err.code, 'ECONNREFUSED', 'nothing listens once the server closed');
    }));

  test(`${name}: a sock whose listen fails rejects with the UvError and is closed`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      // Two sockets may bind one port (libuv sets SO_REUSEADDR) until one
      // of them listens; the other's listen then fails.
      const first = new TCP(uvloop);
      const sock = new TCP(uvloop);
      try {
        first.bind('127.0.0.1', 0);
        sock.bind('127.0.0.1', first.getsockname().port);
        first.listen(16, () => {});
        await t.throwsAsync(loop.createServer(naming('x'), null, 0, { sock }), {
          code: 'EADDRINUSE',
        });
        t.true(sock.closed, 'the server owned the handle, and closed it');
      } finally {
        first.close();
      }
    }));

  test(`${name}: a bad sock is a usage error and stays the caller's`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const sock = new TCP(uvloop);
      const unbound = new TCP(uvloop);
      const closed = new TCP(uvloop);
      try {
        sock.bind('127.0.0.1', 0);
        closed.bind('127.0.0.1', 0);
        closed.close();
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
        await t.throwsAsync(loop.createServer(make, null, 0, { sock: closed }), {
          code: 'ERR_HANDLE_CLOSED',
        });
        t.false(sock.closed, "a refused sock stays the caller's");
        t.false(unbound.closed);
      } finally {
        sock.close();
        unbound.close();
      }
    }));
}

test('UvEventLoop takes a sock of its own Loop only', (t) =>
  onUvEventLoop(t, async (loop) => {
    const other = new Loop();
    const foreign = new TCP(other);
    try {
      foreign.bind('127.0.0.1', 0);
      await t.throwsAsync(loop.createServer(naming('x'), null, 0, { sock: foreign }), {
        code: 'ERR_INVALID_ARG_VALUE',
        message: /Loop/,
      });
      t.false(foreign.closed);
    } finally {
      foreign.close();
      await assertNoHandlesAndClose(t, other);
    }
  }));

test('a UvEventLoop and a NodeEventLoop serve duplicates of one listening socket', (t) =>
  onUvEventLoop(t, async (first, firstUv) =>
    onUvEventLoop(t, async (second, secondUv) =>
      onNodeEventLoop(t, async (third, thirdUv) => {
        const anchor = new TCP(firstUv);
        anchor.bind('127.0.0.1', 0);
        const port = anchor.getsockname().port;
        const servers = [];
        for (const [name, loop, uvloop] of [
          ['one', first, firstUv],
          ['two', second, secondUv],
          ['three', third, thirdUv],
        ] as const) {
          const sock = new TCP(uvloop);
          sock.open(anchor.fileno(), { duplicate: true });
          servers.push(await loop.createServer(naming(name), null, 0, { sock }));
        }
        t.regex(await ask(port), /^(one|two|three)$/);
        servers[0]!.close();
        servers[1]!.close();
        t.is(await ask(port), 'three', 'the socket listens while one duplicate is served');
        servers[2]!.close();
        anchor.close();
        await within(Promise.all(servers.map((s) => s.waitClosed())), 'waitClosed', 5000);
      }),
    ),
  ));
