// net.Socket's idle timeout (socket.setTimeout): an unref'd Node timer that
// activity pushes back; when it fires, the owner emits 'timeout'. The
// timer never keeps the process alive, as net.Socket's does not.
import { validateFunction, validateNumber } from '../errors/validate.js';

export class IdleTimeout {
  readonly #onIdle: () => void;
  #timer: NodeJS.Timeout | undefined;
  #ms = 0;

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
    this.clear();
    // As net.Socket: beyond what a Node timer takes is the longest it takes.
    this.#ms = Math.min(Math.trunc(ms), 2 ** 31 - 1);
    if (this.#ms === 0) return;
    this.#timer = setTimeout(this.#onIdle, this.#ms);
    this.#timer.unref();
  }

  /** Activity: the idle time starts again. */
  touch(): void {
    this.#timer?.refresh();
  }

  clear(): void {
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
