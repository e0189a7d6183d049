// asyncio's "working with socket objects directly" (loop.sock_recv,
// sock_recv_into, sock_recvfrom, sock_recvfrom_into, sock_sendall,
// sock_sendto, sock_connect, sock_accept, sock_sendfile) over asyncuv
// handles: a TCP or Pipe (Unix socket) handle for the stream calls, a UDP
// handle for the datagram ones. The algorithms are here once; both loops
// run them the same way, with the handle's own methods on the handle's own
// Loop (UvEventLoop takes handles of its Loop only, as its creators do;
// NodeEventLoop, handles of any Loop of the thread). The caller owns the
// handle throughout, and closes it.
//
// The rules, asyncio's (selector_events.py), with libuv's reads:
// - A receive takes at most what it asks for. libuv reads up to 64 KiB at a
//   time: what a read brings beyond the request goes back to the stream
//   (Stream.unread), in front of the reads it holds, for the next receive,
//   or for whoever reads the handle next (a transport it is given to, a
//   readStart of the caller's), and reading stops between calls (readStop /
//   recvStop), so the kernel's buffer fills and the peer is held back, as
//   with a socket nobody reads. Receives on one socket are served in call
//   order.
// - A receive takes bytes only when it returns: an abort (CancelledError)
//   or the loop's close (ERR_LOOP_CLOSED) withdraws it before its rejection
//   is seen, and every byte stays for the next call.
// - The caller closing the handle under a pending call rejects it with
//   ERR_HANDLE_CLOSED (the handle's close hook, handles/internal.ts: libuv
//   tells no read or listen callback about a close).
// - sendall writes in chunks of up to 256 KiB, one after the other, so
//   that at most one chunk is ever copied into libuv's queue, whatever the
//   data's size; sendalls on one socket go out whole, in call order.
// - A handle used by a transport or server of a loop (given as `sock` to a
//   creator, or made by the loop: server-sock.ts's claimSock), or reading
//   or listening with a callback of the caller's (it is active while these
//   calls are not reading or listening on it), is refused with
//   ERR_INVALID_STATE (asyncio's "File descriptor is used by transport"):
//   two readers would fight over its read callback.
// - sockAccept listens first on a bound handle that does not listen yet
//   (backlog 100, asyncio's create_server default), as a `sock` given to
//   createServer may be bound only; a handle that is not bound is refused.
import { Buffer } from 'node:buffer';
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType, validateInteger, validateString } from '../errors/validate.js';
import * as fs from '../handles/fs.js';
import type { Handle } from '../handles/handle.js';
import { Pipe } from '../handles/pipe.js';
import { TCP } from '../handles/tcp.js';
import { UDP } from '../handles/udp.js';
import { errno, UvError } from '../handles/uv-error.js';
import { type AbortOptions, signalOf, throwIfAborted } from './abort.js';
import type { LoopResource } from './event-loop-core.js';
import type { Address } from './protocols.js';
import type { ResolvedAddress, SockType } from './resolve.js';
import {
  fileRequest,
  regularFileSize,
  type SendfileFile,
  SendfileNotAvailableError,
  type SendfileOptions,
} from './sendfile.js';
import { checkNotIpc, isClaimed } from './server-sock.js';
import { activeHere, failure, kEmpty, noop, pending, streamState, udpState } from './sock-state.js';

/** What a loop lends the sock operations. */
export interface SockHost {
  /** Throws a UsageError for a handle this loop cannot take (UvEventLoop: another Loop's). */
  checkSock(sock: Handle): void;
  /** `host`'s addresses, as the loop's creators resolve them. */
  resolve(host: string, socktype: SockType): Promise<ResolvedAddress[]>;
  /** Registers what the loop's close() must withdraw (EventLoopCore.hold). */
  hold(resource: LoopResource): () => void;
  /** Throws ERR_LOOP_CLOSED once the loop is closed. */
  checkClosed(): void;
}

/** A stream socket of the sock operations. */
export type StreamSock = TCP | Pipe;
/** What sockSendall and sockSendto send: bytes, or a string (UTF-8). */
export type SockData = Uint8Array | string;

// --- checks ------------------------------------------------------------------------

function checkOpen(sock: Handle): void {
  if (sock.closed) {
    throw new UsageError('ERR_HANDLE_CLOSED', `This ${sock.constructor.name} handle is closed`);
  }
}

/**
 * Refuses a handle a transport or server uses, or one reading or listening
 * with the caller's own callback (see the header).
 */
function checkFree(sock: Handle): void {
  if (isClaimed(sock)) {
    throw new UsageError(
      'ERR_INVALID_STATE',
      `sock is used by a transport or server: its ${sock.constructor.name} handle is not the caller's to read`,
    );
  }
  if (sock.active && !activeHere(sock)) {
    throw new UsageError(
      'ERR_INVALID_STATE',
      `sock is reading or listening with a callback of its own (stop it first)`,
    );
  }
}

/** A TCP or Pipe (not IPC) handle, open, free and of a Loop the loop takes. */
function checkStreamSock(sock: unknown, host: SockHost): asserts sock is StreamSock {
  if (!(sock instanceof TCP) && !(sock instanceof Pipe)) {
    throw invalidArgType('sock', 'a TCP or Pipe handle', sock);
  }
  checkOpen(sock);
  if (sock instanceof Pipe) checkNotIpc(sock);
  host.checkSock(sock);
  checkFree(sock);
}

/** A UDP handle, open, free and of a Loop the loop takes. */
function checkUdpSock(sock: unknown, host: SockHost): asserts sock is UDP {
  if (!(sock instanceof UDP)) throw invalidArgType('sock', 'a UDP handle', sock);
  checkOpen(sock);
  host.checkSock(sock);
  checkFree(sock);
}

function checkBuffer(buf: unknown, name: string): asserts buf is Uint8Array {
  if (!(buf instanceof Uint8Array)) throw invalidArgType(name, 'a Uint8Array', buf);
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return Buffer.from(data);
  throw invalidArgType('data', 'a Uint8Array or a string', data);
}

/** asyncio's (host, port), as [host, port]. */
function checkAddress(address: unknown, name: string): asserts address is Address {
  if (!Array.isArray(address) || address.length !== 2) {
    throw invalidArgType(name, 'a [host, port] pair', address);
  }
  validateString(address[0], `${name}[0]`);
  validateInteger(address[1], `${name}[1]`, 0, 65535);
}

/**
 * `host`'s address to use from `sock`: an IP literal as it is, a name
 * resolved as the creators resolve it, preferring the family the socket is
 * bound to (asyncio's _ensure_resolved takes the socket's family).
 */
async function addressFor(
  host: SockHost,
  name: string,
  socktype: SockType,
  bound: () => { family: 'IPv4' | 'IPv6' },
): Promise<string> {
  const found = await host.resolve(name, socktype);
  let family: 4 | 6 | undefined;
  try {
    family = bound().family === 'IPv6' ? 6 : 4;
  } catch {
    // not bound: any family
  }
  const pick = found.find((a) => family === undefined || a.family === family) ?? found[0];
  if (pick === undefined) throw new UvError(errno['EAI_NONAME']!, 'getaddrinfo', name);
  return pick.address;
}

// --- the calls ------------------------------------------------------------------------

export async function sockRecv(
  host: SockHost,
  sock: StreamSock,
  nbytes: number,
  opts?: AbortOptions,
): Promise<Buffer> {
  host.checkClosed();
  checkStreamSock(sock, host);
  validateInteger(nbytes, 'nbytes', 0);
  const signal = signalOf(opts);
  if (nbytes === 0) {
    throwIfAborted(signal);
    return kEmpty;
  }
  const state = streamState(sock);
  return pending<Buffer | number>(host, signal, (settle) =>
    state.read(nbytes, undefined, settle),
  ) as Promise<Buffer>;
}

export async function sockRecvInto(
  host: SockHost,
  sock: StreamSock,
  buf: Uint8Array,
  opts?: AbortOptions,
): Promise<number> {
  host.checkClosed();
  checkStreamSock(sock, host);
  checkBuffer(buf, 'buf');
  const signal = signalOf(opts);
  if (buf.byteLength === 0) {
    throwIfAborted(signal);
    return 0;
  }
  const state = streamState(sock);
  return pending<Buffer | number>(host, signal, (settle) =>
    state.read(buf.byteLength, buf, settle),
  ) as Promise<number>;
}

export async function sockSendall(
  host: SockHost,
  sock: StreamSock,
  data: SockData,
  opts?: AbortOptions,
): Promise<void> {
  host.checkClosed();
  checkStreamSock(sock, host);
  const bytes = toBytes(data);
  const signal = signalOf(opts);
  const state = streamState(sock);
  return pending<void>(host, signal, (settle) => state.send(bytes, settle));
}

export async function sockConnect(
  host: SockHost,
  sock: StreamSock,
  address: Address | string,
  opts?: AbortOptions,
): Promise<void> {
  host.checkClosed();
  checkStreamSock(sock, host);
  const signal = signalOf(opts);
  if (sock instanceof Pipe) {
    validateString(address, 'address');
    return pending<void>(host, signal, (settle) => {
      sock.connect(address, (err) => (err ? settle.reject(failure(sock, err)) : settle.resolve()));
      // The connect goes on (libuv cannot withdraw it): close the handle to end it.
      return noop;
    });
  }
  checkAddress(address, 'address');
  const [name, port] = address;
  throwIfAborted(signal);
  const ip = await addressFor(host, name, 'stream', () => sock.getsockname());
  // Closed while resolving, as the creators: nothing starts on a closed loop.
  host.checkClosed();
  checkOpen(sock);
  return pending<void>(host, signal, (settle) => {
    sock.connect(ip, port, (err) => (err ? settle.reject(failure(sock, err)) : settle.resolve()));
    return noop;
  });
}

export async function sockAccept(
  host: SockHost,
  sock: StreamSock,
  opts?: AbortOptions,
): Promise<[StreamSock, Address | string]> {
  host.checkClosed();
  checkStreamSock(sock, host);
  const signal = signalOf(opts);
  const state = streamState(sock);
  if (!state.active) {
    // Not listening yet: it must be bound (listen() would bind a TCP
    // socket to a port of the kernel's choosing nobody asked for).
    let bound: boolean;
    try {
      bound = sock instanceof TCP ? sock.getsockname().port !== 0 : sock.getsockname() !== '';
    } catch (err) {
      if (!(err instanceof UvError)) throw err;
      bound = false;
    }
    if (!bound) {
      throw new UsageError('ERR_INVALID_ARG_VALUE', 'sock must be bound (bind it first)');
    }
  }
  return pending(host, signal, (settle) => state.accept(settle));
}

export async function sockRecvfrom(
  host: SockHost,
  sock: UDP,
  bufsize: number,
  opts?: AbortOptions,
): Promise<[Buffer, Address]> {
  host.checkClosed();
  checkUdpSock(sock, host);
  validateInteger(bufsize, 'bufsize', 0);
  const signal = signalOf(opts);
  const state = udpState(sock);
  return pending<[Buffer | number, Address]>(host, signal, (settle) =>
    state.read(bufsize, undefined, settle),
  ) as Promise<[Buffer, Address]>;
}

export async function sockRecvfromInto(
  host: SockHost,
  sock: UDP,
  buf: Uint8Array,
  nbytes = 0,
  opts?: AbortOptions,
): Promise<[number, Address]> {
  host.checkClosed();
  checkUdpSock(sock, host);
  checkBuffer(buf, 'buf');
  // socket.recvfrom_into's rule: 0 is the whole buffer, more than it is refused.
  validateInteger(nbytes, 'nbytes', 0, buf.byteLength);
  const signal = signalOf(opts);
  const state = udpState(sock);
  const size = nbytes === 0 ? buf.byteLength : nbytes;
  return pending<[Buffer | number, Address]>(host, signal, (settle) =>
    state.read(size, buf, settle),
  ) as Promise<[number, Address]>;
}

export async function sockSendto(
  host: SockHost,
  sock: UDP,
  data: SockData,
  address: Address,
  opts?: AbortOptions,
): Promise<number> {
  host.checkClosed();
  checkUdpSock(sock, host);
  const bytes = toBytes(data);
  checkAddress(address, 'address');
  const signal = signalOf(opts);
  throwIfAborted(signal);
  const [name, port] = address;
  const ip = await addressFor(host, name, 'dgram', () => sock.getsockname());
  host.checkClosed();
  checkOpen(sock);
  return pending<number>(host, signal, (settle) => {
    sock.send(bytes, ip, port, (err) =>
      err ? settle.reject(failure(sock, err)) : settle.resolve(bytes.byteLength),
    );
    // A datagram handed to libuv goes, or not, as a whole.
    return noop;
  });
}

// Blocks of the file sockSendfile reads and sends at a time.
const kFileBlock = 256 * 1024;

/**
 * asyncio's sock_sendfile over its fallback (_sock_sendfile_fallback): the
 * file read in blocks at explicit offsets, each sent with sockSendall.
 * Resolves with the bytes sent. There is no zero-copy path for a handle
 * (fallback: false rejects with SendfileNotAvailableError, as asyncio's
 * loops without one do).
 */
export async function sockSendfile(
  host: SockHost,
  sock: StreamSock,
  file: SendfileFile,
  offset = 0,
  count: number | null = null,
  opts?: SendfileOptions,
): Promise<number> {
  host.checkClosed();
  checkStreamSock(sock, host);
  const { fd, signal } = fileRequest(file, offset, count, opts);
  if (opts?.fallback === false) {
    throw new SendfileNotAvailableError('There is no zero-copy sendfile for a handle');
  }
  const seekable = regularFileSize(fd) !== null;
  if (!seekable && offset !== 0) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      'offset must be 0 for a file that is not seekable',
    );
  }
  let sent = 0;
  let block: Buffer | undefined;
  for (;;) {
    const size = count === null ? kFileBlock : Math.min(kFileBlock, count - sent);
    if (size <= 0) return sent;
    throwIfAborted(signal);
    // sockSendall has handed the last block to libuv whole: reusable.
    block ??= Buffer.allocUnsafe(kFileBlock);
    const n = await fs.read(sock.loop, fd, block, 0, size, seekable ? offset + sent : null);
    if (n === 0) return sent;
    await sockSendall(host, sock, block.subarray(0, n), signal ? { signal } : undefined);
    sent += n;
  }
}
