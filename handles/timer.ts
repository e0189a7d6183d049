import type { NativeTimer } from './binding.js';
import { type AsyncContext, captureContext } from './async-context.js';
import { Handle, loopArg } from './handle.js';
import { kNative, kTimeRenewed, kTimersFiring } from './internal.js';
import {
  TimerNative,
  closedTimer,
  heldTimer,
  kIndexMask,
  release,
  setActive,
  timer,
} from './timer-native.js';
import type { Loop } from './loop.js';
import { check } from './uv-error.js';
import { validateFunction, validateInteger } from '../errors/validate.js';

export type TimerCallback = (timer: Timer) => void;

// The loops whose time a start renewed in this job (kTimeRenewed).
let renewedLoops: Loop[] = [];

function forgetRenewed(): void {
  for (const loop of renewedLoops) loop[kTimeRenewed] = false;
  renewedLoops = [];
}

/**
 * The first Timer start of a job renews the loop's time
 * (native/loop_wrap.h, RenewTime), so that a timeout counts from the call
 * even when the embedded loop has not run for a while; the others of the
 * job share its time, and so Timers started together with one timeout are
 * due together, as in a libuv callback.
 */
function renewTime(loop: Loop): void {
  loop[kTimeRenewed] = true;
  if (renewedLoops.push(loop) === 1) queueMicrotask(forgetRenewed);
  loop[kNative].renewTime();
}

/** uv_timer_t: fires after `timeoutMs`, then every `repeatMs` if non-zero. */
export class Timer extends Handle<NativeTimer> {
  #cb: TimerCallback | undefined;
  // start()'s async context, entered for each call (async-context.ts).
  #context: AsyncContext | undefined;

  static {
    // The timers phase calls this once and it fires each due Timer, instead
    // of one call from C++ per Timer (native/timer_lists.h rule 9). A
    // callback that throws ends the call; the native side reports the error
    // and calls again for the Timers still due. The closing phase calls it
    // with a Timer's id to run its close callback (rule 10).
    const next = timer.next;
    check(
      timer.setDispatcher(function fireDue(closed?: number) {
        if (closed !== undefined) return closedTimer(closed);
        for (let id = next(); id !== undefined; id = next()) {
          if (id >= 0) {
            Timer.#fire(heldTimer(id).owner as Timer);
          } else {
            // A one-shot timer is inactive now: let it go unless its
            // callback starts or closes it.
            const native = heldTimer(-1 - id);
            setActive((-1 - id) & kIndexMask, false);
            release(native);
            Timer.#fire(native.owner as Timer);
          }
        }
      }),
      'timer_dispatcher',
    );
  }

  static #fire(timer: Timer): void {
    const loop = timer.loop;
    loop[kTimersFiring]++;
    try {
      const cb = timer.#cb;
      if (cb !== undefined) timer.#context!.runInAsyncScope(cb, undefined, timer);
    } finally {
      loop[kTimersFiring]--;
    }
  }

  constructor(loop?: Loop) {
    const l = loopArg(loop);
    // The native half's constructor runs the init.
    const native = new TimerNative(l[kNative]);
    super(l, native, 'timer_init', Math.min(native.slot, 0));
  }

  start(cb: TimerCallback, timeoutMs: number, repeatMs = 0): void {
    this.assertOpen();
    validateFunction(cb, 'cb');
    validateInteger(timeoutMs, 'timeoutMs');
    validateInteger(repeatMs, 'repeatMs');
    this.#cb = cb;
    this.#context = captureContext('asyncuv.Timer');
    // libuv 1.46 runs a timer started with 0 from a timer callback again in
    // the same pass (uv__run_timers loops while the earliest timer is due),
    // so a callback that restarts itself with 0 never let the loop go on:
    // the thread hung (found by the fuzz tests through the rel facade's
    // timeout(0, () => true)). From there, 0 waits 1 ms, as Node's setTimeout(0).
    const loop = this.loop;
    const due = timeoutMs === 0 && loop[kTimersFiring] > 0 ? 1 : timeoutMs;
    if (!loop[kTimeRenewed]) renewTime(loop);
    check(this[kNative].start(due, repeatMs), 'timer_start');
  }

  stop(): void {
    this.assertOpen();
    this[kNative].stop();
  }

  /** Restarts a repeating timer with its repeat as the timeout (uv_timer_again). */
  again(): void {
    this.assertOpen();
    const loop = this.loop;
    if (!loop[kTimeRenewed]) renewTime(loop);
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

  /**
   * Milliseconds until the due time of the last start, 0 once it has passed
   * or if the timer was never started. As uv_timer_get_due_in, a stopped
   * timer keeps the due time it had: check `active` to know whether a call
   * is coming.
   */
  get dueIn(): number {
    this.assertOpen();
    return this[kNative].getDueIn();
  }
}
