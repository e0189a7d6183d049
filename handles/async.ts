import { binding, type NativeAsync, type NativeAsyncSender } from './binding.js';
import { bindToContext } from './async-context.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import { Loop } from './loop.js';
import { UsageError } from '../errors/usage-error.js';
import { check } from './uv-error.js';
import { invalidArgType, validateFunction } from '../errors/validate.js';

export type AsyncCallback = (handle: Async) => void;

/** What crosses threads (postMessage, workerData) to reach an Async. */
export interface AsyncHandle {
  readonly asyncuvAsync: bigint;
}

/**
 * uv_async_t: wakes its loop from any thread. Sends coalesce: several
 * send() calls before the loop wakes run the callback once. Like libuv's,
 * it is active (and ref'd) from creation until closed.
 */
export class Async extends Handle<NativeAsync> {
  readonly #cb: AsyncCallback;

  constructor(cb: AsyncCallback);
  constructor(loop: Loop | undefined, cb: AsyncCallback);
  constructor(loopOrCb: Loop | AsyncCallback | undefined, maybeCb?: AsyncCallback) {
    const loop = typeof loopOrCb === 'function' ? undefined : loopOrCb;
    const cb = typeof loopOrCb === 'function' ? loopOrCb : maybeCb;
    validateFunction(cb, 'cb');
    const native = new binding.Async();
    super(loop, native, 'async_init', (l) => native.init(l));
    // Fired from any thread's send(), run in the context that created it.
    this.#cb = bindToContext(cb, 'asyncuv.Async')!;
    native.onevent = () => this.#cb(this);
  }

  /** Wakes the loop; the callback runs on the loop's thread. */
  send(): void {
    this.assertOpen();
    check(this[kNative].send(), 'async_send');
  }

  /** A value to postMessage to another thread, for Async.from(). */
  get handle(): AsyncHandle {
    this.assertOpen();
    return { asyncuvAsync: this[kNative].channelId() };
  }

  /** Rebuilds, in any thread, a sender for the Async behind `handle`. */
  static from(handle: AsyncHandle): AsyncSender {
    if (typeof handle !== 'object' || handle === null || typeof handle.asyncuvAsync !== 'bigint') {
      throw invalidArgType('handle', 'an Async handle', handle);
    }
    return new AsyncSender(new binding.AsyncSender(handle.asyncuvAsync));
  }
}

/** The thread-safe side of an Async, made by Async.from(handle). */
export class AsyncSender {
  readonly #native: NativeAsyncSender;

  /** @internal */
  constructor(native: NativeAsyncSender) {
    this.#native = native;
  }

  /** Wakes the owning loop. Throws ERR_HANDLE_CLOSED once the Async is closed. */
  send(): void {
    const status = this.#native.send();
    if (status < 0 && !this.#native.isOpen()) {
      throw new UsageError('ERR_HANDLE_CLOSED', 'The Async behind this sender is closed');
    }
    check(status, 'async_send');
  }

  /** False once the owning Async is closed. */
  get closed(): boolean {
    return !this.#native.isOpen();
  }
}
