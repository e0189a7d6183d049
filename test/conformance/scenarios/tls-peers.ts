// The peers of the TLS port (tls-port.ts): what CPython's test_ssl.py runs
// in a thread over blocking sockets, here on Node's own net and tls, in the
// test process, over real sockets. A peer's own checks land in `failures`,
// which the case asserts empty, so an assertion on the far side fails the
// case as asyncio's threaded servers do (_abort_socket_test).
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { ExecutionContext } from 'ava';
import { type AbstractEventLoop, Loop, type Protocol, TCP, UvEventLoop } from 'asyncuv';
import { withPrograms } from '../../helpers/tools.js';
import { type LoopContext, type MakeLoop, type Test, until, within, withLoop } from '../harness.js';

/** Bytes read from a Node stream, taken by count (asyncio's recv_all) or to its end. */
export class Bytes {
  #buf = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | undefined;
  readonly #stream: Duplex;
  readonly #onData = (chunk: Buffer): void => {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    this.#wake?.();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#wake?.();
  };

  constructor(stream: Duplex) {
    this.#stream = stream;
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onEnd);
  }

  async #until(cond: () => boolean, what: string): Promise<void> {
    while (!cond()) {
      await within(
        new Promise<void>((resolve) => (this.#wake = resolve)),
        `the peer's read of ${what}`,
      );
    }
  }

  /** Exactly `n` bytes; throws (ConnectionAbortedError in CPython) if the stream ends first. */
  async take(n: number): Promise<Buffer> {
    await this.#until(() => this.#buf.length >= n || this.#ended, `${n} bytes`);
    if (this.#buf.length < n) throw new Error(`the stream ended after ${this.#buf.length} of ${n}`);
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Everything up to the end of the stream. */
  async all(): Promise<Buffer> {
    await this.#until(() => this.#ended, 'the end of the stream');
    const out = this.#buf;
    this.#buf = Buffer.alloc(0);
    return out;
  }

  /** Stops reading (paused) and returns what was read beyond the last take. */
  detach(): Buffer {
    this.#stream.pause();
    this.#stream.off('data', this.#onData);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onEnd);
    const rest = this.#buf;
    this.#buf = Buffer.alloc(0);
    return rest;
  }
}

/**
 * A Duplex over a raw socket, starting with `head` (bytes already read off
 * it): what node:tls wraps when the TLS layer must start in the middle of
 * a plain stream (STARTTLS), or when the test writes raw bytes under it.
 */
export function relay(raw: net.Socket, head: Buffer = Buffer.alloc(0)): Duplex {
  const duplex = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _encoding, cb) {
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end();
      cb();
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  if (head.length > 0) duplex.push(head);
  raw.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) raw.pause();
  });
  raw.on('end', () => duplex.push(null));
  raw.on('error', (err) => duplex.destroy(err));
  return duplex;
}

/** The server's side of a TLS handshake over `stream`; resolves once secure. */
export async function serverTls(
  stream: Duplex,
  key: Buffer,
  cert: Buffer,
  opts: { allowHalfOpen?: boolean } = {},
): Promise<tls.TLSSocket> {
  const socket = new tls.TLSSocket(stream, { isServer: true, key, cert, ...opts });
  socket.on('error', () => {});
  await within(once(socket, 'secure'), "the peer's server-side handshake");
  return socket;
}

/** The client's side of a TLS handshake over `stream`, trusting `cert` for localhost. */
export async function clientTls(
  stream: Duplex,
  cert: Buffer,
  opts: { allowHalfOpen?: boolean } = {},
): Promise<tls.TLSSocket> {
  const socket = tls.connect({ socket: stream, ca: cert, servername: 'localhost', ...opts });
  socket.on('error', () => {});
  await within(once(socket, 'secureConnect'), "the peer's client-side handshake");
  return socket;
}

/** Resolves once `socket` is closed (the connection is gone on the peer's side). */
export function closed(socket: net.Socket | Duplex): Promise<unknown> {
  if (socket.destroyed && (socket as { closed?: boolean }).closed) return Promise.resolve();
  return within(once(socket, 'close'), "the peer's close");
}

export interface Peer {
  port: number;
  /** Checks that failed on the peer's side (asyncio's _abort_socket_test). */
  failures: string[];
  /** Resolves once `n` connections have run their program to its end. */
  served(n: number): Promise<void>;
  close(): void;
}

/**
 * A TCP server on 127.0.0.1 that runs `program` for each connection, over
 * the raw socket (the program starts TLS itself, as CPython's
 * sock.starttls()). Every socket is destroyed by close(). With
 * allowHalfOpen, a socket whose client sent EOF stays open (node:tls takes
 * the setting of the socket it wraps): a peer that never answers.
 */
export async function tcpPeer(
  program: (raw: net.Socket) => Promise<void>,
  opts: { allowHalfOpen?: boolean } = {},
): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  const failures: string[] = [];
  let done = 0;
  let wake: (() => void) | undefined;
  const server = net.createServer(opts, (raw) => {
    sockets.add(raw);
    raw.on('error', () => {});
    raw.on('close', () => sockets.delete(raw));
    program(raw)
      .catch((err: unknown) => void failures.push(String(err)))
      .finally(() => {
        done++;
        wake?.();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    failures,
    async served(n) {
      while (done < n) {
        await within(new Promise<void>((resolve) => (wake = resolve)), `the peer's ${n} programs`);
      }
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A promise with its resolve outside (asyncio's threading.Event). */
export function signal(): { set(): void; wait(what: string): Promise<void> } {
  let set!: () => void;
  const promise = new Promise<void>((resolve) => (set = resolve));
  return { set, wait: (what) => within(promise, what) };
}

// --- what the cases share ---

/** A case's body: the loop's context and ava's assertions. */
export type Body = (ctx: LoopContext, t: ExecutionContext) => Promise<void>;

export const HOST = '127.0.0.1';
/** test_ssl.py's PAYLOAD_SIZE. */
export const PAYLOAD = 100 * 1024;
export const quiet = (): Protocol => ({});

/** The client's TLS options: our test certificate trusted, for localhost. */
export const clientSsl = (cert: Buffer) => ({ ssl: { ca: cert }, serverHostname: 'localhost' });

/** Nothing left on the loop: no transport, no handshake or shutdown timer. */
export async function nothingHeld(loop: AbstractEventLoop): Promise<void> {
  await until(() => Object.keys(loop.liveResources()).length === 0, 'nothing held by the loop');
}

/** A Loop a `sock` handle for `loop` can live on (UvEventLoop: its own). */
export function handleLoop(loop: AbstractEventLoop): Loop {
  return loop instanceof UvEventLoop ? loop.uvloop : Loop.default();
}

/** A TCP handle connected to port (asyncio's socket.connect before sock=). */
export async function connectedTcp(loop: AbstractEventLoop, port: number): Promise<TCP> {
  const tcp = new TCP(handleLoop(loop));
  await within(
    new Promise<void>((resolve, reject) =>
      tcp.connect(HOST, port, (err) => (err === null ? resolve() : reject(err))),
    ),
    'the TCP connect',
  );
  return tcp;
}

/** A peer that reads and never answers; `gone()` counts the connections that went. */
export async function silentPeer(): Promise<Peer & { gone(): number }> {
  let gone = 0;
  const peer = await tcpPeer(async (raw) => {
    raw.resume();
    await closed(raw);
    gone++;
  });
  return { ...peer, gone: () => gone };
}

/** A protocol that records its callbacks in order, as MyBaseProto's states. */
export function recorder(log: string[], extra: Partial<Protocol> = {}): Protocol {
  return {
    connectionMade: () => void log.push('made'),
    dataReceived: (d) => void log.push(`data ${d.toString()}`),
    eofReceived: () => void log.push('eof'),
    connectionLost: (e) => void log.push(`lost ${e === null ? 'null' : (e as Error).name}`),
    ...extra,
  };
}

/**
 * The cases of a TLS scenario: `it(title, body)` registers `${name}: title`,
 * run withLoop, on a machine with openssl (the certificate is made with it:
 * test/adapters/tls-cert.ts); `tlsTest` is the bare registration.
 */
export function tlsCases(
  test: Test,
  makeLoop: MakeLoop,
  name: string,
): {
  it: (title: string, body: Body, opts?: { expectExceptions?: boolean }) => void;
  tlsTest: ReturnType<typeof withPrograms<unknown>>;
} {
  const tlsTest = withPrograms(test, ['openssl']);
  const it = (title: string, body: Body, opts?: { expectExceptions?: boolean }): void =>
    tlsTest(`${name}: ${title}`, (t) => withLoop(t, makeLoop, (ctx) => body(ctx, t), opts));
  return { it, tlsTest };
}
