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
import { kOnClose } from '../handles/internal.js';
import { Pipe } from '../handles/pipe.js';
import { TCP } from '../handles/tcp.js';
import { UDP, type UdpAddress } from '../handles/udp.js';
import { errno, UvError } from '../handles/uv-error.js';
import { type AbortOptions, abortError, signalOf, throwIfAborted } from './abort.js';
import { loopClosed } from './errors.js';
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

// Up to this much of a sendall is handed to libuv at a time.
const kSendChunk = 256 * 1024;
// sockAccept's listen(), as asyncio's create_server backlog.
const kBacklog = 100;
const kEmpty = Buffer.alloc(0);

interface Settle<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

function noop(): void {}

/**
 * A pending call: `start` begins it and returns what withdraws it. It
 * settles once; an abort of `signal`, or the loop's close, withdraws it
 * first, so that nothing is taken after. A signal aborted already rejects
 * at once, before anything starts.
 */
function pending<T>(
  host: SockHost,
  signal: AbortSignal | undefined,
  start: (settle: Settle<T>) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    let done = false;
    let withdraw = noop;
    const end = (): boolean => {
      if (done) return false;
      done = true;
      release();
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const cut = (err: Error): void => {
      if (!end()) return;
      withdraw();
      reject(err);
    };
    const onAbort = (): void => cut(abortError(signal!));
    const release = host.hold({ closeWithLoop: () => cut(loopClosed()) });
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      withdraw = start({
        resolve: (value) => {
          if (end()) resolve(value);
        },
        reject: (err) => {
          if (end()) reject(err);
        },
      });
    } catch (err) {
      if (end()) reject(err);
    }
  });
}

function handleClosed(sock: Handle): UsageError {
  return new UsageError('ERR_HANDLE_CLOSED', `The ${sock.constructor.name} handle was closed`);
}

/** A callback's error: ERR_HANDLE_CLOSED once the caller closed the handle (libuv's ECANCELED). */
function failure(sock: Handle, err: UvError): Error {
  return sock.closed ? handleClosed(sock) : err;
}

function removeFrom<T>(list: T[], item: T): void {
  const at = list.indexOf(item);
  if (at !== -1) list.splice(at, 1);
}

// --- per-handle state ---------------------------------------------------------

/** A receive waiting in line: `want` bytes as a Buffer, or into `into`. */
interface StreamRead {
  want: number;
  into: Uint8Array | undefined;
  settle: Settle<Buffer | number>;
}

interface SendJob {
  data: Uint8Array;
  at: number;
  withdrawn: boolean;
  settle: Settle<void>;
}

/** The sock operations' state of a TCP or Pipe handle: its reads, sends and accepts. */
class StreamState {
  readonly sock: StreamSock;
  // undefined while the stream goes on; null after EOF; the read error.
  #end: UvError | null | undefined;
  #reads: StreamRead[] = [];
  #reading = false;
  // The head is sending; the rest wait.
  #sends: SendJob[] = [];
  #accepts: Array<Settle<[StreamSock, Address | string]>> = [];
  #listening = false;
  // Connections libuv holds for accept() (it stops accepting until then).
  #connections = 0;

  constructor(sock: StreamSock) {
    this.sock = sock;
    sock[kOnClose] = () => this.#closed();
  }

  /** Whether the handle is active for these calls (reading or listening). */
  get active(): boolean {
    return this.#reading || this.#listening;
  }

  // --- receiving

  read(want: number, into: Uint8Array | undefined, settle: Settle<Buffer | number>): () => void {
    const read: StreamRead = { want, into, settle };
    this.#reads.push(read);
    this.#pumpReads();
    return () => {
      removeFrom(this.#reads, read);
      this.#pumpReads();
    };
  }

  /**
   * A read: the receives in line take what they ask of it, in order; what
   * is left goes back to the stream (Stream.unread), in front of whatever
   * it holds, with reading stopped, for the next receive or whoever reads
   * the handle next (a transport it is given to). Nothing is kept here.
   */
  readonly #onRead = (err: UvError | null, data: Buffer | null): void => {
    if (data === null) {
      this.#end = err;
      this.#pumpReads();
      return;
    }
    let at = 0;
    while (at < data.byteLength && this.#reads.length > 0) {
      const { want, into, settle } = this.#reads.shift()!;
      const n = Math.min(into === undefined ? want : into.byteLength, data.byteLength - at);
      const bytes = n === data.byteLength ? data : data.subarray(at, at + n);
      at += n;
      if (into === undefined) settle.resolve(bytes);
      else {
        into.set(bytes);
        settle.resolve(n);
      }
    }
    this.#pumpReads();
    if (at < data.byteLength) this.sock.unread(data.subarray(at));
  };

  /** Answers the receives in line after EOF or an error; reads while one waits. */
  #pumpReads(): void {
    while (this.#reads.length > 0 && this.#end !== undefined) {
      const read = this.#reads.shift()!;
      if (this.#end === null) read.settle.resolve(read.into === undefined ? kEmpty : 0);
      else read.settle.reject(this.#end);
    }
    const want = this.#reads.length > 0;
    if (want === this.#reading || this.sock.closed) return;
    if (!want) {
      this.sock.readStop();
      this.#reading = false;
      return;
    }
    try {
      this.sock.readStart(this.#onRead);
      this.#reading = true;
    } catch (err) {
      // Not readable now (ENOTCONN: not connected yet): the receives waiting fail.
      for (const read of this.#reads.splice(0)) read.settle.reject(err);
    }
  }

  // --- sending

  send(data: Uint8Array, settle: Settle<void>): () => void {
    const job: SendJob = { data, at: 0, withdrawn: false, settle };
    this.#sends.push(job);
    if (this.#sends.length === 1) this.#sendNext();
    return () => {
      job.withdrawn = true;
      // The head's chunk in flight completes first (its bytes are libuv's).
      if (this.#sends[0] !== job) removeFrom(this.#sends, job);
    };
  }

  #sendNext(): void {
    for (;;) {
      const job = this.#sends[0];
      if (job === undefined || this.sock.closed) return;
      if (job.withdrawn || job.at >= job.data.byteLength) {
        this.#sends.shift();
        job.settle.resolve();
        continue;
      }
      const end = Math.min(job.data.byteLength, job.at + kSendChunk);
      try {
        this.sock.write(job.data.subarray(job.at, end), (err) => this.#sent(job, end, err));
        return;
      } catch (err) {
        this.#sends.shift();
        job.settle.reject(err);
      }
    }
  }

  #sent(job: SendJob, end: number, err: UvError | null): void {
    // Closed meanwhile: the close hook has failed every send already.
    if (this.#sends[0] !== job) return;
    if (err !== null) {
      this.#sends.shift();
      job.settle.reject(failure(this.sock, err));
    } else job.at = end;
    this.#sendNext();
  }

  // --- accepting

  accept(settle: Settle<[StreamSock, Address | string]>): () => void {
    if (!this.#listening) {
      const onConnection = (err: UvError | null): void => this.#onConnection(err);
      if (this.sock instanceof TCP) this.sock.listen(kBacklog, onConnection);
      else this.sock.listen(kBacklog, onConnection);
      this.#listening = true;
    }
    this.#accepts.push(settle);
    this.#pumpAccepts();
    return () => removeFrom(this.#accepts, settle);
  }

  #onConnection(err: UvError | null): void {
    if (err !== null) this.#accepts.shift()?.reject(err);
    else this.#connections++;
    this.#pumpAccepts();
  }

  #pumpAccepts(): void {
    const listener = this.sock;
    while (this.#accepts.length > 0 && this.#connections > 0 && !listener.closed) {
      this.#connections--;
      let conn: StreamSock | undefined;
      let peer: Address | string;
      try {
        if (listener instanceof TCP) {
          const tcp = (conn = new TCP(listener.loop));
          listener.accept(tcp);
          const { address, port } = tcp.getpeername();
          peer = [address, port];
        } else {
          const pipe = (conn = new Pipe(listener.loop));
          listener.accept(pipe);
          peer = pipe.getpeername();
        }
      } catch (err) {
        conn?.close();
        // A connection reset before it was taken has no peer any more:
        // the next one is for this accept, as accept(2) would skip it.
        if (err instanceof UvError && err.code === 'ENOTCONN') continue;
        this.#accepts.shift()!.reject(err);
        continue;
      }
      this.#accepts.shift()!.resolve([conn, peer]);
    }
  }

  /** The caller closed the handle: every pending call fails; what the stream held goes with it. */
  #closed(): void {
    const err = handleClosed(this.sock);
    const pendingCalls = [...this.#reads, ...this.#sends];
    const accepts = this.#accepts;
    this.#reads = [];
    this.#sends = [];
    this.#accepts = [];
    this.#reading = false;
    this.#listening = false;
    for (const call of pendingCalls) call.settle.reject(err);
    for (const accept of accepts) accept.reject(err);
    states.delete(this.sock);
  }
}

/** A datagram receive waiting in line: up to `size` bytes, as a Buffer or into `into`. */
interface DatagramRead {
  size: number;
  into: Uint8Array | undefined;
  settle: Settle<[Buffer | number, Address]>;
}

type Received = [Buffer, UdpAddress] | UvError;

/** The sock operations' state of a UDP handle: its receives. */
class UdpState {
  readonly sock: UDP;
  // Datagrams (or errors) received and not taken yet: those of the batch
  // that was being read when the last receive was served.
  #queue: Received[] = [];
  #reads: DatagramRead[] = [];
  #receiving = false;

  constructor(sock: UDP) {
    this.sock = sock;
    sock[kOnClose] = () => this.#closed();
  }

  get active(): boolean {
    return this.#receiving;
  }

  read(size: number, into: Uint8Array | undefined, settle: DatagramRead['settle']): () => void {
    const read: DatagramRead = { size, into, settle };
    this.#reads.push(read);
    this.#pump();
    return () => {
      removeFrom(this.#reads, read);
      this.#pump();
    };
  }

  readonly #onRecv = (err: UvError | null, data: Buffer | null, from: UdpAddress | null): void => {
    this.#queue.push(err ?? [data!, from!]);
    this.#pump();
  };

  #pump(): void {
    while (this.#reads.length > 0 && this.#queue.length > 0) {
      const read = this.#reads.shift()!;
      const got = this.#queue.shift()!;
      if (got instanceof UvError) {
        read.settle.reject(got);
        continue;
      }
      // recvfrom(2)'s rule: what does not fit the buffer is lost.
      const [data, { address, port }] = got;
      const n = Math.min(read.size, data.byteLength);
      if (read.into === undefined) read.settle.resolve([data.subarray(0, n), [address, port]]);
      else {
        read.into.set(data.subarray(0, n));
        read.settle.resolve([n, [address, port]]);
      }
    }
    const want = this.#reads.length > 0;
    if (want === this.#receiving || this.sock.closed) return;
    if (!want) {
      this.sock.recvStop();
      this.#receiving = false;
      return;
    }
    try {
      this.sock.recvStart(this.#onRecv);
      this.#receiving = true;
    } catch (err) {
      for (const read of this.#reads.splice(0)) read.settle.reject(err);
    }
  }

  #closed(): void {
    const err = handleClosed(this.sock);
    const reads = this.#reads;
    this.#reads = [];
    this.#queue = [];
    this.#receiving = false;
    for (const read of reads) read.settle.reject(err);
    states.delete(this.sock);
  }
}

// The state of each handle these calls have used, shared by every loop.
const states = new WeakMap<Handle, StreamState | UdpState>();

function streamState(sock: StreamSock): StreamState {
  let state = states.get(sock) as StreamState | undefined;
  if (state === undefined) states.set(sock, (state = new StreamState(sock)));
  return state;
}

function udpState(sock: UDP): UdpState {
  let state = states.get(sock) as UdpState | undefined;
  if (state === undefined) states.set(sock, (state = new UdpState(sock)));
  return state;
}

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
  if (sock.active && states.get(sock)?.active !== true) {
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
  const seekable = (await regularFileSize(sock.loop, fd)) !== null;
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
