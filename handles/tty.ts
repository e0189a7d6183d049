import { binding } from './binding.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { Stream, type NativeStream, type ReadCallback, type ReadIntoCallback } from './stream.js';
import { UsageError } from '../errors/usage-error.js';
import { UvError, check } from './uv-error.js';
import { validateBoolean, validateInteger } from '../errors/validate.js';

/** The native side of a TTY (native/tty_wrap.cc). */
interface NativeTty extends NativeStream {
  init(loop: unknown, fd: number, readable: boolean): number;
  setMode(mode: number): number;
  getWinsize(): WindowSize | number;
  isBlocking(): boolean;
}

interface NativeTtyClass {
  new (): NativeTty;
  resetMode(): number;
  isatty(fd: number): boolean;
}

/** libuv's terminal modes: line-buffered, raw input, or raw with I/O signals (Windows). */
export type TtyMode = 'normal' | 'raw' | 'io';

export interface WindowSize {
  columns: number;
  rows: number;
}

const modes: Record<TtyMode, number> = { normal: 0, raw: 1, io: 2 };

const NativeTtyCtor = binding['TTY'] as NativeTtyClass;

/**
 * uv_tty_t: a terminal. The fd must be a terminal (ENOTTY otherwise; use
 * Pipe or a file for the rest). libuv reopens the terminal, so making it
 * non-blocking does not affect other processes that share it. Closing a
 * handle that changed the mode puts the terminal back in normal mode.
 */
export class TTY extends Stream<NativeTty> {
  constructor(loop: Loop | undefined, fd: number, readable: boolean) {
    validateInteger(fd, 'fd', 0, 2 ** 31 - 1);
    validateBoolean(readable, 'readable');
    const native = new NativeTtyCtor();
    super(loop, native, 'tty_init', (l) => native.init(l, fd, readable));
  }

  /** True if `fd` is a terminal (what `new TTY` needs). */
  static isatty(fd: number): boolean {
    return NativeTtyCtor.isatty(fd);
  }

  /** Restores the mode terminals had before the first setMode of this process. */
  static resetMode(): void {
    check(NativeTtyCtor.resetMode(), 'tty_reset_mode');
  }

  setMode(mode: TtyMode): void {
    this.assertOpen();
    // hasOwn: inherited keys ('constructor') are not modes (they reached libuv as EINVAL).
    const m = typeof mode === 'string' && Object.hasOwn(modes, mode) ? modes[mode] : undefined;
    if (m === undefined) {
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        `The "mode" argument must be 'normal', 'raw' or 'io'. Received ${String(mode)}`,
      );
    }
    check(this[kNative].setMode(m), 'tty_set_mode');
  }

  override readStart(cb: ReadCallback): void {
    this.#assertReadable();
    super.readStart(cb);
  }

  override readStartInto(buffer: Uint8Array, cb: ReadIntoCallback): void {
    this.#assertReadable();
    super.readStartInto(buffer, cb);
  }

  /**
   * A terminal libuv could not reopen (a pty master) keeps a blocking fd,
   * and reading it blocked the whole thread in read(2) (found by the fuzz
   * sequences: readStartInto with a small buffer hung the process). Such a
   * terminal is read with Pipe.open(fd), which makes the fd non-blocking.
   */
  #assertReadable(): void {
    this.assertOpen();
    if (this[kNative].isBlocking()) {
      throw new UsageError(
        'ERR_TTY_BLOCKING',
        'This terminal fd could not be reopened non-blocking (a pty master?): reading it would block the thread. Read it with Pipe.open(fd) instead',
      );
    }
  }

  getWinsize(): WindowSize {
    this.assertOpen();
    const result = this[kNative].getWinsize();
    if (typeof result === 'number') throw new UvError(result, 'tty_get_winsize');
    return result;
  }
}
