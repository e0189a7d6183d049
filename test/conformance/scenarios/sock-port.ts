// Cases of CPython's test_sock_lowlevel.py, test_sendfile.py and
// test_buffered_proto.py (with the BufferedProtocol rules of
// selector_events.py) that the other scenario files did not port yet:
// test_sock_client_racing (recv_into and send), test_sock_client_connect_racing,
// test_huge_content_recvinto, test_cancel_sock_accept,
// test_sock_sendfile_zero_size, test_sock_sendfile_mix_with_regular_send,
// test_sendfile_not_supported, test_sendfile_force_unsupported_native,
// test_sendfile_close_peer_after_receiving,
// test_sendfile_fallback_close_peer_in_the_middle_of_receiving,
// test_sendfile_pre_and_post_data
// with the protocol paused, test_sendfile_ssl_pre_and_post_data,
// test_sendfile_ssl_partial and test_sendfile_ssl_close_peer_after_receiving
// (over TLS, the fallback), test_buffered_proto_create_connection, and a
// get_buffer() that returns an empty buffer, a buffer_updated() that
// raises, a protocol switch in buffer_updated().
import type { ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AbstractEventLoop,
  type BufferedProtocol,
  type Protocol,
  SendfileNotAvailableError,
  TCP,
  type Transport,
  UvError,
  startServer,
} from 'asyncuv';
import { netServer, readToEnd } from '../peers.js';
import {
  cases,
  type CaseBody,
  type LoopContext,
  type MakeLoop,
  type Test,
  future,
  until,
  within,
} from '../harness.js';
import { connected, connectedPeer, withHandles } from './sock-ops.js';
import { selfSignedCert } from '../../adapters/tls-cert.js';
import { clientSsl, tlsCases } from './tls-peers.js';

// test_sendfile.py's DATA: 128 KiB and a bit, so no block size divides it.
const DATA = Buffer.from('SendfileBaseData'.repeat(1024 * 8 + 1));

/** A temporary file holding `data`: its path, and an fd of it. */
interface TempFile {
  path: string;
  fd: number;
}

/** Runs `body` with a temporary file of `data` open for reading; removes it after. */
async function withFile<T>(data: Buffer, body: (f: TempFile) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-sock-port-'));
  const path = join(dir, 'data');
  writeFileSync(path, data);
  const fd = openSync(path, 'r');
  try {
    return await body({ path, fd });
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The server-side protocol of test_sendfile.py: collects, closes after `closeAfter` bytes. */
class SendfileSink implements Protocol {
  transport: Transport | undefined;
  data: Buffer[] = [];
  nbytes = 0;
  done = future<Error | null>();
  constructor(readonly closeAfter = 0) {}
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  dataReceived(d: Buffer): void {
    this.data.push(d);
    this.nbytes += d.length;
    if (this.closeAfter > 0 && this.nbytes >= this.closeAfter) this.transport!.close();
  }
  connectionLost(err: Error | null): void {
    this.done.resolve(err);
  }
  received(): Buffer {
    return Buffer.concat(this.data);
  }
}

/** A client protocol that records pauseWriting / resumeWriting. */
class PausingClient implements Protocol {
  transport: Transport | undefined;
  events: string[] = [];
  lost = future<Error | null>();
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  pauseWriting(): void {
    this.events.push('pause');
  }
  resumeWriting(): void {
    this.events.push('resume');
  }
  connectionLost(err: Error | null): void {
    this.lost.resolve(err);
  }
}

/**
 * test_sendfile.py's prepare_sendfile: a server of `sink` on the loop, and
 * a client transport connected to it; both closed after `body`.
 */
async function withSendfilePair(
  loop: AbstractEventLoop,
  sink: SendfileSink,
  body: (client: PausingClient) => Promise<void>,
  tls?: { key: Buffer; cert: Buffer },
): Promise<void> {
  const server = await loop.createServer(() => sink, '127.0.0.1', 0, tls && { ssl: tls });
  try {
    const { port } = server.sockets()[0] as { port: number };
    const [, client] = await loop.createConnection(
      () => new PausingClient(),
      '127.0.0.1',
      port,
      tls && clientSsl(tls.cert),
    );
    await until(() => sink.transport !== undefined, 'the server side');
    try {
      await body(client);
    } finally {
      client.transport!.close();
      sink.transport!.close();
      await within(client.lost.promise, 'client connectionLost');
      await within(sink.done.promise, 'server connectionLost');
    }
  } finally {
    server.close();
    await within(server.waitClosed(), 'server waitClosed');
  }
}

/**
 * A fifo's read end as an fd with `data` (less than a pipe holds) in it and
 * its write end closed: a file that is no regular file.
 */
async function withPipeFile<T>(data: Buffer, body: (fd: number) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-sock-port-'));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  try {
    // Opening a fifo's read end without O_NONBLOCK waits for a writer:
    // open the read end non-blocking, then the writer.
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const wfd = openSync(fifo, 'w');
      writeFileSync(wfd, data);
      closeSync(wfd);
      return await body(rfd);
    } finally {
      closeSync(rfd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Connects a BufferedProtocol of `parts` to a node:net peer that `onSocket`
 * drives, waits for its connectionLost and runs `body` with the error it
 * got and the transport, the peer still there. Then checks the one report
 * the loop's exception handler got (asyncio's 'Fatal error:
 * protocol.<method>() call failed.', with that same error) and clears it:
 * the harness fails a case whose handler got anything.
 */
async function fatalProtocolCall(
  { loop, exceptions }: LoopContext,
  t: ExecutionContext,
  method: 'getBuffer' | 'bufferUpdated',
  onSocket: (socket: net.Socket) => void,
  parts: Omit<BufferedProtocol, 'connectionLost'>,
  body: (err: Error | null, transport: Transport) => Promise<void>,
): Promise<void> {
  const server = await netServer(onSocket);
  try {
    const lost = future<Error | null>();
    const proto: BufferedProtocol = { ...parts, connectionLost: (err) => lost.resolve(err) };
    const [transport] = await loop.createConnection(() => proto, '127.0.0.1', server.port);
    const err = await within(lost.promise, 'connectionLost');
    await body(err, transport);
    await until(() => exceptions.length > 0, 'the exception handler');
    t.is(exceptions.length, 1);
    t.is(exceptions[0]!.message, `Fatal error: protocol.${method}() call failed.`);
    t.is(exceptions[0]!.exception, err);
    exceptions.length = 0;
  } finally {
    await server.close();
  }
}

export function sockPort(test: Test, makeLoop: MakeLoop, name: string): void {
  const it: (title: string, body: CaseBody) => void = cases(test, makeLoop, `${name}: sock port`);

  // --- sock_* --------------------------------------------------------------------

  it('test_sock_client_racing (recv_into): an aborted sockRecvInto writes nothing into its buffer; the next one gets the bytes', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const [sock, peer] = await connectedPeer(loop, uvloop, server);
        const abortedBuf = Buffer.alloc(32, '.');
        const controller = new AbortController();
        const aborted = loop.sockRecvInto(sock, abortedBuf, { signal: controller.signal });
        await sleep(1);
        controller.abort();
        await t.throwsAsync(within(aborted, 'the aborted receive'), { name: 'AbortError' });
        peer.write('HTTP/1.0 200 OK\r\n');
        // The next receive, into a buffer of its own, gets the bytes: once
        // it has them, a read left behind by the aborted receive would have
        // had its chance too, and its buffer must be as it was.
        const buf = Buffer.alloc(64);
        const n = await within(loop.sockRecvInto(sock, buf.subarray(0, 32)), 'sockRecvInto');
        t.is(buf.subarray(0, n).toString(), 'HTTP/1.0 200 OK\r\n');
        t.is(abortedBuf.toString(), '.'.repeat(32), 'the aborted receive wrote nothing');
        peer.end('rest');
        const m = await within(loop.sockRecvInto(sock, buf.subarray(n)), 'the rest');
        t.is(buf.subarray(n, n + m).toString(), 'rest');
        t.is(await within(loop.sockRecvInto(sock, buf.subarray(n + m)), 'EOF'), 0);
        t.is(abortedBuf.toString(), '.'.repeat(32), 'nor later');
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('test_sock_client_racing (send): a sockSendall aborted while queued behind a blocked one sends nothing; the next goes after', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const listener = new TCP(uvloop);
      listener.bind('127.0.0.1', 0);
      const accepting = loop.sockAccept(listener);
      const sock = await connected(loop, uvloop, listener.getsockname().port);
      const [server] = await within(accepting, 'sockAccept');
      try {
        // Nobody reads yet: 8 MiB of spaces fill the kernel's buffers.
        const spaces = Buffer.alloc(8 * 1024 * 1024, ' ');
        const blocked = loop.sockSendall(sock, spaces);
        await sleep(20);
        const controller = new AbortController();
        const hello = loop.sockSendall(sock, 'hello', { signal: controller.signal });
        await sleep(1);
        controller.abort();
        await t.throwsAsync(within(hello, 'the aborted sendall'), { name: 'AbortError' });
        // Receive everything that is not a space, while 'world' is sent.
        const received = (async () => {
          let total = 0;
          let rest = '';
          for (;;) {
            const data = await loop.sockRecv(server, 65536);
            if (data.byteLength === 0) return { total, rest };
            total += data.byteLength;
            rest += data.toString().replaceAll(' ', '');
          }
        })();
        await within(loop.sockSendall(sock, 'world'), 'sendall world');
        await within(blocked, 'the spaces');
        sock.shutdown();
        const { total, rest } = await within(received, 'the receiver');
        t.is(rest, 'world', 'hello was never sent');
        t.is(total, spaces.length + 5);
      } finally {
        sock.close();
        server.close();
        listener.close();
      }
    }));

  it('test_sock_client_connect_racing: a sockConnect aborted before the listener listens; a retry connects', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const listener = new TCP(uvloop);
      listener.bind('127.0.0.1', 0);
      const addr: [string, number] = ['127.0.0.1', listener.getsockname().port];
      const sock = new TCP(uvloop);
      try {
        const controller = new AbortController();
        const first = loop.sockConnect(sock, addr, { signal: controller.signal });
        controller.abort();
        await t.throwsAsync(within(first, 'the aborted connect'), { name: 'AbortError' });
        const accepting = loop.sockAccept(listener);
        // As CPython: the first attempt went on and failed (nobody
        // listened); the socket takes a retry or two to come back.
        let last: unknown;
        for (let i = 0; i < 128; i++) {
          try {
            await within(loop.sockConnect(sock, addr), 'sockConnect');
            last = undefined;
            break;
          } catch (err) {
            last = err;
            t.true(err instanceof UvError, String(err));
            await sleep(5);
          }
        }
        t.is(last, undefined, `connected (last error: ${String(last)})`);
        const [conn] = await within(accepting, 'sockAccept');
        await loop.sockSendall(sock, 'ping');
        t.is((await within(loop.sockRecv(conn, 10), 'sockRecv')).toString(), 'ping');
        conn.close();
      } finally {
        sock.close();
        listener.close();
      }
    }));

  it('test_huge_content_recvinto: 1 MB sent while received into one large buffer, every byte in order', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const size = 1_000_000;
      // The test server of test_utils: answers a POST with its body.
      const server = await netServer((s) => {
        let head = Buffer.alloc(0);
        let body = 0;
        s.on('data', (d: Buffer) => {
          if (body === 0 && head.indexOf('\r\n\r\n') === -1) {
            head = Buffer.concat([head, d]);
            const at = head.indexOf('\r\n\r\n');
            if (at === -1) return;
            s.write('HTTP/1.0 200 OK\r\n\r\n');
            d = head.subarray(at + 4);
          }
          body += d.byteLength;
          s.write(d);
          if (body === size) s.end();
        });
      });
      try {
        const sock = await connected(loop, uvloop, server.port);
        const chunk = Buffer.from('0123456789'.repeat(size / 10));
        await loop.sockSendall(sock, `POST /loop HTTP/1.0\r\nContent-Length: ${size}\r\n\r\n`);
        const sending = loop.sockSendall(sock, chunk);
        const buf = new Uint8Array(size);
        const parts: Buffer[] = [];
        for (;;) {
          const n = await within(loop.sockRecvInto(sock, buf), 'sockRecvInto');
          if (n === 0) break;
          t.true(n <= size);
          parts.push(Buffer.from(buf.subarray(0, n)));
        }
        const all = Buffer.concat(parts);
        const headers = all.indexOf('\r\n\r\n') + 4;
        t.true(all.subarray(0, headers).toString().startsWith('HTTP/1.0 200 OK'));
        t.true(all.subarray(headers).equals(chunk), 'the body, in order');
        await within(sending, 'sendall');
        sock.close();
      } finally {
        await server.close();
      }
    }));

  it('test_cancel_sock_accept: an aborted sockAccept, then the listener closed: nothing left, a connect is refused', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const listener = new TCP(uvloop);
      listener.bind('127.0.0.1', 0);
      const { port } = listener.getsockname();
      const controller = new AbortController();
      const accepting = loop.sockAccept(listener, { signal: controller.signal });
      await sleep(1);
      controller.abort();
      await t.throwsAsync(within(accepting, 'the aborted accept'), { name: 'AbortError' });
      listener.close();
      await until(() => listener.closed, 'the listener closed');
      const outcome = await new Promise<string>((resolve) => {
        const c = net.connect(port, '127.0.0.1');
        c.on('connect', () => {
          c.destroy();
          resolve('connected');
        });
        c.on('error', (err: NodeJS.ErrnoException) => resolve(String(err.code)));
      });
      t.is(outcome, 'ECONNREFUSED');
    }));

  it('test_sock_sendfile_zero_size and _mix_with_regular_send: 0 for an empty file; sendall, sendfile, sendall in order', async ({
    loop,
  }, t) =>
    withHandles(t, loop, async (uvloop) => {
      const server = await netServer();
      try {
        const [sock, peer] = await connectedPeer(loop, uvloop, server);
        const all = readToEnd(peer);
        await withFile(Buffer.alloc(0), async ({ fd }) => {
          t.is(await within(loop.sockSendfile(sock, fd, 0, null), 'empty sendfile'), 0);
        });
        const buf = Buffer.from('mix_regular_send'.repeat(4 * 1024));
        await withFile(DATA, async ({ fd }) => {
          await loop.sockSendall(sock, buf);
          t.is(await within(loop.sockSendfile(sock, fd), 'sockSendfile'), DATA.length);
          await loop.sockSendall(sock, buf);
        });
        sock.shutdown();
        t.true((await within(all, 'the peer')).equals(Buffer.concat([buf, DATA, buf])));
        sock.close();
      } finally {
        await server.close();
      }
    }));

  // --- loop.sendfile -------------------------------------------------------------------

  it('test_sendfile_not_supported: a datagram transport is refused (ERR_INVALID_ARG_TYPE) before anything is read', async ({
    loop,
  }, t) => {
    const [transport] = await loop.createDatagramEndpoint(() => ({ datagramReceived() {} }), {
      localAddr: ['127.0.0.1', 0],
    });
    try {
      await withFile(DATA, async ({ fd }) => {
        const sendfile = loop.sendfile as (...args: unknown[]) => Promise<number>;
        await t.throwsAsync(sendfile.call(loop, transport, fd), { code: 'ERR_INVALID_ARG_TYPE' });
      });
    } finally {
      transport.close();
    }
  });

  it('test_sendfile_force_unsupported_native: fallback false where only the fallback would do rejects, sends nothing; the fallback then sends it', async ({
    loop,
  }, t) => {
    const sink = new SendfileSink();
    await withSendfilePair(loop, sink, async (client) => {
      // A fifo is no regular file: neither loop has a zero-copy path for it.
      // Less than a pipe holds (64 KiB): it is written before anyone reads.
      const data = DATA.subarray(0, 60_000);
      await withPipeFile(data, async (fd) => {
        await t.throwsAsync(loop.sendfile(client.transport!, fd, 0, null, { fallback: false }), {
          instanceOf: SendfileNotAvailableError,
          code: 'ERR_SENDFILE_NOT_AVAILABLE',
        });
        await sleep(20);
        t.is(sink.nbytes, 0, 'nothing was sent');
        t.true(client.transport!.isReading(), 'reading was not left paused');
        t.is(await within(loop.sendfile(client.transport!, fd), 'the fallback'), data.length);
      });
      await until(() => sink.nbytes === data.length, 'every byte');
      t.true(sink.received().equals(data));
    });
  });

  it('test_sendfile_close_peer_after_receiving: the peer closes once it has everything; sendfile resolves with the whole size', async ({
    loop,
  }, t) => {
    const sink = new SendfileSink(DATA.length);
    await withSendfilePair(loop, sink, async (client) => {
      await withFile(DATA, async ({ fd }) => {
        t.is(await within(loop.sendfile(client.transport!, fd), 'sendfile'), DATA.length);
      });
      t.is(await within(sink.done.promise, 'the peer closing'), null);
      t.true(sink.received().equals(DATA));
      t.is(await within(client.lost.promise, 'client connectionLost'), null);
    });
  });

  it('test_sendfile_pre_and_post_data with the protocol paused by the prefix: every byte in order; pause and resume seen once each', async ({
    loop,
  }, t) => {
    const sink = new SendfileSink();
    await withSendfilePair(loop, sink, async (client) => {
      const tr = client.transport!;
      // test_sendfile.py's reduce_send_buffer_size: a small high-water mark.
      tr.setWriteBufferLimits({ high: 4096 });
      sink.transport!.pauseReading();
      // More than loopback's kernel buffers take (a few MiB), so that the
      // write buffer goes above the high-water mark.
      const prefix = Buffer.from('PREFIX__'.repeat(1024 * 1024 * 2)); // 16 MiB
      const suffix = Buffer.from('--SUFFIX'.repeat(1024));
      tr.write(prefix);
      await until(() => client.events.includes('pause'), 'pauseWriting');
      await withFile(DATA, async ({ fd }) => {
        const sending = loop.sendfile(tr, fd);
        await sleep(20);
        sink.transport!.resumeReading();
        t.is(await within(sending, 'sendfile'), DATA.length);
      });
      tr.write(suffix);
      const total = prefix.length + DATA.length + suffix.length;
      await until(() => sink.nbytes === total, 'every byte');
      t.true(sink.received().equals(Buffer.concat([prefix, DATA, suffix])));
      await until(() => tr.getWriteBufferSize() === 0, 'flushed');
      // Paused by the prefix, resumed in the end; sendfile tells the
      // protocol of a pause or resume it did not see meanwhile, so the
      // calls alternate.
      t.is(client.events[0], 'pause');
      t.is(client.events.at(-1), 'resume');
      t.true(client.events.every((e, i) => e === (i % 2 === 0 ? 'pause' : 'resume')));
    });
  });

  const { it: tlsIt } = tlsCases(test, makeLoop, `${name}: sock port`);
  tlsIt(
    'test_sendfile_ssl_pre_and_post_data, _ssl_partial, _ssl_close_peer_after_receiving: over TLS (the fallback), in order, a slice, and a peer that closes once it has all',
    async ({ loop }, t) => {
      const tls = await selfSignedCert();
      const prefix = Buffer.from('PREFIX__'.repeat(1024)); // 8 KiB
      const suffix = Buffer.from('--SUFFIX'.repeat(1024));
      // Prefix, the whole file, suffix: each byte once, in order.
      const sink = new SendfileSink();
      await withSendfilePair(
        loop,
        sink,
        async (client) => {
          const tr = client.transport!;
          tr.write(prefix);
          await withFile(DATA, async ({ fd }) => {
            t.is(await within(loop.sendfile(tr, fd), 'sendfile'), DATA.length);
          });
          tr.write(suffix);
          const total = prefix.length + DATA.length + suffix.length;
          await until(() => sink.nbytes === total, 'every byte');
          t.true(sink.received().equals(Buffer.concat([prefix, DATA, suffix])));
        },
        tls,
      );
      // offset 1000, count 100: those 100 bytes and no more.
      const partial = new SendfileSink();
      await withSendfilePair(
        loop,
        partial,
        async (client) => {
          await withFile(DATA, async ({ fd }) => {
            t.is(await within(loop.sendfile(client.transport!, fd, 1000, 100), 'sendfile'), 100);
          });
          client.transport!.write('END');
          await until(() => partial.nbytes === 103, 'the slice and the marker');
          t.true(
            partial
              .received()
              .equals(Buffer.concat([DATA.subarray(1000, 1100), Buffer.from('END')])),
          );
        },
        tls,
      );
      // The peer closes once it has everything: sendfile still resolves whole.
      const closer = new SendfileSink(DATA.length);
      await withSendfilePair(
        loop,
        closer,
        async (client) => {
          await withFile(DATA, async ({ fd }) => {
            t.is(await within(loop.sendfile(client.transport!, fd), 'sendfile'), DATA.length);
          });
          t.is(await within(closer.done.promise, 'the peer closing'), null);
          t.true(closer.received().equals(DATA));
          t.is(await within(client.lost.promise, 'client connectionLost'), null);
        },
        tls,
      );
    },
  );

  it('test_sendfile_fallback_close_peer_in_the_middle_of_receiving: a fifo through the fallback; the peer closes after 1 KiB; sendfile rejects, the transport closes', async ({
    loop,
  }, t) => {
    const sink = new SendfileSink(1024);
    const dir = mkdtempSync(join(tmpdir(), 'asyncuv-sock-port-'));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // More than the kernel's socket buffers take, fed by another process:
    // the fallback (a fifo is no regular file) reads it block by block.
    // The feeder opens the fifo read-write, which does not wait for a
    // reader, and says so; only then is the read end opened here, and that
    // open returns at once (a writer is there) instead of blocking this
    // thread past every timeout if the feeder never came. The read end
    // stays blocking: the fallback's reads wait for data instead of
    // failing with EAGAIN. `exec head` makes the feeder's pid head's, so
    // that kill() ends the writer (holding a read end too, it would not
    // get EPIPE).
    const feeder = spawn(
      'sh',
      ['-c', 'exec 3<>"$0" && echo open && exec head -c 67108864 /dev/zero >&3', fifo],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const fed = once(feeder, 'exit');
    const opened = new Promise<void>((resolve, reject) => {
      feeder.once('error', reject);
      feeder.stdout!.once('data', () => resolve());
      feeder.once('exit', (code) => reject(new Error(`the feeder exited (${code}) first`)));
    });
    let fd: number | undefined;
    try {
      await within(opened, 'the feeder opens the fifo');
      const readEnd = openSync(fifo, 'r');
      fd = readEnd;
      await withSendfilePair(loop, sink, async (client) => {
        const err = await t.throwsAsync(
          within(loop.sendfile(client.transport!, readEnd), 'sendfile'),
        );
        // The peer's close reaches the transport as EOF (it closes: its
        // protocol does not keep it open) or as a failed write: asyncio's
        // ConnectionError is ERR_TRANSPORT_CLOSED or the UvError here.
        const code = (err as { code?: string }).code;
        t.true(['ERR_TRANSPORT_CLOSED', 'EPIPE', 'ECONNRESET'].includes(String(code)), String(err));
        t.true(client.transport!.isClosing());
        t.not(await within(client.lost.promise, 'client connectionLost'), undefined);
        t.true(sink.nbytes >= 1024);
        t.true(sink.nbytes < 64 * 1024 * 1024, 'far from all of it');
      });
    } finally {
      if (fd !== undefined) closeSync(fd);
      feeder.kill();
      await within(fed, 'the feeder exits');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // --- BufferedProtocol ------------------------------------------------------------------

  it('test_buffered_proto_create_connection: a 100-byte buffer receives 9 KiB; the client answers once it has all', async ({
    loop,
  }, t) => {
    const noise = Buffer.from('12345678+'.repeat(1024));
    const server = await startServer(
      async (reader, writer) => {
        writer.write(noise);
        await reader.readexactly(1);
        writer.close();
        await writer.waitClosed();
      },
      '127.0.0.1',
      0,
      { loop },
    );
    try {
      const { port } = server.sockets()[0] as { port: number };
      const lost = future<Error | null>();
      const buffer = new Uint8Array(100);
      let data = Buffer.alloc(0);
      let transport: Transport | undefined;
      let biggest = 0;
      const proto: BufferedProtocol = {
        connectionMade: (tr) => void (transport = tr),
        getBuffer: () => buffer,
        bufferUpdated(n) {
          biggest = Math.max(biggest, n);
          data = Buffer.concat([data, buffer.subarray(0, n)]);
          if (data.equals(noise)) transport!.write('1');
        },
        connectionLost: (err) => lost.resolve(err),
      };
      await loop.createConnection(() => proto, '127.0.0.1', port);
      t.is(await within(lost.promise, 'connectionLost'), null);
      t.true(data.equals(noise));
      t.true(biggest <= 100, 'no read went past the buffer');
    } finally {
      server.close();
      await within(server.waitClosed(), 'server waitClosed');
    }
  });

  for (const [what, bad] of [
    ['an empty buffer', () => new Uint8Array(0)],
    ['no Uint8Array (an ArrayBuffer)', () => new ArrayBuffer(16) as unknown as Uint8Array],
  ] as const) {
    it(`getBuffer() returning ${what}: a fatal error, connectionLost with a typed error`, async (ctx, t) => {
      let updated = 0;
      await fatalProtocolCall(
        ctx,
        t,
        'getBuffer',
        (s) => s.write('data'),
        { getBuffer: bad, bufferUpdated: () => void updated++ },
        async (err) => {
          t.is((err as { code?: string } | null)?.code, 'ERR_INVALID_RETURN_VALUE');
          t.is(updated, 0);
        },
      );
    });
  }

  it('bufferUpdated() that throws: a fatal error, connectionLost with that error, no further call', async (ctx, t) => {
    const boom = new Error('bad update');
    const buffer = new Uint8Array(64);
    let calls = 0;
    await fatalProtocolCall(
      ctx,
      t,
      'bufferUpdated',
      // Four buffers' worth at once: what the first call did not take is
      // already there, and a transport that went on reading after the
      // error would hand it over before connectionLost.
      (s) => s.write(Buffer.alloc(4 * buffer.byteLength, 'x')),
      {
        getBuffer: () => buffer,
        bufferUpdated() {
          calls++;
          throw boom;
        },
      },
      async (err, transport) => {
        t.is(err, boom);
        t.true(transport.isClosing());
        t.is(calls, 1);
      },
    );
  });

  it('getBuffer() handing out a different buffer each time: each read lands in the last one handed out; eofReceived returning true keeps the transport open for writing', async ({
    loop,
  }, t) => {
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    const peer = future<net.Socket>();
    const server = await netServer(
      (s) => {
        peer.resolve(s);
        s.end(payload);
      },
      '127.0.0.1',
      { allowHalfOpen: true },
    );
    try {
      const buffers = [new Uint8Array(3000), new Uint8Array(5000), new Uint8Array(7000)];
      let last: Uint8Array | undefined;
      let calls = 0;
      const parts: Buffer[] = [];
      let transport: Transport | undefined;
      const eof = future();
      const lost = future<Error | null>();
      const proto: BufferedProtocol = {
        connectionMade: (tr) => void (transport = tr),
        getBuffer() {
          last = buffers[calls++ % buffers.length]!;
          return last;
        },
        bufferUpdated(n) {
          t.true(n <= last!.byteLength);
          parts.push(Buffer.from(last!.subarray(0, n)));
        },
        eofReceived() {
          eof.resolve();
          return true;
        },
        connectionLost: (err) => lost.resolve(err),
      };
      await loop.createConnection(() => proto, '127.0.0.1', server.port);
      await within(eof.promise, 'eofReceived');
      t.true(Buffer.concat(parts).equals(payload), 'every byte, in order');
      t.true(calls > 2, 'several buffers were used');
      t.false(transport!.isClosing(), 'open after EOF');
      const socket = await peer.promise;
      const answer = readToEnd(socket);
      transport!.write('after EOF');
      transport!.close();
      t.is((await within(answer, 'the peer')).toString(), 'after EOF');
      t.is(await within(lost.promise, 'connectionLost'), null);
    } finally {
      await server.close();
    }
  });

  it('a protocol switch in every bufferUpdated (and back in dataReceived) under 4 MiB: no byte lost or reordered', async ({
    loop,
  }, t) => {
    const payload = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    const server = await netServer((s) => s.end(payload));
    try {
      const hash = createHash('sha256');
      let total = 0;
      const calls = { buffered: 0, plain: 0 };
      const lost = future<Error | null>();
      const buffer = new Uint8Array(1000);
      let transport: Transport | undefined;
      const plain: Protocol = {
        dataReceived(d) {
          calls.plain++;
          hash.update(d);
          total += d.length;
          transport!.setProtocol(buffered);
        },
        connectionLost: (err) => lost.resolve(err),
      };
      const buffered: BufferedProtocol = {
        connectionMade: (tr) => void (transport = tr),
        getBuffer: () => buffer,
        bufferUpdated(n) {
          calls.buffered++;
          hash.update(buffer.subarray(0, n));
          total += n;
          transport!.setProtocol(plain);
        },
        connectionLost: (err) => lost.resolve(err),
      };
      await loop.createConnection(() => buffered, '127.0.0.1', server.port);
      t.is(await within(lost.promise, 'connectionLost'), null);
      t.is(total, payload.length);
      t.is(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
      t.true(calls.buffered > 0 && calls.plain > 0, JSON.stringify(calls));
      t.true(Math.abs(calls.buffered - calls.plain) <= 1, 'they alternate');
    } finally {
      await server.close();
    }
  });
}
