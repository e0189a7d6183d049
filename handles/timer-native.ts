import { binding, type NativeLoop, type NativeTimer, type Status } from './binding.js';

/** The native Timer functions (native/timer_wrap.cc); each takes the slot number first. */
export interface TimerFunctions {
  /** The slot number (>= 0) of a new timer whose JS half is `object`, or a status. */
  create(loop: NativeLoop, object: object): number;
  start(slot: number, timeout: number, repeat: number): Status;
  stop(slot: number): Status;
  again(slot: number): Status;
  getRepeat(slot: number): number;
  setRepeat(slot: number, repeat: number): Status;
  getDueIn(slot: number): number;
  close(slot: number, notify: boolean): void;
  ref(slot: number): Status;
  unref(slot: number): Status;
  hasRef(slot: number): boolean;
  isActive(slot: number): boolean;
  fileno(slot: number): number;
  /** The native half of the next due Timer of the timers phase running now, or undefined. */
  next(): NativeTimer | undefined;
  /** The function the timers phase calls to fire its due Timers (a status). */
  setDispatcher(fire: () => void): Status;
}

export const timer = binding.timer as TimerFunctions;

/**
 * The native half of a Timer: a plain object holding the slot number of its
 * uv_timer_t (native/timer_wrap.cc, rule 1), with the methods every native
 * handle has on its prototype, so that a Timer costs no napi_wrap and no
 * unwrap per call. Its collection frees the slot.
 */
export class TimerNative implements NativeTimer {
  owner?: unknown;
  // On the prototype (handles/timer.ts), not an own property of each object.
  declare onevent?: (() => void) | undefined;
  declare onclose?: (() => void) | undefined;
  /** The slot number, or the negative status of a failed init. */
  readonly slot: number;

  constructor(loop: NativeLoop) {
    this.slot = timer.create(loop, this);
  }

  start(timeout: number, repeat: number): Status {
    return timer.start(this.slot, timeout, repeat);
  }
  stop(): Status {
    return timer.stop(this.slot);
  }
  again(): Status {
    return timer.again(this.slot);
  }
  getRepeat(): number {
    return timer.getRepeat(this.slot);
  }
  setRepeat(repeat: number): Status {
    return timer.setRepeat(this.slot, repeat);
  }
  getDueIn(): number {
    return timer.getDueIn(this.slot);
  }
  close(notify = false): void {
    timer.close(this.slot, notify);
  }
  ref(): Status {
    return timer.ref(this.slot);
  }
  unref(): Status {
    return timer.unref(this.slot);
  }
  hasRef(): boolean {
    return timer.hasRef(this.slot);
  }
  isActive(): boolean {
    return timer.isActive(this.slot);
  }
  fileno(): number {
    return timer.fileno(this.slot);
  }
}
