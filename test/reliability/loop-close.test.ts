// Closing a loop with work in flight: queued writes, connects, lookups.
// Every callback and promise settles exactly once, with a typed error or
// its result; nothing crashes; nothing is left open. (test/handles/dns
// covers one lookup across Loop.close(); tcp/pipe tests cancel queued
// writes by closing the handle, not the loop.)
import test from 'ava';
import { Loop, NodeEventLoop, TCP, UsageError, dns, openConnection, type Protocol } from 'asyncuv';
import { waitFor, within } from '../helpers/loop-test.js';
import { onUvEventLoop } from '../helpers/event-loop-test.js';
import { closeAll, connectTcp, listenTcp } from './tcp-peers.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MiB = 1024 * 1024;

/** A peer that accepts and never reads, on its own loop. */
function silentPeer(t: import('ava').ExecutionContext): { port: number } {
  const loop = new Loop();
  const held: TCP[] = [];
  const server = listenTcp(loop, (peer) => held.push(peer));
  t.teardown(async () => {
    await closeAll(server, ...held);
    loop.close();
  });
  return { port: server.getsockname().port };
}

test('Loop.close() with 16 MiB of writes queued: each write callback exactly once, ECANCELED for the unsent', async (t) => {
  const { port } = silentPeer(t);
  const loop = new Loop();
  const c = await connectTcp(loop, port);
  const calls = new Array<number>(16).fill(0);
  const codes: Array<string | null> = [];
  for (let i = 0; i < 16; i++) {
    c.write(Buffer.alloc(MiB), (err) => {
      calls[i]!++;
      codes.push(err === null ? null : err.code);
    });
  }
  t.true(c.writeQueueSize > 0);
  loop.close(); // runs the cancelled callbacks before it returns
  t.true(loop.closed);
  t.true(c.closed);
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(calls, new Array<number>(16).fill(1));
  t.true(codes.includes('ECANCELED'));
  t.true(
    codes.every((code) => code === null || code === 'ECANCELED'),
    codes.join(','),
  );
});

test('Loop.close() with 50 lookups in flight waits for them: each settles once with its result', async (t) => {
  const loop = new Loop();
  const results = Array.from({ length: 50 }, (_, i) =>
    (i % 2 === 0
      ? dns.getaddrinfo(loop, 'localhost', 80)
      : dns.getnameinfo(loop, '127.0.0.1', 80)
    ).then(
      (r) => (Array.isArray(r) ? r.length > 0 : typeof r.host === 'string'),
      (err: unknown) => String(err),
    ),
  );
  loop.close();
  t.deepEqual(await Promise.all(results), new Array<boolean>(50).fill(true));
});

// A closed loop drops the callbacks scheduled on it, and connectionMade
// (which resolves these promises) is scheduled after the connect or the
// lookup completes: close() meanwhile must still settle them.
test('UvEventLoop.close() while createConnection() connects: rejects with ERR_LOOP_CLOSED, no handle left', (t) =>
  onUvEventLoop(t, async (loop) => {
    const { port } = silentPeer(t);
    let made = 0;
    const pending = loop.createConnection(
      (): Protocol => ({ connectionMade: () => void made++ }),
      '127.0.0.1',
      port,
    );
    loop.close();
    const err = await t.throwsAsync(within(pending, 'createConnection to settle', 5000), {
      instanceOf: UsageError,
    });
    t.is(err?.code, 'ERR_LOOP_CLOSED');
    t.is(made, 0);
  }));

test('UvEventLoop.close() while createConnection() resolves a name: rejects with ERR_LOOP_CLOSED', (t) =>
  onUvEventLoop(t, async (loop) => {
    const { port } = silentPeer(t);
    const pending = loop.createConnection(() => ({}), 'localhost', port);
    loop.close();
    const err = await t.throwsAsync(within(pending, 'createConnection to settle', 5000), {
      instanceOf: UsageError,
    });
    t.is(err?.code, 'ERR_LOOP_CLOSED');
  }));

test('UvEventLoop.close() while createServer() / createDatagramEndpoint() resolve names: ERR_LOOP_CLOSED, nothing listening', (t) =>
  onUvEventLoop(t, async (loop) => {
    const server = loop.createServer(() => ({}), 'localhost', 0);
    const endpoint = loop.createDatagramEndpoint(() => ({}), { remoteAddr: ['localhost', 9] });
    loop.close();
    for (const pending of [server, endpoint] as Array<Promise<unknown>>) {
      const err = await t.throwsAsync(within(pending, 'the promise to settle', 5000), {
        instanceOf: UsageError,
      });
      t.is(err?.code, 'ERR_LOOP_CLOSED');
    }
  }));

// The start of a transport (connectionMade, which settles the promise) is
// scheduled on the loop: close() drops it, and must then reject the promise
// and close the child, pipes and sockets it was for.
test('UvEventLoop.close() right after subprocessExec(): rejects with ERR_LOOP_CLOSED, the child is killed, nothing left open', (t) =>
  onUvEventLoop(t, async (loop) => {
    let made = 0;
    const pending = loop.subprocessExec(() => ({ connectionMade: () => void made++ }), 'sleep', [
      '30',
    ]);
    loop.close();
    const err = await t.throwsAsync(within(pending, 'subprocessExec to settle', 5000), {
      instanceOf: UsageError,
    });
    t.is(err?.code, 'ERR_LOOP_CLOSED');
    t.is(made, 0);
    // onUvLoop then waits for the pipes and the process handle (closed once
    // the killed child is reaped) to be gone.
  }));

test('UvEventLoop.close() right after connectReadPipe() / createDatagramEndpoint(): ERR_LOOP_CLOSED, the pipe and the socket closed', (t) =>
  onUvEventLoop(t, async (loop, uvloop) => {
    // A FIFO gives a pipe fd (Node has no os.pipe()); the read end goes to
    // the transport, which owns and closes it.
    const dir = mkdtempSync(join(tmpdir(), 'asyncuv-fifo-'));
    await promisify(execFile)('mkfifo', [join(dir, 'f')]);
    const readFd = openSync(join(dir, 'f'), constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(join(dir, 'f'), constants.O_WRONLY | constants.O_NONBLOCK);
    const reading = loop.connectReadPipe(() => ({}), readFd);
    const endpoint = loop.createDatagramEndpoint(() => ({}), { localAddr: ['127.0.0.1', 0] });
    // Let both reach the point where only connectionMade is left to run:
    // both handles open. Microtasks only, so that no loop turn (which
    // would run connectionMade) comes between.
    const opened = (): boolean => {
      const counts = uvloop.handleCounts();
      return counts['pipe'] === 1 && counts['udp'] === 1;
    };
    for (let i = 0; i < 100 && !opened(); i++) await Promise.resolve();
    t.true(opened(), 'both handles are open before close()');
    loop.close();
    for (const pending of [reading, endpoint] as Array<Promise<unknown>>) {
      const err = await t.throwsAsync(within(pending, 'the promise to settle', 5000), {
        instanceOf: UsageError,
      });
      t.is(err?.code, 'ERR_LOOP_CLOSED');
    }
    // onUvLoop then checks that the pipe and UDP handles (and so their
    // fds) are closed.
    closeSync(writeFd);
    rmSync(dir, { recursive: true });
  }));

test('UvEventLoop.close() with 20 getaddrinfo() in flight: each resolves once with its result', (t) =>
  onUvEventLoop(t, async (loop) => {
    const pending = Array.from({ length: 20 }, () => loop.getaddrinfo('localhost', 80));
    loop.close();
    const results = await within(Promise.all(pending), 'the lookups', 5000);
    t.true(results.every((r) => r.length > 0 && r.every((a) => a.port === 80)));
  }));

test('UvEventLoop.close() with 16 MiB queued: the transport closes with it, silently', (t) =>
  onUvEventLoop(t, async (loop) => {
    const { port } = silentPeer(t);
    const calls: string[] = [];
    const [transport] = await loop.createConnection(
      (): Protocol => ({
        connectionLost: () => void calls.push('connectionLost'),
        resumeWriting: () => void calls.push('resumeWriting'),
      }),
      '127.0.0.1',
      port,
    );
    for (let i = 0; i < 16; i++) transport.write(Buffer.alloc(MiB));
    t.true(transport.getWriteBufferSize() > 0);
    loop.close();
    // An open socket would keep the process alive, and nothing of a closed
    // loop may run: the transport is closed at once, queued bytes dropped.
    t.true(transport.isClosing());
    t.notThrows(() => transport.abort());
    // onUvEventLoop then checks that the TCP handle is gone.
    await new Promise((r) => setTimeout(r, 20));
    t.deepEqual(calls, []);
  }));

test('streams: UvEventLoop.close() with a drain() and a read() pending: both reject, once', (t) =>
  onUvEventLoop(t, async (loop) => {
    const { port } = silentPeer(t);
    const { reader, writer } = await openConnection('127.0.0.1', port, { loop });
    writer.write(Buffer.alloc(16 * MiB));
    const settled = (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'resolved',
        (e: unknown) => `rejected:${(e as UsageError).code}`,
      );
    const drain = settled(writer.drain());
    const read = settled(reader.read(10));
    loop.close();
    const [d, r] = await within(Promise.all([drain, read]), 'drain and read', 5000);
    t.deepEqual([d, r], ['rejected:ERR_LOOP_CLOSED', 'rejected:ERR_LOOP_CLOSED']);
    const closed = within(writer.waitClosed(), 'waitClosed', 5000);
    await t.throwsAsync(closed, { code: 'ERR_LOOP_CLOSED' });
  }));

// The same on NodeEventLoop (adapters/): its subprocess and datagram
// transports also started from a callback that close() dropped.
test('NodeEventLoop.close() right after subprocessExec() / createDatagramEndpoint(): ERR_LOOP_CLOSED, the child is killed', async (t) => {
  const loop = new NodeEventLoop();
  let made = 0;
  const sub = loop.subprocessExec(() => ({ connectionMade: () => void made++ }), 'sleep', ['30']);
  const endpoint = loop.createDatagramEndpoint(() => ({ connectionMade: () => void made++ }), {
    localAddr: ['127.0.0.1', 0],
  });
  // Node spawns synchronously: the child exists now, its transport's
  // connectionMade is scheduled, and close() comes first. The endpoint is
  // still binding: its transport is made on the closed loop.
  const children = childPids();
  t.is(children.length >= 1, true);
  loop.close();
  for (const pending of [sub, endpoint] as Array<Promise<unknown>>) {
    const err = await t.throwsAsync(within(pending, 'the promise to settle', 5000), {
      instanceOf: UsageError,
    });
    t.is(err?.code, 'ERR_LOOP_CLOSED');
  }
  t.is(made, 0);
  // The sleep child is gone (killed), not left running for 30 s.
  t.true(await waitFor(() => children.every((pid) => !isSleeping(pid)), 5000));
});

/** This process's children running `sleep`, by /proc. */
function childPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => isSleeping(pid));
}

function isSleeping(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return stat.includes('(sleep)') && Number(fields[1]) === process.pid && fields[0] !== 'Z';
  } catch {
    return false;
  }
}
