// createUnixServer's `sock` (asyncio's sock=) on both loops: serving a Unix
// socket (a Pipe) that is bound already. The server owns the handle, and
// its socket file goes as the handle's own close() would take it: a Pipe
// bound with bind() removes its file (if still the one bound), one opened
// from an fd leaves it.
import test from 'ava';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Loop, Pipe, TCP } from 'asyncuv';
import { bothEventLoops, onUvEventLoop } from '../helpers/event-loop-test.js';
import { assertNoHandlesAndClose, within } from '../helpers/loop-test.js';
import { ask, naming, tempDir } from '../helpers/sock-test.js';
import { quietFdCount, settledFdCount } from '../reliability/fd-table.js';

// Serial: the count is of the whole process, and runs before the other tests.
test.serial(
  'createUnixServer with sock leaves no fd behind over 50 cycles on both loops',
  async (t) => {
    const dir = tempDir();
    try {
      for (const [name, onLoop] of bothEventLoops) {
        await onLoop(t, async (loop, uvloop) => {
          let before = 0;
          // Cycle 0 warms up (lazily made fds); the count is taken after it.
          for (let i = 0; i <= 50; i++) {
            if (i === 1) before = await quietFdCount();
            const path = dir.path(`${name}-${i}.sock`);
            const sock = new Pipe(uvloop);
            sock.bind(path);
            const server = await loop.createUnixServer(naming('x'), null, { sock });
            if (i % 10 === 0) t.is(await ask(path), 'x');
            server.close();
            await within(server.waitClosed(), 'waitClosed', 5000);
            t.true(sock.closed);
            t.false(existsSync(path));
          }
          t.is(await settledFdCount(before), before, `${name}: the fd count is back where it was`);
        });
      }
    } finally {
      dir.remove();
    }
  },
);

for (const [name, onLoop] of bothEventLoops) {
  test(`${name}: createUnixServer serves a bound Pipe given as sock, and owns it`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const dir = tempDir();
      try {
        const path = dir.path('s.sock');
        const sock = new Pipe(uvloop);
        sock.bind(path);
        const server = await loop.createUnixServer(naming('sock'), null, { sock });
        t.deepEqual(server.sockets(), [{ path }]);
        t.is(await ask(path), 'sock');
        t.is(await ask(path), 'sock');
        server.close();
        t.true(sock.closed, 'closing the server closes its socket');
        await within(server.waitClosed(), 'waitClosed', 5000);
        t.false(existsSync(path), 'the file the Pipe bound goes with it');
      } finally {
        dir.remove();
      }
    }));

  test(`${name}: with startServing false the sock listens from startServing on`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const dir = tempDir();
      try {
        const path = dir.path('s.sock');
        const sock = new Pipe(uvloop);
        sock.bind(path);
        const server = await loop.createUnixServer(naming('later'), undefined, {
          sock,
          startServing: false,
        });
        await server.startServing();
        t.is(await ask(path), 'later');
        server.close();
        await within(server.waitClosed(), 'waitClosed', 5000);
      } finally {
        dir.remove();
      }
    }));

  test(`${name}: a sock opened from an fd leaves its file to whoever bound it`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const dir = tempDir();
      const anchor = new Pipe(uvloop);
      try {
        const path = dir.path('s.sock');
        anchor.bind(path);
        const sock = new Pipe(uvloop);
        sock.open(anchor.dupFileno());
        const server = await loop.createUnixServer(naming('fd'), null, { sock });
        t.deepEqual(server.sockets(), [{ path }]);
        t.is(await ask(path), 'fd');
        server.close();
        await within(server.waitClosed(), 'waitClosed', 5000);
        t.true(sock.closed);
        t.true(existsSync(path), 'the server did not remove a file its handle did not bind');
        anchor.close();
        t.false(existsSync(path), 'the Pipe that bound it removes it');
      } finally {
        anchor.close();
        dir.remove();
      }
    }));

  test(`${name}: a file that replaced the sock's is kept when the server closes`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const dir = tempDir();
      try {
        const path = dir.path('s.sock');
        const sock = new Pipe(uvloop);
        sock.bind(path);
        const server = await loop.createUnixServer(naming('x'), null, { sock });
        rmSync(path);
        writeFileSync(path, 'not ours');
        server.close();
        await within(server.waitClosed(), 'waitClosed', 5000);
        t.is(readFileSync(path, 'utf8'), 'not ours');
      } finally {
        dir.remove();
      }
    }));

  test(`${name}: a bad sock is a usage error and stays the caller's`, (t) =>
    onLoop(t, async (loop, uvloop) => {
      const dir = tempDir();
      const sock = new Pipe(uvloop);
      const unbound = new Pipe(uvloop);
      const closed = new Pipe(uvloop);
      const ipc = new Pipe(uvloop, true);
      const tcp = new TCP(uvloop);
      try {
        const path = dir.path('s.sock');
        sock.bind(path);
        closed.close();
        const make = naming('x');
        const value = { code: 'ERR_INVALID_ARG_VALUE' };
        await t.throwsAsync(loop.createUnixServer(make, path, { sock }), value);
        await t.throwsAsync(loop.createUnixServer(make, null, { sock: tcp as unknown as Pipe }), {
          code: 'ERR_INVALID_ARG_TYPE',
        });
        await t.throwsAsync(loop.createUnixServer(make, null, { sock: unbound }), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /must be a bound/,
        });
        await t.throwsAsync(loop.createUnixServer(make, null, { sock: ipc }), {
          code: 'ERR_INVALID_ARG_VALUE',
          message: /IPC/,
        });
        await t.throwsAsync(loop.createUnixServer(make, null, { sock: closed }), {
          code: 'ERR_HANDLE_CLOSED',
        });
        await t.throwsAsync(loop.createUnixServer(make, null), { code: 'ERR_INVALID_ARG_TYPE' });
        t.false(sock.closed, "a refused sock stays the caller's");
        t.true(existsSync(path), 'and so does its file');
        t.false(unbound.closed);
        t.false(ipc.closed);
        loop.close();
        await t.throwsAsync(loop.createUnixServer(make, null, { sock }), {
          code: 'ERR_LOOP_CLOSED',
        });
        t.false(sock.closed);
      } finally {
        sock.close();
        unbound.close();
        ipc.close();
        tcp.close();
        dir.remove();
      }
    }));
}

test('UvEventLoop.createUnixServer takes a sock of its own Loop only', (t) =>
  onUvEventLoop(t, async (loop) => {
    const dir = tempDir();
    const other = new Loop();
    const foreign = new Pipe(other);
    try {
      foreign.bind(dir.path('s.sock'));
      await t.throwsAsync(loop.createUnixServer(naming('x'), null, { sock: foreign }), {
        code: 'ERR_INVALID_ARG_VALUE',
        message: /Loop/,
      });
      t.false(foreign.closed);
    } finally {
      foreign.close();
      await assertNoHandlesAndClose(t, other);
      dir.remove();
    }
  }));
