// An incremental RESP2 request parser: multibulk commands (`*2\r\n$3\r\nGET
// \r\n$1\r\nk\r\n`) and inline commands (`GET k\r\n`), as Redis accepts them.

export class RespProtocolError extends Error {}

export class RespParser {
  #buffer: Buffer = Buffer.alloc(0);

  /** Appends bytes; returns every complete command now available. */
  feed(data: Buffer): Buffer[][] {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    const commands: Buffer[][] = [];
    let pos = 0;
    for (;;) {
      const parsed = this.#parseOne(pos);
      if (parsed === null) break;
      pos = parsed.next;
      if (parsed.args.length > 0) commands.push(parsed.args);
    }
    this.#buffer = pos === this.#buffer.length ? Buffer.alloc(0) : this.#buffer.subarray(pos);
    return commands;
  }

  #line(pos: number): { text: string; next: number } | null {
    const end = this.#buffer.indexOf('\r\n', pos);
    if (end < 0) {
      if (this.#buffer.length - pos > 64 * 1024)
        throw new RespProtocolError('Protocol error: too big inline request');
      return null;
    }
    return { text: this.#buffer.toString('latin1', pos, end), next: end + 2 };
  }

  #parseOne(pos: number): { args: Buffer[]; next: number } | null {
    if (pos >= this.#buffer.length) return null;
    if (this.#buffer[pos] !== 0x2a /* '*' */) {
      const line = this.#line(pos);
      if (line === null) return null;
      const args = line.text
        .split(' ')
        .filter((s) => s.length > 0)
        .map((s) => Buffer.from(s, 'latin1'));
      return { args, next: line.next };
    }
    const header = this.#line(pos + 1);
    if (header === null) return null;
    const count = Number(header.text);
    if (!Number.isInteger(count) || count > 1024 * 1024)
      throw new RespProtocolError('Protocol error: invalid multibulk length');
    const args: Buffer[] = [];
    let at = header.next;
    for (let i = 0; i < count; i++) {
      if (at >= this.#buffer.length) return null;
      if (this.#buffer[at] !== 0x24 /* '$' */)
        throw new RespProtocolError("Protocol error: expected '$'");
      const len = this.#line(at + 1);
      if (len === null) return null;
      const n = Number(len.text);
      if (!Number.isInteger(n) || n < 0 || n > 512 * 1024 * 1024)
        throw new RespProtocolError('Protocol error: invalid bulk length');
      if (len.next + n + 2 > this.#buffer.length) return null;
      args.push(this.#buffer.subarray(len.next, len.next + n));
      at = len.next + n + 2;
    }
    return { args, next: at };
  }
}

/** RESP2 reply encoders. */
export const reply = {
  simple: (s: string): Buffer => Buffer.from(`+${s}\r\n`),
  error: (s: string): Buffer => Buffer.from(`-${s}\r\n`),
  integer: (n: number): Buffer => Buffer.from(`:${n}\r\n`),
  bulk: (b: Buffer | null): Buffer[] =>
    b === null
      ? [Buffer.from('$-1\r\n')]
      : [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')],
  arrayHeader: (n: number): Buffer => Buffer.from(`*${n}\r\n`),
};
