import type { NativeWatcher } from './binding.js';
import { type AsyncContext, captureContext } from './async-context.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { check } from './uv-error.js';
import { validateFunction } from '../errors/validate.js';

/**
 * Idle, Prepare and Check: callbacks at fixed points of every loop
 * iteration (libuv's loop-watcher handles). Prepare runs before the loop
 * polls for I/O, Check right after; an active Idle makes the poll not block.
 */
export abstract class LoopWatcher extends Handle<NativeWatcher> {
  #cb: ((handle: this) => void) | undefined;
  // start()'s async context, entered for each call (async-context.ts).
  #context: AsyncContext | undefined;
  readonly #kind: string;
  // The async_hooks type of start()'s context, made once per handle.
  readonly #contextType: string;

  protected constructor(loop: Loop | undefined, native: NativeWatcher, kind: string) {
    super(loop, native, `${kind}_init`, (l) => native.init(l));
    this.#kind = kind;
    this.#contextType = `asyncuv.${kind}`;
    native.onevent = () => {
      const cb = this.#cb;
      if (cb !== undefined) this.#context!.runInAsyncScope(cb, undefined, this);
    };
  }

  start(cb: (handle: this) => void): void {
    this.assertOpen();
    validateFunction(cb, 'cb');
    this.#cb = cb;
    this.#context = captureContext(this.#contextType);
    check(this[kNative].start(), `${this.#kind}_start`);
  }

  stop(): void {
    this.assertOpen();
    this[kNative].stop();
  }
}
