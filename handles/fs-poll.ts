import { binding, type NativeHandle, type NativeLoop, type Status } from './binding.js';
import { bindToContext } from './async-context.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { Stats } from './stats.js';
import { UsageError } from '../errors/usage-error.js';
import { check, errorOf, UvError } from './uv-error.js';
import { validateFunction, validateInteger, validateString } from '../errors/validate.js';

/**
 * Called when the status of the path changes. On an error (the path does
 * not exist, ...) `curr` is all zeros; libuv reports a repeated error once.
 */
export type FSPollCallback = (
  err: UvError | null,
  prev: Stats,
  curr: Stats,
  handle: FSPoll,
) => void;

interface NativeFSPoll extends NativeHandle {
  init(loop: NativeLoop): Status;
  start(path: string, intervalMs: number): Status;
  stop(): Status;
  getPath(): string | Status;
}

const NativeFSPollCtor = binding['FSPoll'] as new () => NativeFSPoll;

/**
 * uv_fs_poll_t: stats a path every `intervalMs` and reports changes. Slower
 * than FSEvent but works on every file system, and on paths that do not
 * exist yet.
 */
export class FSPoll extends Handle<NativeFSPoll> {
  #cb: FSPollCallback | undefined;

  constructor(loop?: Loop) {
    const native = new NativeFSPollCtor();
    super(loop, native, 'fs_poll_init', (l) => native.init(l));
    native.onevent = (status: number, prev: Float64Array, curr: Float64Array) => {
      this.#cb?.(errorOf(status, 'fs_poll'), new Stats(prev), new Stats(curr), this);
    };
  }

  start(path: string, intervalMs: number, cb: FSPollCallback): void {
    this.assertOpen();
    validateString(path, 'path');
    if (path.includes('\0'))
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        'The "path" argument must not contain null bytes',
      );
    validateInteger(intervalMs, 'intervalMs', 1, 2 ** 32 - 1);
    validateFunction(cb, 'cb');
    this.#cb = bindToContext(cb, 'asyncuv.FSPoll');
    check(this[kNative].start(path, intervalMs), 'fs_poll_start', `'${path}'`);
  }

  stop(): void {
    this.assertOpen();
    check(this[kNative].stop(), 'fs_poll_stop');
  }

  /** The path being polled; UvError EINVAL when not started. */
  getPath(): string {
    this.assertOpen();
    const path = this[kNative].getPath();
    if (typeof path === 'number') throw new UvError(path, 'fs_poll_getpath');
    return path;
  }
}
