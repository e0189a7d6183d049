// An incremental RESP2 request parser: multibulk commands (`*2\r\n$3\r\nGET
// \r\n$1\r\nk\r\n`) and inline commands (`GET k\r\n`), as Redis accepts them.
//
// It reads the bytes where they are: a command's arguments are byte ranges
// (`start(i)`, `end(i)`) of `buf`, handed to a CommandSink as soon as the
// command is complete, with no string, Buffer or array made per command.
// Rules:
// - `buf` and the ranges are valid only during `CommandSink.command`: a
//   sink keeps what it needs by copying (the protocol copies values).
// - A command split across reads is kept in a buffer of the parser's own,
//   which grows by doubling, and its parsing resumes where it stopped: a
//   large bulk string costs about two copies of its bytes, not one per read.
// - Numbers (counts, lengths) are read from the bytes when they are plain
//   digits; anything else goes through `Number()` of the text, so every
//   malformed header gets the error it always got.

export class RespProtocolError extends Error {}

/** Receives each complete command; returns false to stop parsing (QUIT). */
export interface CommandSink {
  command(cmd: RespParser): boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;
const kMaxLine = 64 * 1024;
const kMaxArgs = 1024 * 1024;
const kMaxBulk = 512 * 1024 * 1024;
/** A pending-bytes buffer grown past this is dropped once it is empty. */
const kKeepPending = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** Node's Buffer method behind toString('latin1'), in every version, not in @types/node. */
interface Latin1Slice {
  latin1Slice(start: number, end: number): string;
}

/** C's isspace(): what separates the words of an inline command in Redis. */
function isSpace(b: number | undefined): boolean {
  return b === 0x20 || (b !== undefined && b >= 0x09 && b <= 0x0d);
}

function hexValue(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** The byte a backslash escape in double quotes stands for (Redis's sdssplitargs). */
const ESCAPES: Record<number, number> = {
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09,
  0x62: 0x08,
  0x61: 0x07,
};

/** Position of the first CRLF at or after `from` in `buf[.., end)`, or -1. */
function findCrlf(buf: Buffer, from: number, end: number): number {
  for (let i = from; i < end - 1; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return -1;
}

/** The number `buf[start, end)` spells: digits by hand, anything else by Number(). */
function numberAt(buf: Buffer, start: number, end: number): number {
  let i = start;
  const negative = i < end && buf[i] === 0x2d; /* - */
  if (negative) i++;
  if (i === end || end - i > 15) return Number(buf.toString('latin1', start, end));
  let n = 0;
  for (; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return Number(buf.toString('latin1', start, end));
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

export class RespParser {
  /** The bytes the current command's ranges are in. */
  buf: Buffer = EMPTY;
  /** The current command's argument count. */
  argc = 0;
  // Argument i is buf[#ranges[2i], #ranges[2i + 1]).
  #ranges = new Int32Array(32);

  // A command not complete yet: its bytes from 0 to #len of #pending.
  #pending: Buffer = EMPTY;
  #len = 0;
  /** Arguments the multibulk command being parsed declared; -1 before its header. */
  #expected = -1;
  /** Where parsing resumes in the current command (its own start if -1 above). */
  #at = 0;
  /** The words of a quoted inline command, unquoted (their ranges point here). */
  #words: Buffer = EMPTY;

  start(i: number): number {
    return this.#ranges[2 * i]!;
  }

  end(i: number): number {
    return this.#ranges[2 * i + 1]!;
  }

  length(i: number): number {
    return this.#ranges[2 * i + 1]! - this.#ranges[2 * i]!;
  }

  /** Argument i as latin1 text (one char per byte). */
  text(i: number): string {
    // Buffer#latin1Slice is what toString('latin1', start, end) calls after
    // checking its arguments, which the ranges need not.
    return (this.buf as Buffer & Latin1Slice).latin1Slice(this.start(i), this.end(i));
  }

  /** Argument i as a view of `buf` (valid during the command only). */
  bytes(i: number): Buffer {
    return this.buf.subarray(this.start(i), this.end(i));
  }

  /** Every argument as views of `buf`, for the commands that are not on a hot path. */
  all(): Buffer[] {
    const args: Buffer[] = [];
    for (let i = 0; i < this.argc; i++) args.push(this.bytes(i));
    return args;
  }

  /**
   * Whether argument i is `upper`, ignoring ASCII case (`upper` is
   * uppercase letters, digits or '-': for these `b & 0xdf` folds only a-z).
   */
  is(i: number, upper: string): boolean {
    const start = this.start(i);
    const n = upper.length;
    if (this.end(i) - start !== n) return false;
    const buf = this.buf;
    for (let k = 0; k < n; k++) {
      const want = upper.charCodeAt(k);
      const b = buf[start + k]!;
      if (b !== want && (want < 0x41 || want > 0x5a || (b & 0xdf) !== want)) return false;
    }
    return true;
  }

  /**
   * Parses `data` after what is pending and hands every complete command to
   * `sink`, in order, until one returns false. Throws RespProtocolError for
   * malformed input (the commands before it have run).
   */
  feed(data: Buffer, sink: CommandSink): void {
    let buf = data;
    let end = data.length;
    if (this.#len > 0) {
      this.#append(data);
      buf = this.#pending;
      end = this.#len;
    }
    this.buf = buf;
    // `cmd` is where the current command starts; `at` where parsing resumes.
    let cmd = 0;
    let at = buf === data ? 0 : this.#at;
    for (;;) {
      if (this.#expected < 0) {
        cmd = at;
        if (at >= end) break;
        if (buf[at] !== 0x2a /* * */) {
          const next = this.#inline(buf, at, end);
          if (next < 0) break;
          cmd = at = next;
          // A quoted inline command's words are in #words, which #inline made `this.buf`.
          const stop = this.argc > 0 && !sink.command(this);
          this.buf = buf;
          if (stop) {
            cmd = at = end;
            break;
          }
          continue;
        }
        const crlf = findCrlf(buf, at + 1, end);
        if (crlf < 0) {
          tooLong(end - (at + 1));
          break;
        }
        const count = numberAt(buf, at + 1, crlf);
        if (!Number.isInteger(count) || count > kMaxArgs)
          throw new RespProtocolError('Protocol error: invalid multibulk length');
        at = crlf + 2;
        this.argc = 0;
        if (count > 0) this.#expected = count;
        continue;
      }
      const next = this.#bulks(buf, at, end);
      if (next < 0) {
        at = -next - 1;
        break;
      }
      cmd = at = next;
      this.#expected = -1;
      if (!sink.command(this)) {
        cmd = at = end;
        break;
      }
    }
    this.#keep(buf, data, cmd, at, end);
  }

  /**
   * Parses the bulk strings of the current command from `at`: the position
   * after them, or -(p + 1) with p where to resume when the bytes run out.
   */
  #bulks(buf: Buffer, at: number, end: number): number {
    while (this.argc < this.#expected) {
      if (at >= end) return -at - 1;
      if (buf[at] !== 0x24 /* $ */) {
        const got = String.fromCharCode(buf[at]!);
        throw new RespProtocolError(`Protocol error: expected '$', got '${got}'`);
      }
      const crlf = findCrlf(buf, at + 1, end);
      if (crlf < 0) {
        tooLong(end - (at + 1));
        return -at - 1;
      }
      const n = numberAt(buf, at + 1, crlf);
      if (!Number.isInteger(n) || n < 0 || n > kMaxBulk)
        throw new RespProtocolError('Protocol error: invalid bulk length');
      const start = crlf + 2;
      if (start + n + 2 > end) return -at - 1;
      this.#push(start, start + n);
      at = start + n + 2;
    }
    return at;
  }

  /**
   * An inline command at `at`: its words as arguments; the position after its
   * line end, or -1. As in Redis, the line ends at LF, with or without the CR
   * before it (what `nc` and telnet users type), and words are split at
   * whitespace, or quoted as Redis's sdssplitargs() reads them (#quoted).
   */
  #inline(buf: Buffer, at: number, end: number): number {
    const lf = buf.indexOf(LF, at);
    if (lf < 0 || lf >= end) {
      tooLong(end - at);
      return -1;
    }
    const stop = lf > at && buf[lf - 1] === CR ? lf - 1 : lf;
    this.argc = 0;
    let word = -1;
    for (let i = at; i < stop; i++) {
      const b = buf[i]!;
      if (b === DQUOTE || b === SQUOTE) {
        this.#quoted(buf, at, stop);
        return lf + 1;
      }
      if (isSpace(b)) {
        if (word >= 0) this.#push(word, i);
        word = -1;
      } else if (word < 0) word = i;
    }
    if (word >= 0) this.#push(word, stop);
    return lf + 1;
  }

  /**
   * The words of the line `buf[at, stop)` with quotes in it, unquoted into
   * #words (made `this.buf` for the sink), as sdssplitargs() does: "double
   * quotes" with \n \r \t \b \a \xHH and \<any> escapes, 'single
   * quotes' with \' only, and a closing quote followed by whitespace or the
   * end. Anything else is Redis's "unbalanced quotes" protocol error.
   */
  #quoted(buf: Buffer, at: number, stop: number): void {
    this.argc = 0;
    if (this.#words.length < stop - at) this.#words = Buffer.allocUnsafe(Math.max(256, stop - at));
    const out = this.#words;
    let n = 0;
    let i = at;
    for (;;) {
      while (i < stop && isSpace(buf[i])) i++;
      if (i >= stop) break;
      const start = n;
      let quote = 0;
      for (;;) {
        const b = buf[i];
        if (quote === 0) {
          if (i >= stop || isSpace(b)) break;
          if (b === DQUOTE || b === SQUOTE) quote = b;
          else out[n++] = b!;
          i++;
          continue;
        }
        if (i >= stop) throw new RespProtocolError('Protocol error: unbalanced quotes in request');
        if (b === quote) {
          // A closing quote must end the word.
          if (i + 1 < stop && !isSpace(buf[i + 1]))
            throw new RespProtocolError('Protocol error: unbalanced quotes in request');
          i++;
          break;
        }
        if (b === BACKSLASH && i + 1 < stop) {
          const next = buf[i + 1]!;
          if (quote === DQUOTE) {
            const hi = next === 0x78 /* x */ && i + 3 < stop ? hexValue(buf[i + 2]) : -1;
            const lo = hi >= 0 ? hexValue(buf[i + 3]) : -1;
            if (lo >= 0) {
              out[n++] = hi * 16 + lo;
              i += 4;
            } else {
              out[n++] = ESCAPES[next] ?? next;
              i += 2;
            }
            continue;
          }
          if (next === SQUOTE) {
            out[n++] = SQUOTE;
            i += 2;
            continue;
          }
        }
        out[n++] = b!;
        i++;
      }
      this.#push(start, n);
    }
    this.buf = out;
  }

  #push(start: number, end: number): void {
    const i = 2 * this.argc++;
    if (i + 2 > this.#ranges.length) {
      const grown = new Int32Array(this.#ranges.length * 2);
      grown.set(this.#ranges);
      this.#ranges = grown;
    }
    this.#ranges[i] = start;
    this.#ranges[i + 1] = end;
  }

  /**
   * After a feed: keeps the incomplete command `buf[cmd, end)` at the start
   * of #pending (its ranges and resume point moved with it), or nothing.
   */
  #keep(buf: Buffer, data: Buffer, cmd: number, at: number, end: number): void {
    this.buf = EMPTY;
    if (cmd >= end) {
      this.#len = 0;
      this.#expected = -1;
      if (this.#pending.length > kKeepPending) this.#pending = EMPTY;
      return;
    }
    const len = end - cmd;
    if (buf === data) {
      if (this.#pending.length < len) this.#pending = Buffer.allocUnsafe(Math.max(len * 2, 256));
      buf.copy(this.#pending, 0, cmd, end);
    } else if (cmd > 0) {
      buf.copyWithin(0, cmd, end);
    }
    // No room is reserved for the rest of a bulk string whose length is
    // known: a header is no promise of bytes (Redis's CVE-2021-32675), and
    // doubling as bytes arrive copies each byte about twice.
    this.#len = len;
    this.#at = at - cmd;
    if (cmd > 0) for (let i = 0; i < 2 * this.argc; i++) this.#ranges[i]! -= cmd;
  }

  #append(data: Buffer): void {
    const len = this.#len + data.length;
    if (len > this.#pending.length) this.#grow(Math.max(len, this.#pending.length * 2));
    data.copy(this.#pending, this.#len);
    this.#len = len;
  }

  #grow(size: number): void {
    const grown = Buffer.allocUnsafe(size);
    this.#pending.copy(grown, 0, 0, this.#len);
    this.#pending = grown;
  }
}

function tooLong(bytes: number): void {
  if (bytes > kMaxLine) throw new RespProtocolError('Protocol error: too big inline request');
}

/** Replies encoded once, for constants. */
export const reply = {
  simple: (s: string): Buffer => Buffer.from(`+${s}\r\n`),
  error: (s: string): Buffer => Buffer.from(`-${s}\r\n`),
};
