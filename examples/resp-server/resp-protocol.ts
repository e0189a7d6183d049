// A Redis-protocol (RESP2) server written once as an asyncio-style
// Protocol: it runs unchanged on UvEventLoop and on NodeEventLoop.
// Commands: PING, ECHO, SET (EX/PX/NX/XX), GET, DEL, INCR, EXISTS, MGET,
// plus the COMMAND/CONFIG/QUIT/SELECT/FLUSHALL/DBSIZE replies redis-cli and
// redis-benchmark need. Pipelined requests are answered with one write per
// read.
import type { Protocol, Transport } from '../../loop/index.js';
import { RespParser, RespProtocolError, reply } from './resp-parser.js';
import { Store } from './store.js';

const OK = reply.simple('OK');
const PONG = reply.simple('PONG');
const NIL = reply.bulk(null);

function upper(b: Buffer | undefined): string {
  return b === undefined ? '' : b.toString('latin1').toUpperCase();
}

function wrongArgs(cmd: string): Buffer {
  return reply.error(`ERR wrong number of arguments for '${cmd.toLowerCase()}' command`);
}

export class RespProtocol implements Protocol {
  readonly #store: Store;
  readonly #parser = new RespParser();
  #transport: Transport | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
  }

  dataReceived(data: Buffer): void {
    let commands: Buffer[][];
    try {
      commands = this.#parser.feed(data);
    } catch (err) {
      if (!(err instanceof RespProtocolError)) throw err;
      this.#transport!.write(reply.error(err.message));
      this.#transport!.close();
      return;
    }
    const out: Buffer[] = [];
    let quit = false;
    for (const args of commands) {
      if (upper(args[0]) === 'QUIT') {
        out.push(OK);
        quit = true;
        break;
      }
      this.#execute(args, out);
    }
    if (out.length > 0) this.#transport!.writelines(out);
    if (quit) this.#transport!.close();
  }

  #execute(args: Buffer[], out: Buffer[]): void {
    const cmd = upper(args[0]);
    const store = this.#store;
    const n = args.length;
    switch (cmd) {
      case 'PING':
        if (n > 2) out.push(wrongArgs(cmd));
        else if (n === 2) out.push(...reply.bulk(args[1]!));
        else out.push(PONG);
        return;
      case 'ECHO':
        if (n !== 2) out.push(wrongArgs(cmd));
        else out.push(...reply.bulk(args[1]!));
        return;
      case 'GET':
        if (n !== 2) out.push(wrongArgs(cmd));
        else out.push(...reply.bulk(store.get(args[1]!.toString('latin1'))));
        return;
      case 'SET':
        return this.#set(args, out);
      case 'DEL':
      case 'EXISTS': {
        if (n < 2) return void out.push(wrongArgs(cmd));
        let count = 0;
        for (let i = 1; i < n; i++) {
          const key = args[i]!.toString('latin1');
          if (cmd === 'DEL' ? store.delete(key) : store.has(key)) count++;
        }
        out.push(reply.integer(count));
        return;
      }
      case 'INCR': {
        if (n !== 2) return void out.push(wrongArgs(cmd));
        const key = args[1]!.toString('latin1');
        const current = store.get(key);
        const text = current === null ? '0' : current.toString('latin1');
        const value = /^-?\d+$/.test(text) ? Number(text) : NaN;
        if (!Number.isSafeInteger(value + 1)) return void out.push(reply.error('ERR value is not an integer or out of range'));
        store.set(key, Buffer.from(String(value + 1)));
        out.push(reply.integer(value + 1));
        return;
      }
      case 'MGET':
        if (n < 2) return void out.push(wrongArgs(cmd));
        out.push(reply.arrayHeader(n - 1));
        for (let i = 1; i < n; i++) out.push(...reply.bulk(store.get(args[i]!.toString('latin1'))));
        return;
      case 'DBSIZE':
        out.push(reply.integer(store.size));
        return;
      case 'SELECT':
        out.push(OK);
        return;
      case 'COMMAND':
      case 'CONFIG':
        // redis-cli and redis-benchmark ask these on connect: no data.
        out.push(reply.arrayHeader(0));
        return;
      default:
        out.push(reply.error(`ERR unknown command '${args[0]!.toString('latin1')}'`));
    }
  }

  #set(args: Buffer[], out: Buffer[]): void {
    if (args.length < 3) return void out.push(wrongArgs('SET'));
    const key = args[1]!.toString('latin1');
    let ttl: number | undefined;
    let nx = false;
    let xx = false;
    for (let i = 3; i < args.length; i++) {
      const opt = upper(args[i]);
      if (opt === 'NX') nx = true;
      else if (opt === 'XX') xx = true;
      else if ((opt === 'EX' || opt === 'PX') && i + 1 < args.length) {
        const v = Number(args[++i]!.toString('latin1'));
        if (!Number.isInteger(v) || v <= 0) return void out.push(reply.error('ERR invalid expire time in set'));
        ttl = opt === 'EX' ? v * 1000 : v;
      } else return void out.push(reply.error('ERR syntax error'));
    }
    const exists = this.#store.has(key);
    if ((nx && exists) || (xx && !exists)) return void out.push(...NIL);
    this.#store.set(key, args[2]!, ttl);
    out.push(OK);
  }
}
