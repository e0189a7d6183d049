import type { NativeHandle, NativeLoop, Status } from './binding.js';
import { bindToContext } from './async-context.js';
import { kNative, kOnClose } from './internal.js';
import { Loop } from './loop.js';
import { UsageError } from '../errors/usage-error.js';
import { check } from './uv-error.js';
import { invalidArgType, validateFunction } from '../errors/validate.js';

/** Resolves the optional loop argument every handle constructor takes first. */
export function loopArg(loop: unknown): Loop {
  if (loop === undefined) return Loop.default();
  if (!(loop instanceof Loop)) throw invalidArgType('loop', 'a Loop', loop);
  if (loop.closed) throw new UsageError('ERR_LOOP_CLOSED', 'This loop is closed');
  return loop;
}

/** @internal Runs `handle`'s close hook (internal.ts's kOnClose), once. */
export function runCloseHook(handle: Handle): void {
  const hook = handle[kOnClose];
  if (hook === undefined) return;
  handle[kOnClose] = undefined;
  hook();
}

/**
 * What every libuv handle has. Lifetime: initialized -> closing -> closed.
 * `closed` is true from the moment close() is called; every other method
 * then throws ERR_HANDLE_CLOSED. An active handle is never garbage
 * collected; an inactive one nobody references is closed by the GC.
 */
export abstract class Handle<N extends NativeHandle = NativeHandle> {
  readonly loop: Loop;
  /** @internal */
  readonly [kNative]: N;
  /** @internal Runs once when the handle closes (internal.ts). */
  declare [kOnClose]: (() => void) | undefined;
  #closed = false;

  /**
   * `init` runs the native three-phase init, or is the status of the one the
   * native constructor already ran (Timer: one crossing instead of two, and
   * no closure per handle); the status is checked here.
   */
  protected constructor(
    loop: Loop | undefined,
    native: N,
    syscall: string,
    init: ((loop: NativeLoop) => Status) | Status,
  ) {
    this.loop = loopArg(loop);
    this[kNative] = native;
    native.owner = this;
    check(typeof init === 'number' ? init : init(this.loop[kNative]), syscall);
  }

  /**
   * Closes the handle. The callback runs once, after libuv has closed it.
   * A second call is a no-op.
   */
  close(cb?: () => void): void {
    if (this.closed) return;
    if (cb !== undefined) validateFunction(cb, 'cb');
    this.#closed = true;
    // The native side calls onclose only when told there is one to call.
    if (cb !== undefined) this[kNative].onclose = bindToContext(cb, 'asyncuv.HandleClose');
    this[kNative].close(cb !== undefined);
    runCloseHook(this);
  }

  ref(): void {
    this.assertOpen();
    this[kNative].ref();
  }

  unref(): void {
    this.assertOpen();
    this[kNative].unref();
  }

  /** Whether the handle keeps its loop alive when active; ERR_HANDLE_CLOSED once closed, as every method but close(). */
  hasRef(): boolean {
    this.assertOpen();
    return this[kNative].hasRef();
  }

  get active(): boolean {
    return !this.closed && this[kNative].isActive();
  }

  /** True once close() was called, or once the loop closed this handle. */
  get closed(): boolean {
    return this.#closed || this.loop.closed;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Throws ERR_HANDLE_CLOSED once close() was called. */
  protected assertOpen(): void {
    // loop.close() closes every handle natively without going through
    // close(), so the loop's state counts too.
    if (this.closed) {
      throw new UsageError('ERR_HANDLE_CLOSED', `This ${this.constructor.name} handle is closed`);
    }
  }
}
