// The Queue's value codec. Values must arrive as structured clones, and
// v8.serialize (Node's wrapper around V8's ValueSerializer) costs about 6 us
// for a three-field object here, more than MessagePort spends on the whole
// message. So plain data (undefined, null, booleans, numbers, strings, dense
// arrays and plain objects, as a tree) is written by a small codec of our
// own, with the results structuredClone would give; anything else (Map, Set,
// Date, RegExp, BigInt, typed arrays, class instances, shared or cyclic
// references, errors, functions that must throw DataCloneError, very deep
// trees) falls back to v8.serialize for the whole value.
//
// Two knowing differences from structuredClone on the fast path: it does
// not check arrays for non-index properties (structuredClone copies them;
// checking costs an Object.keys per array, more than the rest of the
// encoding), and a holey array keeps its holes only through the fallback.
//
// Encoding goes into a per-thread scratch Buffer, decoding reads from one:
// no allocation per value besides the decoded value itself. The rules that
// keep that safe: encode()'s bytes are only valid until the next encode on
// the thread, so a caller that keeps them across an await takes ownCopy()
// (the next put may come from another task meanwhile); user code that runs
// in the middle of an encode (a getter) and encodes gets scratch state of
// its own; and decode() refuses a record that it did not read exactly to
// its end, so a record that is not what encode() wrote is never decoded
// from stale bytes into a plausible wrong value.
import { types } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import { UsageError } from '../errors/usage-error.js';

const kFormatFast = 1;
const kFormatV8 = 2;

const kUndefined = 0;
const kNull = 1;
const kFalse = 2;
const kTrue = 3;
const kInt32 = 4;
const kFloat64 = 5;
const kLatin1 = 6;
const kUtf8 = 7;
const kArray = 8;
const kObject = 9;

const kMaxDepth = 64;
// Containers the fast path tracks to spot shared or cyclic references; a
// bigger value goes to v8.serialize. A linear scan of a small array costs
// far less than a Set here (Set.prototype.clear reallocates its table).
const kMaxContainers = 256;

// Thrown inside the encoder to switch to v8.serialize; never escapes.
const kFallback = Symbol('fallback');
const { isProxy } = types;

let scratch: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
let view: DataView = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
let pos = 0;
const seen: object[] = new Array<object>(kMaxContainers).fill(Object.prototype);
let seenCount = 0;

function ensure(n: number): void {
  if (pos + n <= scratch.length) return;
  let size = scratch.length * 2;
  while (size < pos + n) size *= 2;
  const grown = Buffer.allocUnsafeSlow(size);
  scratch.copy(grown, 0, 0, pos);
  scratch = grown;
  view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
}

function writeString(s: string): void {
  const length = s.length;
  ensure(5 + length);
  const start = pos;
  scratch[pos] = kLatin1;
  view.setUint32(pos + 1, length, true);
  pos += 5;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      // Not one byte per char: UTF-8 instead (lone surrogates would not
      // survive UTF-8, so those fall back to V8's two-byte strings).
      if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) throw kFallback;
      pos = start;
      ensure(5 + length * 3);
      scratch[pos] = kUtf8;
      const n = scratch.write(s, pos + 5, 'utf8');
      view.setUint32(pos + 1, n, true);
      pos += 5 + n;
      return;
    }
    scratch[pos++] = c;
  }
}

function writeValue(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'undefined':
      ensure(1);
      scratch[pos++] = kUndefined;
      return;
    case 'boolean':
      ensure(1);
      scratch[pos++] = v ? kTrue : kFalse;
      return;
    case 'number':
      ensure(9);
      if ((v | 0) === v && !Object.is(v, -0)) {
        scratch[pos] = kInt32;
        view.setInt32(pos + 1, v, true);
        pos += 5;
      } else {
        scratch[pos] = kFloat64;
        view.setFloat64(pos + 1, v, true);
        pos += 9;
      }
      return;
    case 'string':
      writeString(v);
      return;
    case 'object':
      if (v === null) {
        ensure(1);
        scratch[pos++] = kNull;
        return;
      }
      writeObject(v, depth);
      return;
    default:
      throw kFallback;
  }
}

function writeObject(o: object, depth: number): void {
  if (depth > kMaxDepth || seenCount === kMaxContainers) throw kFallback;
  for (let i = 0; i < seenCount; i++) if (seen[i] === o) throw kFallback;
  seen[seenCount++] = o;
  // A Proxy is not cloneable (structuredClone and postMessage throw
  // DataCloneError); read through its traps it passed as a plain object
  // or array. The fallback's v8.serialize refuses it with ERR_DATA_CLONE.
  if (isProxy(o)) throw kFallback;
  const proto = Object.getPrototypeOf(o);
  if (Array.isArray(o)) {
    if (proto !== Array.prototype) throw kFallback;
    ensure(5);
    scratch[pos] = kArray;
    view.setUint32(pos + 1, o.length, true);
    pos += 5;
    for (let i = 0; i < o.length; i++) {
      const item: unknown = o[i];
      if (item === undefined && !(i in o)) throw kFallback; // a hole
      writeValue(item, depth + 1);
    }
    return;
  }
  if (proto !== Object.prototype && proto !== null) throw kFallback;
  const keys = Object.keys(o);
  ensure(5);
  scratch[pos] = kObject;
  view.setUint32(pos + 1, keys.length, true);
  pos += 5;
  for (const key of keys) {
    writeString(key);
    writeValue((o as Record<string, unknown>)[key], depth + 1);
  }
}

function serializeOrThrow(value: unknown): Buffer {
  try {
    return serialize(value);
  } catch (err) {
    // v8.serialize throws a plain Error; structuredClone a DataCloneError.
    const error = new UsageError('ERR_DATA_CLONE', (err as Error).message);
    error.name = 'DataCloneError';
    throw error;
  }
}

// True while encode() runs: a getter of the value (user code) may put
// another value, on any Queue, in the middle of it.
let encoding = false;

/**
 * Encodes a structured clone of `value`; returns the scratch Buffer and the
 * byte count, valid until the next encode on this thread. Throws a
 * UsageError ERR_DATA_CLONE (named DataCloneError) for uncloneable values.
 */
export function encode(value: unknown): { bytes: Buffer; length: number } {
  if (encoding) return encodeNested(value);
  encoding = true;
  pos = 0;
  ensure(1);
  scratch[pos++] = kFormatFast;
  try {
    writeValue(value, 0);
  } catch (err) {
    if (err !== kFallback) throw err;
    const bytes = serializeOrThrow(value);
    pos = 0;
    ensure(1 + bytes.length);
    scratch[pos++] = kFormatV8;
    bytes.copy(scratch, pos);
    pos += bytes.length;
  } finally {
    seenCount = 0;
    encoding = false;
  }
  return { bytes: scratch, length: pos };
}

// An encode() called while one is running (from a getter): runs in a fresh
// scratch Buffer, whose bytes it returns, and then puts back the outer
// encoding's buffer, position and containers seen.
function encodeNested(value: unknown): { bytes: Buffer; length: number } {
  const outer = { scratch, view, pos, seen: seen.slice(0, seenCount) };
  scratch = Buffer.allocUnsafeSlow(256);
  view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
  encoding = false;
  try {
    const inner = encode(value);
    return { bytes: inner.bytes, length: inner.length };
  } finally {
    ({ scratch, view, pos } = outer);
    seenCount = outer.seen.length;
    for (let i = 0; i < seenCount; i++) seen[i] = outer.seen[i]!;
    encoding = true;
  }
}

/**
 * The first `length` bytes of encode()'s result in a Buffer of the caller's
 * own, for a caller that holds them across an await. (Not Buffer#slice,
 * which makes a view of the same memory, as subarray does.)
 */
export function ownCopy(bytes: Buffer, length: number): Buffer {
  const copy = Buffer.allocUnsafe(length);
  bytes.copy(copy, 0, 0, length);
  return copy;
}

// Decoding state: the buffer being read and the read position.
let input: Buffer = Buffer.alloc(0);
let inView: DataView = new DataView(input.buffer);
let at = 0;

// Short strings repeat from value to value (property names above all), and
// building one from bytes, then internalizing it as a property name, costs
// more than the rest of a small object. So short one-byte strings are looked
// up in a small table by a hash of their bytes and compared in full.
const kCachedMax = 24;
const kCacheSlots = 1024;
const cache: Array<string | undefined> = new Array<string | undefined>(kCacheSlots).fill(undefined);

function readLatin1Short(length: number): string {
  let hash = length;
  for (let i = 0; i < length; i++) hash = (Math.imul(hash, 31) + input[at + i]!) | 0;
  const slot = (hash ^ (hash >>> 15)) & (kCacheSlots - 1);
  const cached = cache[slot];
  if (cached !== undefined && cached.length === length) {
    let i = 0;
    while (i < length && cached.charCodeAt(i) === input[at + i]) i++;
    if (i === length) return cached;
  }
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCharCode(input[at + i]!);
  cache[slot] = s;
  return s;
}

function readString(tag: number): string {
  const length = inView.getUint32(at, true);
  at += 4;
  let s: string;
  if (tag === kUtf8) {
    s = input.toString('utf8', at, at + length);
  } else if (length <= kCachedMax) {
    s = readLatin1Short(length);
  } else {
    s = input.toString('latin1', at, at + length);
  }
  at += length;
  return s;
}

function readValue(): unknown {
  const tag = input[at++]!;
  switch (tag) {
    case kUndefined:
      return undefined;
    case kNull:
      return null;
    case kFalse:
      return false;
    case kTrue:
      return true;
    case kInt32:
      at += 4;
      return inView.getInt32(at - 4, true);
    case kFloat64:
      at += 8;
      return inView.getFloat64(at - 8, true);
    case kLatin1:
    case kUtf8:
      return readString(tag);
    case kArray: {
      const length = inView.getUint32(at, true);
      at += 4;
      const a = new Array<unknown>(length);
      for (let i = 0; i < length; i++) a[i] = readValue();
      return a;
    }
    case kObject: {
      const count = inView.getUint32(at, true);
      at += 4;
      const o: Record<string, unknown> = {};
      for (let i = 0; i < count; i++) {
        const key = readString(input[at++]!);
        if (key === '__proto__') {
          // An own property, as structuredClone makes it, not the prototype.
          Object.defineProperty(o, key, {
            value: readValue(),
            writable: true,
            enumerable: true,
            configurable: true,
          });
        } else {
          o[key] = readValue();
        }
      }
      return o;
    }
    default:
      throw corrupt(`tag ${tag}`);
  }
}

let output: Buffer = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * A per-thread Buffer of at least `length` bytes to copy a record into for
 * decode(); valid until the next call on this thread.
 */
export function decodeBuffer(length: number): Buffer {
  if (output.length < length) output = Buffer.allocUnsafeSlow(Math.max(length, output.length * 2));
  return output;
}

/**
 * Decodes `length` bytes of `bytes` written by encode(). Bytes that encode()
 * did not write (shared memory written through a forged handle) throw a
 * UsageError ERR_QUEUE_CORRUPT.
 */
export function decode(bytes: Buffer, length: number): unknown {
  if (bytes[0] === kFormatV8) {
    try {
      return deserialize(bytes.subarray(1, length));
    } catch (err) {
      throw corrupt((err as Error).message);
    }
  }
  if (bytes !== input) {
    input = bytes;
    inView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  at = 1;
  const value = readValue();
  if (at !== length) throw corrupt(`${length} bytes, read ${at}`);
  return value;
}

/** The error for a record that is not what encode() wrote. */
export function corrupt(what: string): UsageError {
  return new UsageError(
    'ERR_QUEUE_CORRUPT',
    `A Queue record does not decode (${what}): its shared memory was not written by a Queue`,
  );
}
