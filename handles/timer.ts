import { binding, type NativeTimer } from './binding.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { check } from './uv-error.js';
import { validateFunction, validateInteger } from './validate.js';

export type TimerCallback = (timer: Timer) => void;

/** uv_timer_t: fires after `timeoutMs`, then every `repeatMs` if non-zero. */
export class Timer extends Handle<NativeTimer> {
  #cb: TimerCallback | undefined;

  constructor(loop?: Loop) {
    const native = new binding.Timer();
    super(loop, native, 'timer_init', (l) => native.init(l));
    native.onevent = () => this.#cb?.(this);
  }

  start(cb: TimerCallback, timeoutMs: number, repeatMs = 0): void {
    this.assertOpen();
    validateFunction(cb, 'cb');
    validateInteger(timeoutMs, 'timeoutMs');
    validateInteger(repeatMs, 'repeatMs');
    this.#cb = cb;
    check(this[kNative].start(timeoutMs, repeatMs), 'timer_start');
  }

  stop(): void {
    this.assertOpen();
    this[kNative].stop();
  }

  /** Restarts a repeating timer with its repeat as the timeout (uv_timer_again). */
  again(): void {
    this.assertOpen();
    check(this[kNative].again(), 'timer_again');
  }

  get repeat(): number {
    this.assertOpen();
    return this[kNative].getRepeat();
  }

  set repeat(ms: number) {
    this.assertOpen();
    validateInteger(ms, 'repeat');
    this[kNative].setRepeat(ms);
  }

  /** Milliseconds until the timer fires; 0 if it is due or stopped. */
  get dueIn(): number {
    this.assertOpen();
    return this[kNative].getDueIn();
  }
}
