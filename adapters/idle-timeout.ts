// net.Socket's idle timeout (socket.setTimeout): an unref'd Node timer that
// activity pushes back; when it fires, the owner emits 'timeout'. The
// timer never keeps the process alive, as net.Socket's does not.
import { validateFunction, validateNumber } from '../errors/validate.js';

export class IdleTimeout {
  readonly #onIdle: () => void;
  // Once created, the timer is kept while the idle time stays the same:
  // node:http sets the keep-alive timeout after every response and turns
  // it off (0) at the next request, and a disarmed timer that still fires
  // into nothing costs less than a new timer per request. clear() drops it.
  #timer: NodeJS.Timeout | undefined;
  #timerMs = 0;
  #ms = 0;
  readonly #fire = (): void => {
    if (this.#ms !== 0) this.#onIdle();
  };

  constructor(onIdle: () => void) {
    this.#onIdle = onIdle;
  }

  /** The idle time in ms, 0 when off. */
  get ms(): number {
    return this.#ms;
  }

  /** Arms for `ms` of inactivity from now; 0 disarms. */
  set(ms: number): void {
    validateNumber(ms, 'msecs');
    // As net.Socket: beyond what a Node timer takes is the longest it takes.
    this.#ms = Math.min(Math.trunc(ms), 2 ** 31 - 1);
    if (this.#ms === 0) return;
    if (this.#timer !== undefined && this.#timerMs === this.#ms) {
      this.#timer.refresh();
      return;
    }
    this.#drop();
    this.#timerMs = this.#ms;
    this.#timer = setTimeout(this.#fire, this.#ms);
    this.#timer.unref();
  }

  /** Activity: the idle time starts again. */
  touch(): void {
    if (this.#ms !== 0) this.#timer?.refresh();
  }

  clear(): void {
    this.#ms = 0;
    this.#drop();
  }

  #drop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** net.Socket#setTimeout's callback argument: a 'timeout' listener, once. */
export function validateTimeoutCallback(
  callback: unknown,
): asserts callback is (() => void) | undefined {
  if (callback !== undefined) validateFunction(callback, 'callback');
}
