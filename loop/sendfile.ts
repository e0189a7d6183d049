// loop.sendfile (asyncio's loop.sendfile): a file's bytes out through a
// transport. The loop tries its zero-copy path first (UvEventLoop: the
// kernel's sendfile over a TCP or Unix socket transport), and falls back
// to reading the file in blocks and writing them (asyncio's
// _sendfile_fallback), which works over any stream transport, TLS too.
//
// The rules, asyncio's:
// - reading from the transport is paused while the file goes out and
//   resumed after (if it was reading), so the protocol sees no data in the
//   middle of it;
// - the fallback honours the write-buffer limits: it waits for
//   resumeWriting before each block, and the protocol is told afterwards
//   about any pause or resume it did not see meanwhile;
// - the call resolves with the bytes sent once the last block is handed to
//   the transport (not once the peer has it).
// What differs: the file's own position is not used or moved. Blocks are
// read at explicit offsets (pread), as Node's fs does given a position;
// asyncio seeks its file object, which Node has no call for. The file is
// read through libuv's fs on the loop's Loop (UvEventLoop's own,
// NodeEventLoop's Loop.default()), so its errors are UvErrors.
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType, validateInteger } from '../errors/validate.js';
import { fstatSync } from 'node:fs';
import * as fs from '../handles/fs.js';
import { UvError } from '../handles/uv-error.js';
import type { Loop } from '../handles/loop.js';
import { type AbortOptions, abortable, signalOf, throwIfAborted } from './abort.js';
import type { AnyProtocol, Protocol } from './protocols.js';
import type { Transport } from './transports.js';

/** What a file argument may be: an fd, or anything with one (fs.promises' FileHandle). */
export type SendfileFile = number | { readonly fd: number };

export interface SendfileOptions extends AbortOptions {
  /**
   * false: reject with SendfileNotAvailableError where the loop has no
   * zero-copy path for this transport, instead of reading and writing
   * blocks (asyncio's fallback=False). Default true.
   */
  fallback?: boolean | undefined;
}

/** loop.sendfile with `fallback: false` where only the fallback would do (asyncio's error of that name). */
export class SendfileNotAvailableError extends Error {
  readonly code = 'ERR_SENDFILE_NOT_AVAILABLE';

  constructor(message: string) {
    super(message);
    this.name = 'SendfileNotAvailableError';
  }
}

/** A checked sendfile request: the fd, where to start, how much (null: to the end). */
export interface SendfileRequest {
  fd: number;
  offset: number;
  count: number | null;
  signal: AbortSignal | undefined;
}

/** The file's fd: an integer fd or an object with one. */
function fileDescriptor(file: unknown): number {
  const fd = typeof file === 'object' && file !== null ? (file as { fd?: unknown }).fd : file;
  if (typeof fd !== 'number') throw invalidArgType('file', 'an fd or a FileHandle', file);
  // A closed FileHandle has fd -1.
  if (!Number.isInteger(fd) || fd < 0 || fd > 2 ** 31 - 1) {
    throw new UsageError('ERR_INVALID_ARG_VALUE', `file must be an open fd (got ${fd})`);
  }
  return fd;
}

/**
 * asyncio's checks, before anything is done: a transport that writes and is
 * not closing, an open file, an integer offset >= 0 and a count that is
 * null or a positive integer.
 */
export function sendfileRequest(
  transport: unknown,
  file: unknown,
  offset: unknown,
  count: unknown,
  opts: SendfileOptions | undefined,
): SendfileRequest {
  const t = transport as Partial<Transport> | null;
  if (
    typeof t?.write !== 'function' ||
    typeof t.setProtocol !== 'function' ||
    typeof t.pauseReading !== 'function'
  ) {
    throw invalidArgType('transport', 'a stream Transport', transport);
  }
  const request = fileRequest(file, offset, count, opts);
  if (t.isClosing?.() === true) {
    throw new UsageError('ERR_TRANSPORT_CLOSED', 'The transport is closing or closed');
  }
  return request;
}

/**
 * The checks of the file's side, shared with sockSendfile: an open file,
 * an integer offset >= 0, a count that is null or a positive integer, a
 * boolean fallback.
 */
export function fileRequest(
  file: unknown,
  offset: unknown,
  count: unknown,
  opts: SendfileOptions | undefined,
): SendfileRequest {
  const fd = fileDescriptor(file);
  validateInteger(offset, 'offset', 0);
  if (count !== null && count !== undefined) validateInteger(count, 'count', 1);
  const signal = signalOf(opts);
  if (opts?.fallback !== undefined && typeof opts.fallback !== 'boolean') {
    throw invalidArgType('fallback', 'a boolean', opts.fallback);
  }
  return { fd, offset, count: count ?? null, signal };
}

/**
 * The size of `fd`'s file; null if it is no regular file (only those have
 * offsets, and go through the kernel's sendfile). Answered at once, not
 * after an await: the zero-copy path refuses write() from the call on
 * (asyncio's empty waiter is set before its first await); fstat(2) of an
 * open fd does no I/O.
 */
export function regularFileSize(fd: number): number | null {
  let stats;
  try {
    stats = fstatSync(fd);
  } catch (err) {
    const { errno } = err as NodeJS.ErrnoException;
    throw typeof errno === 'number' ? new UvError(errno, 'fstat') : err;
  }
  return stats.isFile() ? stats.size : null;
}

const BLOCK = 64 * 1024;

/**
 * Stands in for the transport's protocol while the fallback writes
 * (asyncio's _SendfileFallbackProtocol): it tracks the write pauses the
 * blocks cause, and hands everything else to the protocol it replaced.
 */
class FallbackProtocol implements Protocol {
  readonly #transport: Transport;
  readonly #protocol: AnyProtocol;
  readonly #wasReading: boolean;
  readonly #wasPaused: boolean;
  #paused: boolean;
  #lost = false;
  #lostError: Error | null = null;
  #wake: (() => void) | undefined;

  constructor(transport: Transport, writingPaused: boolean) {
    this.#transport = transport;
    this.#protocol = transport.getProtocol();
    this.#wasReading = transport.isReading();
    this.#wasPaused = writingPaused;
    this.#paused = writingPaused;
    transport.pauseReading();
    transport.setProtocol(this);
  }

  pauseWriting(): void {
    this.#paused = true;
  }

  resumeWriting(): void {
    this.#paused = false;
    this.#wake?.();
  }

  // Reading is paused, but a transport may hold a read it had in hand.
  dataReceived(data: Buffer): void {
    (this.#protocol as Protocol).dataReceived?.(data);
  }

  eofReceived(): boolean | void {
    return this.#protocol.eofReceived?.();
  }

  connectionLost(err: Error | null): void {
    this.#lost = true;
    this.#lostError = err;
    this.#wake?.();
    this.#protocol.connectionLost?.(err);
  }

  /** Resolves once the transport takes more; rejects once it is gone, or on abort. */
  async drain(signal: AbortSignal | undefined): Promise<void> {
    while (this.#paused && !this.#lost) {
      await abortable<void>(
        signal,
        (resolve) => (this.#wake = resolve),
        () => (this.#wake = undefined),
      );
      this.#wake = undefined;
    }
    if (this.#lost || this.#transport.isClosing()) throw closedDuring(this.#lostError);
  }

  /** Puts the protocol back, resumes reading, and tells it what it missed. */
  restore(): void {
    if (this.#lost) return; // connectionLost went to the protocol already
    this.#transport.setProtocol(this.#protocol);
    if (this.#wasReading) this.#transport.resumeReading();
    if (this.#wasPaused && !this.#paused) this.#protocol.resumeWriting?.();
    if (!this.#wasPaused && this.#paused) this.#protocol.pauseWriting?.();
  }
}

/** What a sendfile rejects with when its transport closes under it. */
export function closedDuring(err: Error | null): Error {
  if (err !== null) return err;
  return new UsageError('ERR_TRANSPORT_CLOSED', 'The transport closed during sendfile');
}

/**
 * asyncio's _sendfile_fallback: blocks of up to 64 KiB read and written in
 * turn, waiting for resumeWriting while the transport is paused.
 * `writingPaused` is the transport's pause state now; `seekable`: the
 * file is a regular file (regularFileSize); `loop` reads the file.
 */
export async function sendfileFallback(
  loop: Loop,
  transport: Transport,
  request: SendfileRequest,
  writingPaused: boolean,
  seekable: boolean,
): Promise<number> {
  const { fd, offset, count, signal } = request;
  // A pipe or socket is read from where it is; only a file has offsets.
  if (!seekable && offset !== 0) {
    throw new UsageError(
      'ERR_INVALID_ARG_VALUE',
      'offset must be 0 for a file that is not seekable',
    );
  }
  throwIfAborted(signal);
  if (transport.isClosing()) throw closedDuring(null);
  const stand = new FallbackProtocol(transport, writingPaused);
  let sent = 0;
  try {
    for (;;) {
      const size = count === null ? BLOCK : Math.min(BLOCK, count - sent);
      if (size <= 0) return sent;
      // A fresh buffer per block: the transport may keep the last one queued.
      const block = Buffer.allocUnsafe(size);
      const n = await fs.read(loop, fd, block, 0, size, seekable ? offset + sent : null);
      throwIfAborted(signal);
      if (n === 0) return sent;
      await stand.drain(signal);
      transport.write(n === size ? block : block.subarray(0, n));
      sent += n;
    }
  } finally {
    stand.restore();
  }
}
