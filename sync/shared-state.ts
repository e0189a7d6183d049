// How a primitive crosses threads. Its whole state lives in one
// SharedArrayBuffer; `handle` is a plain object holding that buffer, which
// postMessage and workerData share (not copy) with the other thread. The
// memory lives as long as any thread references the buffer, so there is no
// registry to leak and nothing to close.
import { UsageError } from '../errors/usage-error.js';
import { invalidArgType } from '../errors/validate.js';
import { selfId } from './thread.js';

/** What `primitive.handle` returns and `Primitive.from(handle)` takes. */
export interface SyncHandle<K extends string = string> {
  /** The kind of primitive, checked by from(). */
  readonly asyncuvSync: K;
  readonly buffer: SharedArrayBuffer;
}

/** Internal: a constructor argument that adopts an existing state buffer. */
export class Adopted {
  constructor(readonly buffer: SharedArrayBuffer) {}
}

/** This thread's id, or a clear error where the addon could not give one. */
export function threadIdOrThrow(): number {
  if (selfId === 0) {
    throw new UsageError(
      'ERR_SYNC_UNAVAILABLE',
      'asyncuv sync primitives: no thread id left in this process',
    );
  }
  return selfId;
}

/** A zeroed state buffer of `words` Int32 words. */
export function newState(words: number): SharedArrayBuffer {
  threadIdOrThrow();
  return new SharedArrayBuffer(words * 4);
}

/** Checks that `handle` is a `kind` handle with a buffer of `words` words. */
export function adopt(handle: unknown, kind: string, words: number): Adopted {
  const h = handle as Partial<SyncHandle> | null;
  if (
    typeof h !== 'object' ||
    h === null ||
    h.asyncuvSync !== kind ||
    !(h.buffer instanceof SharedArrayBuffer) ||
    h.buffer.byteLength < words * 4
  ) {
    throw invalidArgType('handle', `a ${kind} handle (from ${kind.toLowerCase()}.handle)`, handle);
  }
  threadIdOrThrow();
  return new Adopted(h.buffer);
}
