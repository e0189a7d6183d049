// A Redis-protocol (RESP2, and RESP3 after HELLO 3) server written once as an
// asyncio-style Protocol: it runs unchanged on UvEventLoop and on NodeEventLoop.
// Commands: PING, ECHO, SET (EX/PX/NX/XX/KEEPTTL), GET, DEL, INCR (keeps the
// expiry), EXISTS, MGET, TTL, PTTL, plus what clients send on connect: INFO (ioredis's ready check), HELLO
// (node-redis 6, ioredis 6 and `redis-cli -3` ask for RESP3; node-redis has
// no fallback to RESP2), CLIENT SETINFO / SETNAME / GETNAME / ID, SELECT 0, and the
// COMMAND/CONFIG/QUIT/DBSIZE replies redis-cli and redis-benchmark need.
// Pipelined requests are answered with one write per read, encoded into
// one shared Buffer (reply-writer.ts).
import type { Protocol, Transport } from '../../loop/index.js';
import { RespParser, RespProtocolError, reply, type CommandSink } from './resp-parser.js';
import { ReplyWriter } from './reply-writer.js';
import { INT64_MAX, parseInt64, smallInt } from './int64.js';
import { REDIS_VERSION, type ServerState, infoText } from './server-info.js';
import type { Store } from './store.js';

const OK = reply.simple('OK');
const PONG = reply.simple('PONG');
const NOT_AN_INTEGER = reply.error('ERR value is not an integer or out of range');
const INVALID_EXPIRE = reply.error("ERR invalid expire time in 'set' command");
const OVERFLOW = reply.error('ERR increment or decrement would overflow');
/** What redis-benchmark asks with CONFIG GET on connect (it warns without them): nothing persists. */
const PERSISTENCE = new Map([
  ['save', ''],
  ['appendonly', 'no'],
]);
const KNOWN_CLIENT = ['ID', 'GETNAME', 'SETNAME', 'SETINFO'];
const BAD_PROTOCOL_VERSION = 'ERR Protocol version is not an integer or out of range';
const BAD_CLIENT_NAME = reply.error(
  'ERR Client names cannot contain spaces, newlines or special characters.',
);

function upper(b: Buffer | undefined): string {
  return b === undefined ? '' : b.toString('latin1').toUpperCase();
}

/** A copy of `buf[start, end)` (the store keeps values past the read). */
function copyOf(buf: Buffer, start: number, end: number): Buffer {
  const n = end - start;
  const copy = Buffer.allocUnsafe(n);
  if (n < 32) for (let i = 0; i < n; i++) copy[i] = buf[start + i]!;
  else buf.copy(copy, 0, start, end);
  return copy;
}

// The commands by the length of their name, the frequent first.
const COMMANDS = ['GET', 'SET', 'PING', 'INCR', 'MGET', 'DEL', 'EXISTS', 'ECHO', 'QUIT']
  .concat(['DBSIZE', 'SELECT', 'INFO', 'HELLO', 'CLIENT', 'COMMAND', 'CONFIG', 'TTL', 'PTTL'])
  .reduce<string[][]>((byLength, name) => {
    (byLength[name.length] ??= []).push(name);
    return byLength;
  }, []);

/** The command's name as written here (uppercase), found without decoding it; or undefined. */
function commandName(p: RespParser): string | undefined {
  const candidates = COMMANDS[p.length(0)];
  if (candidates !== undefined) for (const name of candidates) if (p.is(0, name)) return name;
  return undefined;
}

function wrongArgs(cmd: string): string {
  return `ERR wrong number of arguments for '${cmd.toLowerCase()}' command`;
}

/** Redis's reply to a command it does not know: the name and the first 128 bytes of arguments. */
function unknownCommand(args: Buffer[]): string {
  let quoted = '';
  for (let i = 1; i < args.length && quoted.length < 128; i++)
    quoted += `'${args[i]!.toString('latin1', 0, 128 - quoted.length)}' `;
  const name = args[0]!.toString('latin1', 0, 128);
  return `ERR unknown command '${name}', with args beginning with: ${quoted}`;
}

/**
 * SET's EX/PX argument in milliseconds, or Redis's error reply: not an
 * integer, or not positive, or past the 64-bit clock once added to now.
 */
function expireMs(unit: 'EX' | 'PX', text: string): number | Buffer {
  const small = smallInt(text);
  if (small <= 0) return INVALID_EXPIRE;
  if (small > 0) return unit === 'EX' ? small * 1000 : small;
  const v = parseInt64(text);
  if (v === undefined) return NOT_AN_INTEGER;
  if (v <= 0n || (unit === 'EX' && v > INT64_MAX / 1000n)) return INVALID_EXPIRE;
  const ms = unit === 'EX' ? v * 1000n : v;
  return ms + BigInt(Date.now()) > INT64_MAX ? INVALID_EXPIRE : Number(ms);
}

/** The replies of every connection on this thread: each read's are written before the next. */
const out = new ReplyWriter();

export class RespProtocol implements Protocol, CommandSink {
  readonly #store: Store;
  readonly #state: ServerState;
  readonly #parser = new RespParser();
  #transport: Transport | undefined;
  #id = 0;
  #name: Buffer | null = null;
  /** The connection speaks RESP3: HELLO 3 switched it (HELLO 2 switches back). */
  #resp3 = false;
  /** QUIT or a protocol error: the transport closes after this read's replies. */
  #quit = false;

  constructor(store: Store, state: ServerState) {
    this.#store = store;
    this.#state = state;
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    this.#id = this.#state.nextClientId();
    this.#state.clients++;
  }

  connectionLost(): void {
    this.#state.clients--;
  }

  dataReceived(data: Buffer): void {
    out.begin(this.#resp3);
    try {
      this.#parser.feed(data, this);
    } catch (err) {
      if (!(err instanceof RespProtocolError)) throw err;
      // The replies to the commands before the malformed one go first.
      out.error(`ERR ${err.message}`);
      this.#quit = true;
    }
    out.flush(this.#transport!);
    if (this.#quit) this.#transport!.close();
  }

  /** Runs one parsed command (the parser's CommandSink); false after QUIT. */
  command(p: RespParser): boolean {
    const store = this.#store;
    const n = p.argc;
    const cmd = commandName(p);
    switch (cmd) {
      case 'GET':
        if (n !== 2) out.error(wrongArgs(cmd));
        else out.bulk(store.get(p.text(1)));
        break;
      case 'SET':
        this.#set(p);
        break;
      case 'PING':
        if (n > 2) out.error(wrongArgs(cmd));
        else if (n === 2) out.bulk(p.buf, p.start(1), p.end(1));
        else out.raw(PONG);
        break;
      case 'ECHO':
        if (n !== 2) out.error(wrongArgs(cmd));
        else out.bulk(p.buf, p.start(1), p.end(1));
        break;
      case 'DEL':
      case 'EXISTS': {
        if (n < 2) {
          out.error(wrongArgs(cmd));
          break;
        }
        let count = 0;
        for (let i = 1; i < n; i++) {
          const key = p.text(i);
          if (cmd === 'DEL' ? store.delete(key) : store.has(key)) count++;
        }
        out.integer(count);
        break;
      }
      case 'INCR':
        if (n !== 2) out.error(wrongArgs(cmd));
        else this.#incr(p.text(1));
        break;
      case 'MGET':
        if (n < 2) {
          out.error(wrongArgs(cmd));
          break;
        }
        out.arrayHeader(n - 1);
        for (let i = 1; i < n; i++) out.bulk(store.get(p.text(i)));
        break;
      case 'QUIT':
        out.raw(OK);
        this.#quit = true;
        return false;
      default:
        this.#other(cmd, p.all());
    }
    return true;
  }

  /** INCR on Redis's signed 64-bit integers; up to 15 digits without a BigInt. */
  #incr(key: string): void {
    const current = this.#store.get(key);
    const text = current === null ? '0' : current.toString('latin1');
    let next: number | bigint = smallInt(text) + 1;
    if (Number.isNaN(next)) {
      const value = parseInt64(text);
      if (value === undefined) return out.raw(NOT_AN_INTEGER);
      if (value === INT64_MAX) return out.raw(OVERFLOW);
      next = value + 1n;
    }
    this.#store.replace(key, Buffer.from(String(next)));
    out.integer(next);
  }

  /** The commands that are not on a hot path, on the arguments as Buffers. */
  #other(cmd: string | undefined, args: Buffer[]): void {
    const n = args.length;
    switch (cmd) {
      case 'TTL':
      case 'PTTL': {
        if (n !== 2) return out.error(wrongArgs(cmd));
        const ms = this.#store.pttl(args[1]!.toString('latin1'));
        out.integer(ms < 0 || cmd === 'PTTL' ? ms : Math.round(ms / 1000));
        return;
      }
      case 'DBSIZE':
        if (n !== 1) out.error(wrongArgs(cmd));
        else out.integer(this.#store.size);
        return;
      case 'SELECT': {
        // One keyspace: database 0 (a Redis server with `databases 1`).
        const index = args[1]?.toString('latin1') ?? '';
        if (n !== 2) out.error(wrongArgs(cmd));
        else if (!/^-?\d+$/.test(index)) out.raw(NOT_AN_INTEGER);
        else if (Number(index) === 0) out.raw(OK);
        else out.error('ERR DB index is out of range');
        return;
      }
      case 'INFO': {
        const local = this.#transport?.getExtraInfo('sockname');
        const port = Array.isArray(local) ? local[1] : 0;
        out.verbatim(infoText(this.#state, this.#store, port, args[1]?.toString('latin1')));
        return;
      }
      case 'HELLO':
        return this.#hello(args);
      case 'CLIENT':
        return this.#client(args);
      case 'CONFIG': {
        const param = n === 3 && upper(args[1]) === 'GET' ? upper(args[2]).toLowerCase() : '';
        const value = PERSISTENCE.get(param);
        if (value === undefined) out.mapHeader(0);
        else {
          out.mapHeader(1);
          out.bulkText(param);
          out.bulkText(value);
        }
        return;
      }
      case 'COMMAND':
        // redis-cli asks COMMAND DOCS when it reads stdin: no data (a map in Redis).
        if (upper(args[1]) === 'DOCS') out.mapHeader(0);
        else out.arrayHeader(0);
        return;
      default:
        out.error(unknownCommand(args));
    }
  }

  /**
   * HELLO [protover [SETNAME name]]: 2 or 3 switch the connection's protocol,
   * from this reply on (as in Redis); no version keeps it; others are NOPROTO.
   */
  #hello(args: Buffer[]): void {
    const fail = (message: string): void => out.error(message);
    let resp3 = this.#resp3;
    if (args.length >= 2) {
      const version = args[1]!.toString('latin1');
      if (!/^\d+$/.test(version)) return fail(BAD_PROTOCOL_VERSION);
      if (version !== '2' && version !== '3') return fail('NOPROTO unsupported protocol version');
      resp3 = version === '3';
    }
    for (let i = 2; i < args.length; i++) {
      const opt = upper(args[i]);
      if (opt === 'SETNAME' && i + 1 < args.length) this.#name = Buffer.from(args[++i]!);
      else if (opt === 'AUTH') return fail('ERR this server has no authentication');
      else return fail(`ERR Syntax error in HELLO option '${args[i]!.toString('latin1')}'`);
    }
    this.#resp3 = out.resp3 = resp3;
    const fields: Array<[string, string | number | null]> = [
      ['server', 'redis'],
      ['version', REDIS_VERSION],
      ['proto', resp3 ? 3 : 2],
      ['id', this.#id],
      ['mode', 'standalone'],
      ['role', 'master'],
      ['modules', null],
    ];
    out.mapHeader(fields.length);
    for (const [key, value] of fields) {
      out.bulkText(key);
      if (typeof value === 'string') out.bulkText(value);
      else if (typeof value === 'number') out.integer(value);
      else out.arrayHeader(0);
    }
  }

  /** CLIENT SETINFO / SETNAME / GETNAME / ID: what client libraries send on connect. */
  #client(args: Buffer[]): void {
    const sub = upper(args[1]);
    const n = args.length;
    const text = (i: number): string => args[i]!.toString('latin1');
    if (sub === 'ID' && n === 2) out.integer(this.#id);
    else if (sub === 'GETNAME' && n === 2) out.bulk(this.#name);
    else if (sub === 'SETNAME' && n === 3) {
      // Redis refuses names with spaces, newlines or other control characters.
      // eslint-disable-next-line no-control-regex
      if (/[\x00-\x20\x7f]/.test(text(2))) out.raw(BAD_CLIENT_NAME);
      else {
        this.#name = args[2]!.length === 0 ? null : Buffer.from(args[2]!);
        out.raw(OK);
      }
    } else if (sub === 'SETINFO' && n === 4) {
      const known = ['LIB-NAME', 'LIB-VER'].includes(upper(args[2]));
      if (known) out.raw(OK);
      else out.error(`ERR Unrecognized option '${text(2)}'`);
    } else if (n < 2) out.error(wrongArgs('CLIENT'));
    else if (KNOWN_CLIENT.includes(sub)) out.error(wrongArgs(`CLIENT|${sub}`));
    else out.error(`ERR unknown subcommand '${text(1)}'. Try CLIENT HELP.`);
  }

  #set(p: RespParser): void {
    const n = p.argc;
    if (n < 3) return out.error(wrongArgs('SET'));
    let unit: 'EX' | 'PX' | undefined;
    let expire = '';
    let nx = false;
    let xx = false;
    let keepTtl = false;
    // As Redis: NX with XX, or two of EX, PX and KEEPTTL, is a syntax error.
    for (let i = 3; i < n; i++) {
      const opt = p.text(i).toUpperCase();
      if (opt === 'NX' && !xx) nx = true;
      else if (opt === 'XX' && !nx) xx = true;
      else if (opt === 'KEEPTTL' && unit === undefined) keepTtl = true;
      else if ((opt === 'EX' || opt === 'PX') && i + 1 < n && unit === undefined && !keepTtl) {
        unit = opt;
        expire = p.text(++i);
      } else return out.error('ERR syntax error');
    }
    // As Redis: the options' syntax first, then the expire time's value.
    let ttl: number | undefined;
    if (unit !== undefined) {
      const ms = expireMs(unit, expire);
      if (typeof ms !== 'number') return out.raw(ms);
      ttl = ms;
    }
    const key = p.text(1);
    if (nx || xx) {
      const exists = this.#store.has(key);
      if ((nx && exists) || (xx && !exists)) return out.bulk(null);
    }
    const value = copyOf(p.buf, p.start(2), p.end(2));
    if (keepTtl && this.#store.has(key)) this.#store.replace(key, value);
    else this.#store.set(key, value, ttl);
    out.raw(OK);
  }
}
