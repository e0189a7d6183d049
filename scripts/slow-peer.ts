// Memory under a slow peer. Our side writes as fast as flow control lets it
// to a native reader that takes a little every few milliseconds (the C
// client's sink mode), or reads slowly itself (pauseReading, readStop)
// while the native client writes as fast as it can (source mode). In both
// directions the bytes that cannot move must wait in the kernel's socket
// buffers, not pile up in this process: the run samples RSS and
// external memory (where Buffers live) and reports how far they grew over the baseline.
//
// Used by test/reliability/slow-reader.test.ts (small totals) and
// scripts/slow-peer-main.ts (512 MiB).
import { Loop, TCP, UvEventLoop, type Protocol, type Transport } from '../index.js';
import { binding } from '../handles/binding.js';
import { sink, source, type SlowPeerReport } from '../bench/loadgen/echo-client.js';

const kChunk = 64 * 1024;
const kPeriod = 251;
/** The stream pattern of the C client: byte k is k mod 251. */
const pattern = Buffer.from(Array.from({ length: kChunk + kPeriod }, (_, k) => k % kPeriod));

function chunkAt(offset: number, left: number): Buffer {
  const start = offset % kPeriod;
  return pattern.subarray(start, start + Math.min(kChunk, left));
}

export interface MemoryFigures {
  /** Peak RSS minus the RSS before the run, bytes. */
  rssGrowth: number;
  /**
   * Peak growth of the memory this process holds, the figure memory bounds
   * apply to: RSS, except under AddressSanitizer (see heldMeasure).
   */
  heldGrowth: number;
  heldMeasure: HeldMeasure;
  /** Peak of external memory (Buffers included) minus its value before the run. */
  externalGrowth: number;
}

export type HeldMeasure = 'rss' | 'live heap under ASan';

// Only the ASan build has it (native/sanitize/sanitizer_stats.cc).
const { sanitizerAllocatedBytes } = binding as unknown as {
  sanitizerAllocatedBytes?: () => number;
};

/**
 * What bounds are checked against. Under ASan, RSS also holds the
 * quarantine (freed blocks kept unreused, up to 256 MiB), shadow memory and
 * redzones: it grew 76-80 MiB where the same run grows about 32 MiB without
 * ASan. There the held memory is what ASan's allocator counts in live
 * malloc() blocks (Node's Buffers and our write queues included) plus V8's
 * heap, which V8 maps itself.
 */
export const heldMeasure: HeldMeasure =
  sanitizerAllocatedBytes === undefined ? 'rss' : 'live heap under ASan';

function held(m: NodeJS.MemoryUsage): number {
  return sanitizerAllocatedBytes === undefined ? m.rss : sanitizerAllocatedBytes() + m.heapTotal;
}

export interface SlowPeerResult extends MemoryFigures {
  /** Bytes our side wrote or read and checked. */
  bytes: number;
  peer: SlowPeerReport;
  /** pauseWriting calls (transport writer) or waits on the write queue (handle writer). */
  pauses: number;
  seconds: number;
  /** Live handles on the private loop once everything closed. */
  liveHandles: Record<string, number>;
}

/** Samples memory every 10 ms from now until stop(). */
function memoryWatch(): { stop(): MemoryFigures } {
  globalThis.gc?.();
  const base = process.memoryUsage();
  const baseHeld = held(base);
  let rss = base.rss;
  let ext = base.external;
  let most = baseHeld;
  const sample = (): void => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    ext = Math.max(ext, m.external);
    most = Math.max(most, held(m));
  };
  const timer = setInterval(sample, 10);
  return {
    stop() {
      sample();
      clearInterval(timer);
      return {
        rssGrowth: rss - base.rss,
        heldGrowth: most - baseHeld,
        heldMeasure,
        externalGrowth: ext - base.external,
      };
    },
  };
}

async function drained(loop: Loop): Promise<Record<string, number>> {
  for (let i = 0; i < 400 && Object.keys(loop.handleCounts()).length > 0; i++)
    await new Promise((r) => setTimeout(r, 5));
  return loop.handleCounts();
}

function settled<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

export interface SlowReaderOptions {
  bytes: number;
  readSize: number;
  intervalMs: number;
  seconds?: number;
}

/** A Protocol that writes `total` bytes of the pattern, stopping at pauseWriting and going on at resumeWriting. */
class FastWriter implements Protocol {
  #t!: Transport;
  sent = 0;
  pauses = 0;
  #paused = false;
  readonly lost = settled<Error | null>();
  constructor(readonly total: number) {}

  connectionMade(t: Transport): void {
    this.#t = t;
    this.#pump();
  }

  #pump(): void {
    while (!this.#paused && this.sent < this.total) {
      const chunk = chunkAt(this.sent, this.total - this.sent);
      this.#t.write(chunk);
      this.sent += chunk.byteLength;
    }
    // close() flushes what is queued first.
    if (this.sent === this.total) this.#t.close();
  }

  pauseWriting(): void {
    this.pauses++;
    this.#paused = true;
  }

  resumeWriting(): void {
    this.#paused = false;
    this.#pump();
  }

  connectionLost(err: Error | null): void {
    this.lost.resolve(err);
  }
}

/** Our transport writes to a native slow reader. */
export async function transportWriter(o: SlowReaderOptions): Promise<SlowPeerResult> {
  const uvloop = new Loop();
  const loop = new UvEventLoop(uvloop);
  const writer = new FastWriter(o.bytes);
  const server = await loop.createServer(() => writer, '127.0.0.1', 0);
  const port = (server.sockets()[0] as { port: number }).port;
  const memory = memoryWatch();
  const start = Date.now();
  const peer = await sink({
    port,
    readSize: o.readSize,
    intervalMs: o.intervalMs,
    seconds: o.seconds ?? 120,
  });
  const err = await writer.lost.promise;
  const figures = memory.stop();
  server.close();
  await server.waitClosed();
  loop.close();
  const liveHandles = await drained(uvloop);
  uvloop.close();
  if (err !== null) throw err;
  return {
    ...figures,
    bytes: writer.sent,
    peer,
    pauses: writer.pauses,
    seconds: (Date.now() - start) / 1000,
    liveHandles,
  };
}

/** A TCP handle writes to a native slow reader, keeping at most 64 KiB in libuv's write queue. */
export async function handleWriter(o: SlowReaderOptions): Promise<SlowPeerResult> {
  const loop = new Loop();
  const server = new TCP(loop);
  server.bind('127.0.0.1', 0);
  let sent = 0;
  let pauses = 0;
  const done = settled<void>();
  server.listen(1, (listenErr) => {
    if (listenErr !== null) return done.reject(listenErr);
    const client = new TCP(loop);
    server.accept(client);
    // At most one chunk waits in libuv's queue beyond what the kernel took:
    // the handle-level equivalent of a high-water mark.
    const pump = (): void => {
      while (sent < o.bytes && client.writeQueueSize <= kChunk) {
        const chunk = chunkAt(sent, o.bytes - sent);
        sent += chunk.byteLength;
        client.write(chunk, onWritten);
      }
      if (sent < o.bytes) pauses++;
      else client.shutdown(() => client.close(() => done.resolve()));
    };
    let failed = false;
    const onWritten = (err: Error | null): void => {
      if (err !== null) {
        if (!failed) client.close(() => done.reject(err));
        failed = true;
        return;
      }
      // Refill once the queue fell well below the mark, not after every write.
      if (sent < o.bytes && client.writeQueueSize <= kChunk / 4) pump();
    };
    pump();
  });
  const memory = memoryWatch();
  const start = Date.now();
  const peer = await sink({
    port: server.getsockname().port,
    readSize: o.readSize,
    intervalMs: o.intervalMs,
    seconds: o.seconds ?? 120,
  });
  await done.promise;
  const figures = memory.stop();
  await new Promise<void>((r) => server.close(r));
  const liveHandles = await drained(loop);
  loop.close();
  return {
    ...figures,
    bytes: sent,
    peer,
    pauses,
    seconds: (Date.now() - start) / 1000,
    liveHandles,
  };
}

export interface SlowWriterOptions {
  bytes: number;
  intervalMs: number;
  seconds?: number;
}

/** Checks the pattern of what arrives and counts it. */
class PatternCheck {
  received = 0;
  mismatch = false;
  take(data: Uint8Array): void {
    // A read may be longer than one pattern chunk: compare chunk by chunk.
    for (let at = 0; at < data.byteLength; at += kChunk) {
      const piece = data.subarray(at, Math.min(at + kChunk, data.byteLength));
      const start = (this.received + at) % kPeriod;
      if (!pattern.subarray(start, start + piece.byteLength).equals(piece)) this.mismatch = true;
    }
    this.received += data.byteLength;
  }
}

/** Our transport is the slow reader: pauseReading after each read, resumeReading `intervalMs` later. */
export async function transportReader(o: SlowWriterOptions): Promise<SlowPeerResult> {
  const uvloop = new Loop();
  const loop = new UvEventLoop(uvloop);
  const check = new PatternCheck();
  const lost = settled<Error | null>();
  let pauses = 0;
  const protocol: Protocol = {
    connectionMade(t) {
      protocol.dataReceived = (data: Buffer) => {
        check.take(data);
        t.pauseReading();
        pauses++;
        loop.callLater(o.intervalMs / 1000, () => t.resumeReading());
      };
    },
    // EOF: close (the default), which the source waits for.
    connectionLost: (err) => lost.resolve(err),
  };
  const server = await loop.createServer(() => protocol, '127.0.0.1', 0);
  const port = (server.sockets()[0] as { port: number }).port;
  const memory = memoryWatch();
  const start = Date.now();
  const peer = await source({ port, bytes: o.bytes, seconds: o.seconds ?? 120 });
  const err = await lost.promise;
  const figures = memory.stop();
  server.close();
  await server.waitClosed();
  loop.close();
  const liveHandles = await drained(uvloop);
  uvloop.close();
  if (err !== null) throw err;
  if (check.mismatch) throw new Error('the bytes read differ from the pattern sent');
  return {
    ...figures,
    bytes: check.received,
    peer,
    pauses,
    seconds: (Date.now() - start) / 1000,
    liveHandles,
  };
}

/** A TCP handle is the slow reader: readStop after each read, readStart `intervalMs` later. */
export async function handleReader(o: SlowWriterOptions): Promise<SlowPeerResult> {
  const loop = new Loop();
  const server = new TCP(loop);
  server.bind('127.0.0.1', 0);
  const check = new PatternCheck();
  let pauses = 0;
  const done = settled<void>();
  server.listen(1, (listenErr) => {
    if (listenErr !== null) return done.reject(listenErr);
    const client = new TCP(loop);
    server.accept(client);
    const onRead = (err: Error | null, data: Buffer | null): void => {
      if (err !== null) return client.close(() => done.reject(err));
      if (data === null) return client.close(() => done.resolve());
      check.take(data);
      client.readStop();
      pauses++;
      setTimeout(() => client.readStart(onRead), o.intervalMs);
    };
    client.readStart(onRead);
  });
  const memory = memoryWatch();
  const start = Date.now();
  const peer = await source({
    port: server.getsockname().port,
    bytes: o.bytes,
    seconds: o.seconds ?? 120,
  });
  await done.promise;
  const figures = memory.stop();
  await new Promise<void>((r) => server.close(r));
  const liveHandles = await drained(loop);
  loop.close();
  if (check.mismatch) throw new Error('the bytes read differ from the pattern sent');
  return {
    ...figures,
    bytes: check.received,
    peer,
    pauses,
    seconds: (Date.now() - start) / 1000,
    liveHandles,
  };
}
