// Copying a record between a Queue's shared ring and a thread's own bytes.
//
// Buffer#copy (and TypedArray#set) make a typed array per call and copy into
// shared memory with V8's byte-wise relaxed memmove: about 1,300
// instructions for a 40-byte record, a third of a whole put + get. Records
// start 4-byte aligned in the ring and their slots are padded to 4 bytes, so
// a small record is copied as Int32 words by a plain loop that TurboFan
// compiles to moves (the tail of a record that is not a whole number of
// words goes byte by byte into the ring, so no stale bytes of this thread
// reach shared memory; out of the ring, a copy may write up to 3 bytes past
// the record into the thread's own buffer). Larger records, and bytes that
// do not start on a 4-byte boundary, take Buffer#copy.

/** Records up to this many bytes are copied word by word. */
const kWordCopyMax = 256;

/**
 * An Int32Array over the same memory as a Uint8Array, cached for the last
 * one asked (the codec's scratch and decode buffers change only when they
 * grow).
 */
export class WordView {
  #bytes: Uint8Array | undefined;
  #words: Int32Array | undefined;

  /** Words over `bytes`, or undefined if it does not start 4-byte aligned. */
  of(bytes: Uint8Array): Int32Array | undefined {
    if (bytes === this.#bytes) return this.#words;
    this.#bytes = bytes;
    this.#words =
      (bytes.byteOffset & 3) === 0
        ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2)
        : undefined;
    return this.#words;
  }
}

const align4 = (n: number): number => (n + 3) & ~3;

/** Copies `length` bytes of `from` (from its start) into the ring at byte `at` (4-aligned). */
export function copyToRing(
  from: Buffer,
  fromWords: Int32Array | undefined,
  length: number,
  ring: Buffer,
  ringWords: Int32Array,
  at: number,
): void {
  if (length <= kWordCopyMax && fromWords !== undefined) {
    const whole = length >> 2;
    const base = at >> 2;
    for (let i = 0; i < whole; i++) ringWords[base + i] = fromWords[i]!;
    for (let i = whole << 2; i < length; i++) ring[at + i] = from[i]!;
    return;
  }
  Buffer.prototype.copy.call(from, ring, at, 0, length);
}

/**
 * Copies `length` bytes of the ring at byte `at` (4-aligned) into the start
 * of `to`, which holds at least align4(length) bytes.
 */
export function copyFromRing(
  ring: Buffer,
  ringWords: Int32Array,
  at: number,
  length: number,
  to: Buffer,
  toWords: Int32Array | undefined,
): void {
  const n = align4(length) >> 2;
  if (length <= kWordCopyMax && toWords !== undefined && n <= toWords.length) {
    const base = at >> 2;
    for (let i = 0; i < n; i++) toWords[i] = ringWords[base + i]!;
    return;
  }
  ring.copy(to, 0, at, at + length);
}
