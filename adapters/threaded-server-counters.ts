// The connection counters of a threaded server, in one SharedArrayBuffer:
// each thread counts the connections of its slot, the supervisor reads them
// all (stats()) without a message round trip. A slot is written by one
// thread at a time (its worker, or the supervisor once that worker is gone),
// so the counts are exact; Atomics make them visible across threads.

// Fields of a slot, in BigInt64 cells.
const kAccepted = 0;
const kOpen = 1;
// A slot per 64-byte cache line, so that two threads counting their own
// connections never write the same line.
const kStride = 8;

export interface SlotCounts {
  /** Connections accepted since the server started, by every thread of the slot. */
  accepted: number;
  /** Connections open now. */
  open: number;
}

export class ConnectionCounters {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: BigInt64Array;

  /** New counters for `slots` threads, or (given a buffer) another thread's view of them. */
  constructor(slots: number | SharedArrayBuffer) {
    this.buffer = typeof slots === 'number' ? new SharedArrayBuffer(slots * kStride * 8) : slots;
    this.#cells = new BigInt64Array(this.buffer);
  }

  /** A connection was accepted by the thread of `slot`. */
  opened(slot: number): void {
    Atomics.add(this.#cells, slot * kStride + kAccepted, 1n);
    Atomics.add(this.#cells, slot * kStride + kOpen, 1n);
  }

  /** A connection of the thread of `slot` ended. */
  closed(slot: number): void {
    Atomics.sub(this.#cells, slot * kStride + kOpen, 1n);
  }

  /** The thread of `slot` is gone, and its connections with it. */
  reset(slot: number): void {
    Atomics.store(this.#cells, slot * kStride + kOpen, 0n);
  }

  read(slot: number): SlotCounts {
    return {
      accepted: Number(Atomics.load(this.#cells, slot * kStride + kAccepted)),
      open: Number(Atomics.load(this.#cells, slot * kStride + kOpen)),
    };
  }
}
