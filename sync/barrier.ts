// Barrier: `count` threads wait until all of them have arrived, then all go
// on; reusable for any number of rounds.
//
// State: the number arrived in this round, a generation number, the count.
// The last thread to arrive resets the arrivals, bumps the generation and
// wakes everybody; the others sleep while the generation is the one they
// arrived in, so a thread that races ahead into the next round can never be
// confused with a late one of the previous round.
import { validateInteger } from '../errors/validate.js';
import { SyncTimeoutError } from './errors.js';
import {
  abortReason,
  asyncOptions,
  deadlineOf,
  park,
  parkAsync,
  remainingUntil,
  type AsyncWaitOptions,
} from './park.js';
import { adopt, Adopted, newState, type SyncHandle } from './shared-state.js';

export type BarrierHandle = SyncHandle<'Barrier'>;

const kArrived = 0;
const kGeneration = 1;
const kCount = 2;
const kWords = 16;

export class Barrier {
  readonly #buffer: SharedArrayBuffer;
  readonly #s: Int32Array;
  readonly #count: number;

  constructor(count: number);
  /** @internal */
  constructor(adopted: Adopted);
  constructor(arg: number | Adopted) {
    if (arg instanceof Adopted) {
      this.#buffer = arg.buffer;
      this.#s = new Int32Array(this.#buffer, 0, 3);
    } else {
      validateInteger(arg, 'count', 1, 2 ** 31 - 1);
      this.#buffer = newState(kWords);
      this.#s = new Int32Array(this.#buffer, 0, 3);
      Atomics.store(this.#s, kCount, arg);
    }
    this.#count = Atomics.load(this.#s, kCount);
  }

  static from(handle: BarrierHandle): Barrier {
    return new Barrier(adopt(handle, 'Barrier', 3));
  }

  get handle(): BarrierHandle {
    return { asyncuvSync: 'Barrier', buffer: this.#buffer };
  }

  /** How many threads each round waits for. */
  get count(): number {
    return this.#count;
  }

  /**
   * Blocks until `count` threads have called wait() in this round. Returns
   * true in exactly one of them (the last to arrive), false in the others.
   */
  wait(): boolean {
    const generation = Atomics.load(this.#s, kGeneration);
    if (this.#arrive(generation)) return true;
    while (Atomics.load(this.#s, kGeneration) === generation)
      park(this.#s, kGeneration, generation, Infinity);
    return false;
  }

  /**
   * The async wait: never blocks the thread. An abort rejects with
   * `signal.reason`, and `timeoutMs` with a SyncTimeoutError (the options of
   * every async wait), but the arrival cannot be taken back: the round still
   * counts this thread, as with a thread that arrived and then went away.
   */
  async waitAsync(opts?: AsyncWaitOptions): Promise<boolean> {
    const { signal, timeoutMs } = asyncOptions(opts);
    if (signal?.aborted) throw abortReason(signal);
    const generation = Atomics.load(this.#s, kGeneration);
    if (this.#arrive(generation)) return true;
    const deadline = deadlineOf(timeoutMs);
    while (Atomics.load(this.#s, kGeneration) === generation) {
      const remaining = remainingUntil(deadline);
      if (remaining <= 0) throw new SyncTimeoutError('Barrier.waitAsync', timeoutMs);
      if ((await parkAsync(this.#s, kGeneration, generation, remaining, signal)) === 'aborted') {
        throw abortReason(signal);
      }
    }
    return false;
  }

  // Counts this thread in; true if it completed the round (and released it).
  #arrive(generation: number): boolean {
    if (Atomics.add(this.#s, kArrived, 1) + 1 < this.#count) return false;
    Atomics.store(this.#s, kArrived, 0);
    Atomics.store(this.#s, kGeneration, (generation + 1) | 0);
    Atomics.notify(this.#s, kGeneration);
    return true;
  }
}
