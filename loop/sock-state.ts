// The per-handle state of the sock operations (loop/sock-ops.ts): a
// stream socket's queued receives, sends and accepts, a UDP socket's
// queued receives, and pending(), which every call's promise is made with.
// The rules these keep are sock-ops.ts's.
import { Buffer } from 'node:buffer';
import { UsageError } from '../errors/usage-error.js';
import type { Handle } from '../handles/handle.js';
import { kOnClose } from '../handles/internal.js';
import { Pipe } from '../handles/pipe.js';
import { TCP } from '../handles/tcp.js';
import { UDP, type UdpAddress } from '../handles/udp.js';
import { UvError } from '../handles/uv-error.js';
import { abortError } from './abort.js';
import { loopClosed } from './errors.js';
import type { Address } from './protocols.js';
import type { SockHost, StreamSock } from './sock-ops.js';
// Up to this much of a sendall is handed to libuv at a time.
const kSendChunk = 256 * 1024;
// sockAccept's listen(), as asyncio's create_server backlog.
const kBacklog = 100;
export const kEmpty = Buffer.alloc(0);

interface Settle<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function noop(): void {}

/**
 * A pending call: `start` begins it and returns what withdraws it. It
 * settles once; an abort of `signal`, or the loop's close, withdraws it
 * first, so that nothing is taken after. A signal aborted already rejects
 * at once, before anything starts.
 */
export function pending<T>(
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
export function failure(sock: Handle, err: UvError): Error {
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

export function streamState(sock: StreamSock): StreamState {
  let state = states.get(sock) as StreamState | undefined;
  if (state === undefined) states.set(sock, (state = new StreamState(sock)));
  return state;
}

export function udpState(sock: UDP): UdpState {
  let state = states.get(sock) as UdpState | undefined;
  if (state === undefined) states.set(sock, (state = new UdpState(sock)));
  return state;
}

/** Whether these calls are reading or listening on `sock` now (its activity is theirs). */
export function activeHere(sock: Handle): boolean {
  return states.get(sock)?.active === true;
}
