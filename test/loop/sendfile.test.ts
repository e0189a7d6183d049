// loop.sendfile (asyncio's loop.sendfile) on both loops: a file's bytes
// through a transport to a node:net (or node:tls) peer, exactly and in
// order with what the transport writes before and after; reading paused
// meanwhile; the write-buffer limits honoured; the usage errors; aborts and
// a peer that goes away. UvEventLoop sends a regular file over TCP with
// the kernel's sendfile; every other case takes the fallback.
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { Worker } from 'node:worker_threads';
import {
  type AbstractEventLoop,
  CancelledError,
  SendfileNotAvailableError,
  type SendfileOptions,
  type Transport,
  UvEventLoop,
} from 'asyncuv';
import { CollectProtocol } from '../adapters/protocols.js';
import { selfSignedCert } from '../adapters/tls-cert.js';
import { bothEventLoops } from '../helpers/event-loop-test.js';
import { deferred, until, within } from '../helpers/loop-test.js';
import { withPrograms } from '../helpers/tools.js';

const kSize = 4 * 1024 * 1024 + 123; // not a multiple of any block size

/** A temporary file of random bytes, removed after the test. */
function tempFile(t: ExecutionContext, size = kSize): { path: string; data: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-sendfile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'data');
  const data = randomBytes(size);
  writeFileSync(path, data);
  return { path, data };
}

/** An fd of `path`, closed after the test. */
function openFd(t: ExecutionContext, path: string): number {
  const fd = openSync(path, 'r');
  t.teardown(() => closeSync(fd));
  return fd;
}

interface Peer {
  transport: Transport;
  protocol: CollectProtocol;
  /** The node:net (or tls) end, collecting what arrives. */
  client: net.Socket;
  received(): Buffer;
  /** Resolves once `n` bytes arrived at the client. */
  arrived(n: number, what: string): Promise<void>;
  close(): Promise<void>;
}

/** A server transport (protocol: CollectProtocol) and its node:net client. */
async function connected(
  loop: AbstractEventLoop,
  ssl?: { key: Buffer; cert: Buffer },
): Promise<Peer> {
  const made = deferred<CollectProtocol>();
  const server = await loop.createServer(
    () => {
      const p = new CollectProtocol();
      made.resolve(p);
      return p;
    },
    '127.0.0.1',
    0,
    ssl === undefined ? {} : { ssl },
  );
  const { port } = server.sockets()[0]!;
  const client =
    ssl === undefined
      ? net.connect(port, '127.0.0.1')
      : tls.connect({ port, host: '127.0.0.1', ca: ssl.cert, servername: 'localhost' });
  const secured = ssl === undefined ? undefined : once(client, 'secureConnect');
  const chunks: Buffer[] = [];
  let length = 0;
  client.on('data', (d: Buffer) => {
    chunks.push(d);
    length += d.length;
  });
  const protocol = await within(made.promise, 'the connection');
  await until(() => protocol.transport !== undefined, 'connectionMade');
  if (secured !== undefined) await within(secured, 'the handshake');
  return {
    transport: protocol.transport!,
    protocol,
    client,
    received: () => Buffer.concat(chunks),
    arrived: (n, what) => until(() => length >= n, what),
    close: async () => {
      client.destroy();
      protocol.transport!.abort();
      await within(protocol.lost, 'connectionLost');
      server.close();
      await within(server.waitClosed(), 'the server closed');
    },
  };
}

/**
 * Starts a sendfile of `fd` to `peer` and returns it once the first bytes
 * reached the client, which stops reading then: the sendfile cannot finish
 * (the file is larger than what the sockets buffer), however slowly the
 * machine got it started. Its promise is the caller's to await; a failed
 * assertion before that does not leave it unhandled.
 */
async function sendUntilStalled(
  loop: AbstractEventLoop,
  peer: Peer,
  fd: number,
  opts?: SendfileOptions,
): Promise<{ sending: Promise<number> }> {
  const stalled = within(
    new Promise<void>((resolve) =>
      peer.client.once('data', () => {
        peer.client.pause();
        resolve();
      }),
    ),
    'the first bytes',
  );
  const sending = loop.sendfile(peer.transport, fd, 0, null, opts);
  sending.catch(() => {});
  await stalled;
  return { sending }; // wrapped: an async function returning it would wait for it
}

for (const [name, onLoop] of bothEventLoops) {
  test(`${name}: sendfile sends the file between writes, in order, and resumes reading after`, (t) =>
    onLoop(t, async (loop) => {
      const { path, data } = tempFile(t);
      const fd = openFd(t, path);
      const peer = await connected(loop);
      try {
        peer.transport.write('head:');
        const sent = await within(loop.sendfile(peer.transport, fd), 'sendfile');
        t.is(sent, data.length);
        peer.transport.write(':tail');
        await peer.arrived(data.length + 10, 'every byte');
        t.true(
          peer.received().equals(Buffer.concat([Buffer.from('head:'), data, Buffer.from(':tail')])),
        );
        t.true(peer.transport.isReading(), 'reading resumed');
        t.is(peer.transport.getProtocol(), peer.protocol, 'the protocol is back');
        peer.client.write('after');
        await until(() => peer.protocol.received === 5, 'the peer heard');
        t.is(peer.protocol.data().toString(), 'after');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: sendfile from an offset, a count, a FileHandle, and a count past the end`, (t) =>
    onLoop(t, async (loop) => {
      const { path, data } = tempFile(t, 300_000);
      const handle = await openFile(path, 'r');
      t.teardown(() => handle.close());
      const peer = await connected(loop);
      try {
        t.is(await within(loop.sendfile(peer.transport, handle, 1000, 70_000), 'part'), 70_000);
        t.is(await within(loop.sendfile(peer.transport, handle, 299_990, 1000), 'past'), 10);
        t.is(await within(loop.sendfile(peer.transport, handle, 300_000), 'at the end'), 0);
        await peer.arrived(70_010, 'every byte');
        const want = Buffer.concat([data.subarray(1000, 71_000), data.subarray(299_990)]);
        t.true(peer.received().equals(want));
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: sendfile to a peer that reads late waits, and keeps the buffer bounded`, (t) =>
    onLoop(t, async (loop) => {
      const { path, data } = tempFile(t, 16 * 1024 * 1024);
      const fd = openFd(t, path);
      const peer = await connected(loop);
      try {
        peer.client.pause();
        let done = false;
        let most = 0;
        const sending = loop.sendfile(peer.transport, fd).finally(() => (done = true));
        const watch = setInterval(() => {
          most = Math.max(most, peer.transport.getWriteBufferSize());
        }, 1);
        await new Promise((r) => setTimeout(r, 300));
        t.false(done, 'still sending while the peer does not read');
        peer.client.resume();
        t.is(await within(sending, 'sendfile'), data.length);
        clearInterval(watch);
        await peer.arrived(data.length, 'every byte');
        t.true(peer.received().equals(data));
        // The high-water mark (64 KiB) plus one 64 KiB block at most.
        t.true(most <= 128 * 1024, `the write buffer held ${most} bytes at most`);
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: sendfile refuses bad arguments with typed errors, before sending anything`, (t) =>
    onLoop(t, async (loop) => {
      const { path } = tempFile(t, 1000);
      const fd = openFd(t, path);
      const peer = await connected(loop);
      try {
        const s = (...args: unknown[]): Promise<number> =>
          (loop.sendfile as (...a: unknown[]) => Promise<number>)(...args);
        const typeError = { code: 'ERR_INVALID_ARG_TYPE' };
        await t.throwsAsync(s({}, fd), typeError, 'not a transport');
        await t.throwsAsync(s(peer.transport, 'data'), typeError, 'a path is no file');
        await t.throwsAsync(s(peer.transport, -1), { code: 'ERR_INVALID_ARG_VALUE' });
        await t.throwsAsync(s(peer.transport, { fd: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
        await t.throwsAsync(s(peer.transport, fd, -1), { code: 'ERR_OUT_OF_RANGE' });
        await t.throwsAsync(s(peer.transport, fd, 0.5), { code: 'ERR_OUT_OF_RANGE' });
        await t.throwsAsync(s(peer.transport, fd, 0, 0), { code: 'ERR_OUT_OF_RANGE' });
        await t.throwsAsync(s(peer.transport, fd, 0, null, { fallback: 1 }), typeError);
        await t.throwsAsync(s(peer.transport, fd, 0, null, { signal: 1 }), typeError);
        await t.throwsAsync(s(peer.transport, 2 ** 30), { instanceOf: Error }, 'not open');
        const first = loop.sendfile(peer.transport, fd);
        await t.throwsAsync(loop.sendfile(peer.transport, fd), { code: 'ERR_INVALID_STATE' });
        t.is(await within(first, 'the first'), 1000);
        await peer.arrived(1000, 'the first only');
        t.is(peer.received().length, 1000);
        peer.transport.close();
        await t.throwsAsync(s(peer.transport, fd), { code: 'ERR_TRANSPORT_CLOSED' });
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: sendfile aborted by its signal rejects, and the transport goes on`, (t) =>
    onLoop(t, async (loop) => {
      const { path } = tempFile(t, 32 * 1024 * 1024);
      const fd = openFd(t, path);
      const peer = await connected(loop);
      try {
        const ac = new AbortController();
        const { sending } = await sendUntilStalled(loop, peer, fd, { signal: ac.signal });
        ac.abort(new Error('enough'));
        const err = await t.throwsAsync(within(sending, 'the abort'), {
          instanceOf: CancelledError,
        });
        t.is((err?.cause as Error).message, 'enough');
        t.true(peer.transport.isReading(), 'reading resumed');
        t.is(peer.transport.getProtocol(), peer.protocol);
        peer.transport.write('still here');
        t.false(peer.transport.isClosing());
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: sendfile to a peer that goes away rejects, and connectionLost follows`, (t) =>
    onLoop(t, async (loop) => {
      const { path } = tempFile(t, 32 * 1024 * 1024);
      const fd = openFd(t, path);
      const peer = await connected(loop);
      try {
        const { sending } = await sendUntilStalled(loop, peer, fd);
        peer.client.resetAndDestroy();
        const err = await t.throwsAsync(within(sending, 'the failure'));
        t.true(err instanceof Error, String(err));
        t.true(peer.transport.isClosing(), 'the transport closed');
        t.not(await within(peer.protocol.lost, 'connectionLost'), undefined);
        t.true(peer.protocol.calls.includes('lost'), 'the protocol heard');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: a transport closed during sendfile ends it, the peer gets a prefix and EOF`, (t) =>
    onLoop(t, async (loop) => {
      const { path, data } = tempFile(t, 32 * 1024 * 1024);
      const fd = openFd(t, path);
      const peer = await connected(loop);
      try {
        const { sending } = await sendUntilStalled(loop, peer, fd);
        const ended = once(peer.client, 'end');
        peer.transport.close();
        const stopped = { code: 'ERR_TRANSPORT_CLOSED' };
        if (loop instanceof UvEventLoop) {
          // The zero-copy path stops at once, the peer still not reading:
          // the socket's duplicate would keep its connection open.
          await t.throwsAsync(within(sending, 'the end of sendfile'), stopped);
          peer.client.resume();
        } else {
          // The fallback's close flushes first, as any close() does.
          peer.client.resume();
          await t.throwsAsync(within(sending, 'the end of sendfile'), stopped);
        }
        t.is(await within(peer.protocol.lost, 'connectionLost'), null);
        await within(ended, "the peer's EOF");
        const got = peer.received();
        t.true(got.length > 0 && got.length < data.length, `${got.length} bytes arrived`);
        t.true(got.equals(data.subarray(0, got.length)), 'a prefix of the file');
      } finally {
        await peer.close();
      }
    }));

  test(`${name}: sendfile from a pipe reads it to its end (the fallback)`, (t) =>
    onLoop(t, async (loop) => {
      const dir = mkdtempSync(join(tmpdir(), 'asyncuv-sendfile-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const writer = spawn('sh', ['-c', `head -c 200000 /dev/zero > '${fifo}'`]);
      const exited = once(writer, 'exit');
      const fd = openFd(t, fifo); // returns once the writer opened its end
      const peer = await connected(loop);
      try {
        await t.throwsAsync(loop.sendfile(peer.transport, fd, 1), {
          code: 'ERR_INVALID_ARG_VALUE',
        });
        await t.throwsAsync(loop.sendfile(peer.transport, fd, 0, null, { fallback: false }), {
          instanceOf: SendfileNotAvailableError,
          code: 'ERR_SENDFILE_NOT_AVAILABLE',
        });
        t.is(await within(loop.sendfile(peer.transport, fd), 'sendfile'), 200_000);
        await peer.arrived(200_000, 'every byte');
        t.true(peer.received().equals(Buffer.alloc(200_000)));
      } finally {
        writer.kill();
        await within(exited, 'the writer exits');
        await peer.close();
      }
    }));
}

test('sendfile over a Unix socket: zero-copy on UvEventLoop, the fallback on NodeEventLoop', async (t) => {
  for (const [name, onLoop] of bothEventLoops) {
    await onLoop(t, async (loop) => {
      const { path, data } = tempFile(t, 3_000_000);
      const fd = openFd(t, path);
      const socketPath = join(mkdtempSync(join(tmpdir(), 'asyncuv-sendfile-')), 's');
      t.teardown(() => rmSync(dirname(socketPath), { recursive: true, force: true }));
      const made = deferred<CollectProtocol>();
      const server = await loop.createUnixServer(() => {
        const p = new CollectProtocol();
        made.resolve(p);
        return p;
      }, socketPath);
      const client = net.connect(socketPath);
      const chunks: Buffer[] = [];
      client.on('data', (d: Buffer) => chunks.push(d));
      try {
        const protocol = await within(made.promise, 'the connection');
        await until(() => protocol.transport !== undefined, 'connectionMade');
        const transport = protocol.transport!;
        const zeroCopy = loop instanceof UvEventLoop;
        if (!zeroCopy) {
          await t.throwsAsync(loop.sendfile(transport, fd, 0, null, { fallback: false }), {
            instanceOf: SendfileNotAvailableError,
          });
        }
        const sending = loop.sendfile(transport, fd, 0, null, { fallback: !zeroCopy });
        t.is(await within(sending, `${name}: sendfile`), data.length);
        transport.close();
        await within(once(client, 'end'), 'EOF');
        t.true(Buffer.concat(chunks).equals(data), `${name}: the bytes`);
      } finally {
        client.destroy();
        server.close();
        await within(server.waitClosed(), 'the server closed');
      }
    });
  }
});

withPrograms(test, ['openssl'])(
  'sendfile over TLS takes the fallback, on both loops',
  async (t) => {
    const { key, cert } = await selfSignedCert();
    for (const [name, onLoop] of bothEventLoops) {
      await onLoop(t, async (loop) => {
        const { path, data } = tempFile(t, 1_000_000);
        const fd = openFd(t, path);
        const peer = await connected(loop, { key, cert });
        try {
          await t.throwsAsync(loop.sendfile(peer.transport, fd, 0, null, { fallback: false }), {
            instanceOf: SendfileNotAvailableError,
          });
          t.is(await within(loop.sendfile(peer.transport, fd), `${name}: sendfile`), data.length);
          await peer.arrived(data.length, 'every byte');
          t.true(peer.received().equals(data), `${name}: the bytes`);
        } finally {
          await peer.close();
        }
      });
    }
  },
);

test('UvEventLoop: the zero-copy path refuses writes while it sends, and NodeEventLoop has none', async (t) => {
  // More than the sockets' buffers take, so that the sendfile is still
  // waiting when write() is tried.
  const { path, data } = tempFile(t, 64 * 1024 * 1024);
  const [, onUv] = bothEventLoops[0]!;
  const [, onNode] = bothEventLoops[1]!;
  await onUv(t, async (loop) => {
    t.true(loop instanceof UvEventLoop);
    const fd = openFd(t, path);
    const peer = await connected(loop);
    try {
      const { sending } = await sendUntilStalled(loop, peer, fd, { fallback: false });
      t.throws(() => peer.transport.write('x'), { code: 'ERR_INVALID_STATE' });
      peer.client.resume();
      t.is(await within(sending, 'sendfile'), data.length);
      peer.transport.write('x');
      await peer.arrived(data.length + 1, 'every byte');
      t.true(peer.received().subarray(0, data.length).equals(data));
    } finally {
      await peer.close();
    }
  });
  await onNode(t, async (loop) => {
    const fd = openFd(t, path);
    const peer = await connected(loop);
    try {
      await t.throwsAsync(loop.sendfile(peer.transport, fd, 0, null, { fallback: false }), {
        instanceOf: SendfileNotAvailableError,
      });
    } finally {
      await peer.close();
    }
  });
});

// docs/loop.md, "Sending a file": on the zero-copy path write() throws
// ERR_INVALID_STATE until the call settles, from the call on (asyncio sets
// its empty waiter before the first await), also while the writes queued
// before it flush; on the fallback (a pipe as the file) write() stays allowed
// throughout, its bytes going out between blocks.
test('UvEventLoop: write() is refused from the sendfile call on (zero-copy), allowed on the fallback', (t) =>
  bothEventLoops[0]![1](t, async (loop) => {
    const { path, data } = tempFile(t, 300_000);
    const fd = openFd(t, path);
    const peer = await connected(loop);
    try {
      peer.transport.write('head');
      const sending = loop.sendfile(peer.transport, fd);
      t.throws(() => peer.transport.write('x'), { code: 'ERR_INVALID_STATE' });
      t.is(await within(sending, 'sendfile'), data.length);
      peer.transport.write('tail');
      await peer.arrived(data.length + 8, 'every byte');
      t.true(
        peer.received().equals(Buffer.concat([Buffer.from('head'), data, Buffer.from('tail')])),
      );

      const dir = mkdtempSync(join(tmpdir(), 'asyncuv-sendfile-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const writer = spawn('sh', ['-c', `head -c 1000 /dev/zero > '${fifo}'`]);
      const exited = once(writer, 'exit');
      const pipeFd = openFd(t, fifo); // returns once the writer opened its end
      try {
        const fallback = loop.sendfile(peer.transport, pipeFd);
        t.notThrows(() => peer.transport.write('more'));
        t.is(await within(fallback, 'the fallback sendfile'), 1000);
        await peer.arrived(data.length + 8 + 1004, 'the pipe and the write');
      } finally {
        writer.kill();
        await within(exited, 'the writer exits');
      }
    } finally {
      await peer.close();
    }
  }));

test('a worker terminated in the middle of a zero-copy sendfile leaves no fd behind', async (t) => {
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const accepted: net.Socket[] = [];
  // A peer that never reads: the worker's sendfile waits for its socket.
  const server = net.createServer((s) => {
    s.pause();
    accepted.push(s);
  });
  await once(server.listen(0, '127.0.0.1'), 'listening');
  try {
    const before = fds();
    const port = (server.address() as net.AddressInfo).port;
    const worker = new Worker(new URL('../fixtures/sendfile-worker.js', import.meta.url), {
      workerData: { port },
    });
    const exited = once(worker, 'exit');
    const [message] = (await within(once(worker, 'message'), 'the worker sending')) as [string];
    t.is(message, 'sending');
    await worker.terminate();
    await within(exited, 'the worker exits');
    for (const s of accepted) s.destroy();
    // The accepted socket closed here; the worker's file, socket and the
    // socket's duplicate closed with the worker.
    await until(() => fds() <= before, `the fds back to ${before} (now ${fds()})`);
    t.true(fds() <= before);
  } finally {
    server.close();
  }
});
