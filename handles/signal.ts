import { binding, type NativeSignal } from './binding.js';
import { bindToContext } from './async-context.js';
import { Handle } from './handle.js';
import { kNative } from './internal.js';
import type { Loop } from './loop.js';
import { check } from './uv-error.js';
import { toSignalNumber, validateFunction } from '../errors/validate.js';

export type SignalCallback = (signum: number, handle: Signal) => void;

/**
 * uv_signal_t. Several handles and loops may watch one signal, and Node's
 * own process.on(signal) keeps working beside them.
 */
export class Signal extends Handle<NativeSignal> {
  #cb: SignalCallback | undefined;
  #signum = 0;

  constructor(loop?: Loop) {
    const native = new binding.Signal();
    super(loop, native, 'signal_init', (l) => native.init(l));
    native.onevent = (signum: number) => this.#cb?.(signum, this);
  }

  /** Watches `signal`, a number or a name such as 'SIGUSR1'. */
  start(cb: SignalCallback, signal: number | string): void {
    this.assertOpen();
    validateFunction(cb, 'cb');
    const signum = toSignalNumber(signal);
    this.#cb = bindToContext(cb, 'asyncuv.Signal');
    check(this[kNative].start(signum), 'signal_start');
    this.#signum = signum;
  }

  stop(): void {
    this.assertOpen();
    this[kNative].stop();
    this.#signum = 0;
  }

  /** The signal being watched, 0 when stopped. */
  get signum(): number {
    return this.active ? this.#signum : 0;
  }
}
