// RESP2 and RESP3 replies encoded into one reusable Buffer: the replies to all the
// commands of one read go out as one transport write, with no Buffer, string
// or array per reply (a pipelined read of 16 GETs was 48 small Buffers and a
// Buffer.concat before; bench/PROFILE.md "RESP example").
//
// Rules: the bytes are only held between begin() and flush(), which writes
// them; transports copy what they cannot send at once (asyncio's write
// contract), so the scratch is reused by the next read, of any connection.
// Bulk values of kPassThrough bytes or more are not copied: they go to the
// transport as their own part of the same write.
//
// The two protocols differ here only where a reply has a RESP3 type of its
// own: the null (`_` for RESP2's `$-1`), maps (`%n` for a flat `*2n`
// array) and verbatim text (`=n` with a `txt:` prefix for a bulk string).
// The connection's protocol is given to begin() and changed by HELLO.
import type { Transport } from '../../loop/index.js';

const CR = 0x0d;
const LF = 0x0a;
/** Values this large are handed to the transport instead of copied. */
const kPassThrough = 16 * 1024;
/** A scratch grown past this by a large reply is dropped after its write. */
const kKeepScratch = 64 * 1024;
/** Below this, a JS loop copies faster than TypedArray#set's call. */
const kLoopCopy = 32;

export class ReplyWriter {
  #buf = Buffer.allocUnsafe(kKeepScratch / 4);
  #pos = 0;
  /** Where the bytes not yet in `#parts` start. */
  #mark = 0;
  /** Parts of a write with large values in it, else empty. */
  #parts: Uint8Array[] = [];

  /** RESP3 (after HELLO 3) instead of RESP2, for the replies until the next begin(). */
  resp3 = false;

  /** Starts the replies to one read of a connection that speaks RESP3 or RESP2. */
  begin(resp3: boolean): void {
    this.resp3 = resp3;
    this.#pos = 0;
    this.#mark = 0;
    if (this.#parts.length > 0) this.#parts = [];
  }

  /** Writes what was encoded since begin() as one transport write. */
  flush(transport: Transport): void {
    const pos = this.#pos;
    if (this.#parts.length > 0) {
      if (pos > this.#mark) this.#parts.push(this.#buf.subarray(this.#mark, pos));
      transport.writelines(this.#parts);
      this.#parts = [];
    } else if (pos > 0) {
      transport.write(this.#buf.subarray(0, pos));
    }
    this.#pos = 0;
    this.#mark = 0;
    if (this.#buf.length > kKeepScratch) this.#buf = Buffer.allocUnsafe(kKeepScratch / 4);
  }

  /** Bytes as they are: a reply encoded once (OK, PONG, NIL). */
  raw(bytes: Uint8Array): void {
    this.#copy(bytes, 0, bytes.length);
  }

  simple(text: string): void {
    this.#line(0x2b /* + */, text);
  }

  /** An error reply; CR and LF in it become spaces, as Redis does, so it stays one line. */
  error(text: string): void {
    this.#line(0x2d /* - */, text.replace(/[\r\n]/g, ' '));
  }

  integer(n: number | bigint): void {
    this.#header(0x3a /* : */, n);
  }

  arrayHeader(n: number): void {
    this.#header(0x2a /* * */, n);
  }

  /** A map of `pairs` keys and values (which follow): RESP2 has a flat array for it. */
  mapHeader(pairs: number): void {
    if (this.resp3) this.#header(0x25 /* % */, pairs);
    else this.#header(0x2a /* * */, pairs * 2);
  }

  /** A bulk string of `bytes[start, end)`, or the null (bulk string) for null. */
  bulk(bytes: Uint8Array | null, start = 0, end = bytes === null ? 0 : bytes.length): void {
    if (bytes === null) return this.#null();
    const n = end - start;
    this.#header(0x24 /* $ */, n);
    if (n < kPassThrough) this.#copy(bytes, start, end);
    else {
      // The header so far, then the value itself, then the rest from here.
      this.#parts.push(this.#buf.subarray(this.#mark, this.#pos), bytes.subarray(start, end));
      this.#mark = this.#pos;
    }
    this.#reserve(2);
    this.#buf[this.#pos++] = CR;
    this.#buf[this.#pos++] = LF;
  }

  /** RESP3's null, or RESP2's null bulk string. */
  #null(): void {
    if (this.resp3) this.#line(0x5f /* _ */, '');
    else this.#header(0x24 /* $ */, -1);
  }

  /** A bulk string of a JS string's UTF-8 bytes. */
  bulkText(text: string): void {
    this.bulk(Buffer.from(text));
  }

  /** Plain text (INFO's): RESP3's verbatim string of format `txt`, else a bulk string. */
  verbatim(text: string): void {
    if (!this.resp3) return this.bulkText(text);
    const bytes = Buffer.from(`txt:${text}`);
    this.#header(0x3d /* = */, bytes.length);
    this.#copy(bytes, 0, bytes.length);
    this.#reserve(2);
    this.#buf[this.#pos++] = CR;
    this.#buf[this.#pos++] = LF;
  }

  #line(type: number, text: string): void {
    const bytes = Buffer.byteLength(text);
    this.#reserve(bytes + 3);
    const buf = this.#buf;
    buf[this.#pos++] = type;
    this.#pos += buf.write(text, this.#pos);
    buf[this.#pos++] = CR;
    buf[this.#pos++] = LF;
  }

  /** `<type><n>\r\n`, the digits written here (no string for them). */
  #header(type: number, n: number | bigint): void {
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) return this.#line(type, String(n));
    this.#reserve(24);
    const buf = this.#buf;
    let pos = this.#pos;
    buf[pos++] = type;
    if (n < 0) {
      buf[pos++] = 0x2d; /* - */
      n = -n;
    }
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    for (let i = pos + digits - 1; i >= pos; i--) {
      buf[i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    pos += digits;
    buf[pos++] = CR;
    buf[pos++] = LF;
    this.#pos = pos;
  }

  #copy(bytes: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.#reserve(n);
    const buf = this.#buf;
    const pos = this.#pos;
    if (n < kLoopCopy) for (let i = 0; i < n; i++) buf[pos + i] = bytes[start + i]!;
    else buf.set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), pos);
    this.#pos = pos + n;
  }

  /** Room for `n` more bytes: a scratch twice as large, keeping what is in it. */
  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(grown, 0, this.#mark, this.#pos);
    // Parts already taken keep viewing the old scratch; the rest moves down.
    this.#pos -= this.#mark;
    this.#mark = 0;
    this.#buf = grown;
  }
}
