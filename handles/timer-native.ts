import { binding, type NativeLoop, type NativeTimer, type Status } from './binding.js';

/** The native Timer functions (native/timer_wrap.cc); each takes the Timer's id first. */
export interface TimerFunctions {
  /** The id (>= 0) of a new timer whose JS half is `object`, or a status. */
  create(loop: NativeLoop, object: object): number;
  start(slot: number, timeout: number, repeat: number): Status;
  stop(slot: number): Status;
  again(slot: number): Status;
  getRepeat(slot: number): number;
  setRepeat(slot: number, repeat: number): Status;
  getDueIn(slot: number): number;
  close(slot: number, notify: boolean): void;
  /** A finalizer on `object`, the Timer's JS half, reports its collection (a status). */
  watch(slot: number, object: object): Status;
  ref(slot: number): Status;
  unref(slot: number): Status;
  hasRef(slot: number): boolean;
  isActive(slot: number): boolean;
  fileno(slot: number): number;
  /**
   * The id of the next due Timer of the timers phase running now (`-1 - id`
   * for a one-shot timer, which is no longer active), or undefined.
   */
  next(): number | undefined;
  /**
   * The function the timers phase calls to fire its due Timers, and the
   * closing phase with a Timer's id to run its close callback (a status).
   */
  setDispatcher(fire: (closed?: number) => void): Status;
}

export const timer = binding.timer as TimerFunctions;

// A Timer's native half holds no reference to its JS half unless watched
// (timer_wrap.cc rules 1-2), so JS keeps its Timers, by the index part of
// their ids, in `held`: while native code may call back for them (started,
// closing with a close callback: handle_wrap.h rule 4), and from their
// creation or stop until the next sweep (a microtask). The sweep lets go of
// the Timers still open and inactive then, and has the native side watch
// them (a finalizer: collected, such a Timer is closed with no callback,
// uncounted, unlisted). A Timer made and started in one go, or closed from
// its own callback, costs no Node-API reference at all: one per Timer (a V8
// global handle) made every scavenge walk them, 6-8 ms pauses with 100k
// Timers started.
export const kIndexMask = 0xffffff; // timer_wrap.cc rule 2: ids are index + generation * 2^24
const held: (TimerNative | undefined)[] = [];
// The indexes to look at in the next sweep: numbers, not objects, so that
// the garbage collector has nothing to trace in them.
let pending = new Int32Array(1024);
// Per index: started as far as JS knows (kept strongly), watched by the
// native side (once for good): numbers beside the objects, not fields of
// each.
const kActive = 1;
const kWatched = 2;
let states = new Uint8Array(1024);

/** Marks the Timer at `index` started (kept) or not. */
export function setActive(index: number, active: boolean): void {
  states[index] = active ? states[index]! | kActive : states[index]! & ~kActive;
}
let pendingCount = 0;

function sweep(): void {
  const count = pendingCount;
  pendingCount = 0;
  for (let i = 0; i < count; i++) {
    const index = pending[i]!;
    const native = held[index];
    if (native === undefined || (states[index]! & kActive) !== 0) continue;
    if ((native.owner as { closed: boolean }).closed) continue;
    held[index] = undefined;
    if ((states[index]! & kWatched) === 0) {
      states[index] = kWatched;
      timer.watch(native.slot, native);
    }
  }
}

/** Keeps `native` until the next sweep, which lets it go if it is open and inactive then. */
export function release(native: TimerNative): void {
  if (pendingCount === pending.length) {
    const larger = new Int32Array(pending.length * 2);
    larger.set(pending);
    pending = larger;
  }
  pending[pendingCount++] = native.slot & kIndexMask;
  if (pendingCount === 1) queueMicrotask(sweep);
}

/** The native half of the Timer `id`, while it is kept strongly. */
export function heldTimer(id: number): TimerNative {
  return held[id & kIndexMask]!;
}

/** The closing phase ran the close of the Timer `id` (timer_lists.h rule 10). */
export function closedTimer(id: number): void {
  const index = id & kIndexMask;
  const native = held[index];
  held[index] = undefined;
  if (native?.slot === id) native.onclose?.();
}

/** The Timer `id` listed by the native loop.handles() (one JS holds), or undefined. */
export function timerById(id: number): unknown {
  const native = held[id & kIndexMask];
  return native?.slot === id ? native.owner : undefined;
}

/** `loop` closed every Timer it had: nothing calls back for them any more. */
export function releaseTimersOf(loop: unknown): void {
  for (let i = 0; i < held.length; i++) {
    const native = held[i];
    if (native !== undefined && (native.owner as { loop: unknown }).loop === loop) {
      held[i] = undefined;
    }
  }
}

/**
 * The native half of a Timer: a plain object holding the id of its slot
 * (native/timer_wrap.cc, rules 1-2), with the methods every native handle
 * has on its prototype, so that a Timer costs no napi_wrap, no unwrap per
 * call and no Node-API reference.
 */
export class TimerNative implements NativeTimer {
  owner?: unknown;
  declare onevent?: (() => void) | undefined;
  declare onclose?: (() => void) | undefined;
  /** The id, or the negative status of a failed init. */
  readonly slot: number;

  constructor(loop: NativeLoop) {
    const slot = timer.create(loop, this);
    this.slot = slot;
    if (slot >= 0) {
      const index = slot & kIndexMask;
      if (index >= states.length) {
        const larger = new Uint8Array(Math.max(states.length * 2, index + 1));
        larger.set(states);
        states = larger;
      }
      states[index] = 0;
      held[index] = this;
      release(this);
    }
  }

  start(timeout: number, repeat: number): Status {
    const rc = timer.start(this.slot, timeout, repeat);
    if (rc === 0) {
      const index = this.slot & kIndexMask;
      states[index] = states[index]! | kActive;
      held[index] = this;
    }
    return rc;
  }
  stop(): Status {
    const rc = timer.stop(this.slot);
    const index = this.slot & kIndexMask;
    if ((states[index]! & kActive) !== 0) {
      states[index] = states[index]! & ~kActive;
      release(this);
    }
    return rc;
  }
  again(): Status {
    const rc = timer.again(this.slot);
    if (rc === 0 && timer.isActive(this.slot)) {
      const index = this.slot & kIndexMask;
      states[index] = states[index]! | kActive;
      held[index] = this;
    }
    return rc;
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
    setActive(this.slot & kIndexMask, false);
    // Kept until its close callback has run (closedTimer).
    held[this.slot & kIndexMask] = notify ? this : undefined;
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
