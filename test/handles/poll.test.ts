import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Loop, Poll, type PollEvents, UvError } from 'asyncuv';
import { assertNoHandlesAndClose, deferred, newLoop, within } from '../helpers/loop-test.js';
import { connectedTcpFd } from '../helpers/socket-fd.js';

/** Both ends of a FIFO, opened non-blocking: a real pipe no Node handle touches. */
async function fifo(t: {
  teardown(fn: () => void): void;
}): Promise<{ readFd: number; writeFd: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-poll-'));
  const path = join(dir, 'fifo');
  await promisify(execFile)('mkfifo', [path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  t.teardown(() => {
    closeSync(readFd);
    closeSync(writeFd);
    rmSync(dir, { recursive: true, force: true });
  });
  return { readFd, writeFd };
}

function nextEvent(
  poll: Poll,
  events: PollEvents,
): Promise<[UvError | null, Required<PollEvents>]> {
  const d = deferred<[UvError | null, Required<PollEvents>]>();
  poll.start(events, (err, ev) => {
    poll.stop();
    d.resolve([err, ev]);
  });
  return within(d.promise, 'poll event', 2000);
}

function closed(poll: Poll): Promise<void> {
  return new Promise((resolve) => poll.close(resolve));
}

test('a FIFO becomes readable when written to, and its write end is writable', async (t) => {
  const loop = newLoop(t);
  const { readFd, writeFd } = await fifo(t);
  const reader = new Poll(loop, readFd);
  const writer = new Poll(loop, writeFd);
  t.is(reader.fd, readFd);

  const [werr, wev] = await nextEvent(writer, { writable: true });
  t.is(werr, null);
  t.true(wev.writable);
  t.false(wev.readable);

  const readable = nextEvent(reader, { readable: true });
  let fired = false;
  void readable.then(() => (fired = true));
  await new Promise((r) => setTimeout(r, 30));
  t.false(fired, 'an empty pipe is not readable');
  writeSync(writeFd, 'ping');
  const [rerr, rev] = await readable;
  t.is(rerr, null);
  t.true(rev.readable);
  const buf = Buffer.alloc(8);
  t.is(readSync(readFd, buf), 4);
  t.is(buf.subarray(0, 4).toString(), 'ping');
  t.false(reader.active, 'stopped from its callback');

  await Promise.all([closed(reader), closed(writer)]);
  await assertNoHandlesAndClose(t, loop);
});

test('a TCP socket reports readable, writable and disconnect', async (t) => {
  const loop = newLoop(t);
  // The polled socket is a client whose own loop never reads it, so the
  // bytes stay in the kernel for our Poll to see.
  const accepted = deferred<Socket>();
  const server = createServer(accepted.resolve);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = await connectedTcpFd((server.address() as { port: number }).port);
  const peer = await accepted.promise;
  const poll = new Poll(loop, client.fd);
  t.true((await nextEvent(poll, { writable: true }))[1].writable);
  peer.write('x');
  const [err, ev] = await nextEvent(poll, { readable: true });
  t.is(err, null);
  t.true(ev.readable);
  // Read the byte out: left in the kernel, it keeps the socket readable, and
  // the next poll may report that before the peer's FIN arrives (Node sends
  // it from a later turn of its own loop, and our loop may run passes before).
  t.is(readSync(client.fd, Buffer.alloc(1)), 1);
  peer.end();
  // The FIN makes the socket readable (EOF); EPOLLRDHUP is reported only
  // when asked for.
  const [, eof] = await nextEvent(poll, { readable: true });
  t.true(eof.readable);
  t.false(eof.disconnect, 'disconnect is not reported unless asked for');
  const [, hup] = await nextEvent(poll, { readable: true, disconnect: true });
  t.true(hup.disconnect);
  await closed(poll);
  client.close();
  peer.destroy();
  await new Promise((r) => server.close(r));
  await assertNoHandlesAndClose(t, loop);
});

test('the polled fd is made non-blocking', async (t) => {
  const loop = newLoop(t);
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-poll-nb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'fifo');
  await promisify(execFile)('mkfifo', [path]);
  // O_RDWR: a FIFO opened both ways opens at once, and blocking.
  const fd = openSync(path, constants.O_RDWR);
  const nonBlocking = (): boolean => {
    const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
    return (parseInt(flags, 8) & constants.O_NONBLOCK) !== 0;
  };
  t.false(nonBlocking());
  const poll = new Poll(loop, fd);
  t.true(nonBlocking());
  await closed(poll);
  closeSync(fd);
  await assertNoHandlesAndClose(t, loop);
});

test('a second Poll on one fd and loop is a typed error', async (t) => {
  const loop = newLoop(t);
  const other: Loop = newLoop(t);
  const { readFd } = await fifo(t);
  const first = new Poll(loop, readFd);
  const err = t.throws(() => new Poll(loop, readFd), { instanceOf: UvError, code: 'EEXIST' });
  t.is(err?.syscall, 'poll_init');
  // Started or not, the fd stays taken until the first Poll is closed.
  first.start({ readable: true }, () => {});
  t.throws(() => new Poll(loop, readFd), { instanceOf: UvError, code: 'EEXIST' });
  // Another loop has its own epoll set: no conflict there.
  const elsewhere = new Poll(other, readFd);
  await closed(elsewhere);
  await closed(first);
  const again = new Poll(loop, readFd);
  await closed(again);
  await assertNoHandlesAndClose(t, loop);
  await assertNoHandlesAndClose(t, other);
});

test('bad fds and bad events are typed errors', async (t) => {
  const loop = newLoop(t);
  t.throws(() => new Poll(loop, 100_000), { instanceOf: UvError, code: 'EBADF' });
  t.throws(() => new Poll(loop, -1), { code: 'ERR_OUT_OF_RANGE' });
  // epoll cannot watch regular files.
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-poll-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fileFd = openSync(join(dir, 'plain'), 'w');
  t.teardown(() => closeSync(fileFd));
  t.throws(() => new Poll(loop, fileFd), { instanceOf: UvError, code: 'EPERM' });
  const { readFd } = await fifo(t);
  const poll = new Poll(loop, readFd);
  t.throws(() => poll.start({}, () => {}), { code: 'ERR_INVALID_ARG_TYPE' });
  for (const events of [
    { readable: 'yes' },
    { writable: 1 },
    { readable: true, disconnect: null },
  ]) {
    t.throws(() => poll.start(events as never, () => {}), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  t.false(poll.active, 'a refused start watches nothing');
  t.throws(() => poll.start({ readable: true }, 'cb' as unknown as () => void), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  await closed(poll);
  t.throws(() => poll.start({ readable: true }, () => {}), { code: 'ERR_HANDLE_CLOSED' });
  await assertNoHandlesAndClose(t, loop);
});
