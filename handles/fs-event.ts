import { binding, type NativeHandle, type NativeLoop, type Status } from './binding.js';
import { bindToContext } from './async-context.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { UsageError } from '../errors/usage-error.js';
import { check, errno, errorOf, UvError } from './uv-error.js';
import {
  validateBoolean,
  validateFunction,
  validateOptions,
  validateString,
} from '../errors/validate.js';

export interface FSEventOptions {
  /**
   * Watch subdirectories too. Only macOS and Windows support it in libuv;
   * elsewhere (inotify, kqueue) starting a recursive watch throws UvError ENOSYS.
   */
  recursive?: boolean;
}

export interface FSEventKinds {
  /** The entry was created, removed or renamed. */
  rename: boolean;
  /** The entry's content or metadata changed. */
  change: boolean;
}

/**
 * `filename` is relative to the watched directory (the file's own name for
 * a file), or null if unknown (libuv passes none on some platforms; on
 * Linux it always names one). Declared as a method, whose parameters
 * TypeScript checks both ways, so that a callback written as API.md writes
 * it, `(err, filename: string, events) => ...`, is accepted too.
 */
export type FSEventCallback = {
  bivariant(
    err: UvError | null,
    filename: string | null,
    events: FSEventKinds,
    handle: FSEvent,
  ): void;
}['bivariant'];

interface NativeFSEvent extends NativeHandle {
  init(loop: NativeLoop): Status;
  start(path: string, flags: number): Status;
  stop(): Status;
  getPath(): string | Status;
}

const NativeFSEventCtor = binding['FSEvent'] as new () => NativeFSEvent;

// uv_fs_event and uv_fs_event_flags
const UV_RENAME = 1;
const UV_CHANGE = 2;
const UV_FS_EVENT_RECURSIVE = 4;

/** uv_fs_event_t: change notification for a file or a directory (inotify on Linux). */
export class FSEvent extends Handle<NativeFSEvent> {
  #cb: FSEventCallback | undefined;

  constructor(loop?: Loop) {
    const native = new NativeFSEventCtor();
    super(loop, native, 'fs_event_init', (l) => native.init(l));
    native.onevent = (status: number, filename: string | null, events: number) => {
      this.#cb?.(
        errorOf(status, 'fs_event'),
        filename,
        { rename: (events & UV_RENAME) !== 0, change: (events & UV_CHANGE) !== 0 },
        this,
      );
    };
  }

  start(path: string, cb: FSEventCallback): void;
  start(path: string, opts: FSEventOptions, cb: FSEventCallback): void;
  start(path: string, optsOrCb: FSEventOptions | FSEventCallback, maybeCb?: FSEventCallback): void {
    this.assertOpen();
    const opts = typeof optsOrCb === 'function' ? {} : optsOrCb;
    const cb = typeof optsOrCb === 'function' ? optsOrCb : maybeCb;
    validateString(path, 'path');
    if (path.includes('\0'))
      throw new UsageError(
        'ERR_INVALID_ARG_VALUE',
        'The "path" argument must not contain null bytes',
      );
    validateFunction(cb, 'cb');
    validateOptions(opts, 'opts');
    const recursive = opts?.recursive;
    let flags = 0;
    if (recursive !== undefined) {
      validateBoolean(recursive, 'opts.recursive');
      if (recursive) {
        // Other backends (inotify, kqueue) ignore the flag and would watch one level only.
        if (process.platform !== 'darwin' && process.platform !== 'win32') {
          throw new UvError(
            errno['ENOSYS']!,
            'fs_event_start',
            `(recursive watching is not supported on ${process.platform})`,
          );
        }
        flags |= UV_FS_EVENT_RECURSIVE;
      }
    }
    this.#cb = bindToContext(cb, 'asyncuv.FSEvent');
    check(this[kNative].start(path, flags), 'fs_event_start', `'${path}'`);
  }

  stop(): void {
    this.assertOpen();
    check(this[kNative].stop(), 'fs_event_stop');
  }

  /** The path being watched; UvError EINVAL when not started. */
  getPath(): string {
    this.assertOpen();
    const path = this[kNative].getPath();
    if (typeof path === 'number') throw new UvError(path, 'fs_event_getpath');
    return path;
  }
}
