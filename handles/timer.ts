import { binding, type NativeTimer } from './binding.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { check } from './uv-error.js';
import { validateFunction, validateInteger } from '../errors/validate.js';

export type TimerCallback = (timer: Timer) => void;

// How many timer callbacks of each loop are running now (see start()).
const firing = new WeakMap<Loop, number>();

/** uv_timer_t: fires after `timeoutMs`, then every `repeatMs` if non-zero. */
export class Timer extends Handle<NativeTimer> {
  #cb: TimerCallback | undefined;

  constructor(loop?: Loop) {
    const native = new binding.Timer();
    super(loop, native, 'timer_init', (l) => native.init(l));
    native.onevent = () => {
      const loop = this.loop;
      firing.set(loop, (firing.get(loop) ?? 0) + 1);
      try {
        this.#cb?.(this);
      } finally {
        firing.set(loop, firing.get(loop)! - 1);
      }
    };
  }

  start(cb: TimerCallback, timeoutMs: number, repeatMs = 0): void {
    this.assertOpen();
    validateFunction(cb, 'cb');
    validateInteger(timeoutMs, 'timeoutMs');
    validateInteger(repeatMs, 'repeatMs');
    this.#cb = cb;
    // libuv 1.46 runs a timer started with 0 from a timer callback again in
    // the same pass (uv__run_timers loops while the earliest timer is due),
    // so a callback that restarts itself with 0 never let the loop go on:
    // the thread hung (found by the fuzz tests through the rel facade's
    // timeout(0, () => true)). From there, 0 waits 1 ms, as Node's setTimeout(0).
    const due = timeoutMs === 0 && (firing.get(this.loop) ?? 0) > 0 ? 1 : timeoutMs;
    check(this[kNative].start(due, repeatMs), 'timer_start');
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
