import test from 'ava';
import net from 'node:net';
import { command, exchange as exchangeAt, withRespServer } from './resp-fixture.js';
import { RespParser } from '../../examples/resp-server/resp-parser.js';

const exchange = (port: number, bytes: string, done: (text: string) => boolean): Promise<string> =>
  exchangeAt({ host: '127.0.0.1', port }, bytes, done);

test('SET, GET, INCR, EXISTS, MGET, DEL over one pipelined write', async (t) => {
  await withRespServer(t, async (port) => {
    const req =
      command('SET', 'a', '1') +
      command('GET', 'a') +
      command('INCR', 'a') +
      command('INCR', 'n') +
      command('EXISTS', 'a', 'n', 'zz') +
      command('MGET', 'a', 'zz', 'n') +
      command('DEL', 'a', 'zz') +
      command('GET', 'a') +
      command('PING');
    const expected =
      '+OK\r\n$1\r\n1\r\n:2\r\n:1\r\n:2\r\n*3\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n:1\r\n$-1\r\n+PONG\r\n';
    t.is(await exchange(port, req, (s) => s.endsWith('+PONG\r\n')), expected);
  });
});

test('inline commands, ECHO, SET NX/XX/PX and errors', async (t) => {
  await withRespServer(t, async (port) => {
    const reply = await exchange(
      port,
      'PING\r\nECHO hello\r\nSET k v NX\r\nSET k w NX\r\nSET k w XX PX 100000\r\nGET k\r\nINCR k\r\nNOPE\r\nGET\r\nQUIT\r\n',
      (s) => s.endsWith('+OK\r\n') && s.includes('wrong number'),
    );
    t.is(
      reply,
      "+PONG\r\n$5\r\nhello\r\n+OK\r\n$-1\r\n+OK\r\n$1\r\nw\r\n-ERR value is not an integer or out of range\r\n-ERR unknown command 'NOPE', with args beginning with: \r\n-ERR wrong number of arguments for 'get' command\r\n+OK\r\n",
    );
  });
});

test('inline lines may end in a bare LF; INCR and SET KEEPTTL keep the expiry', async (t) => {
  await withRespServer(t, async (port) => {
    const reply = await exchange(
      port,
      'SET n 1 PX 100000\nINCR n\r\nPTTL n\nSET n 7 KEEPTTL\nTTL n\nSET n 8\nPTTL n\n' +
        'PTTL none\nSET n 1 NX XX\nSET n 1 KEEPTTL EX 5\nGET n\nQUIT\n',
      (s) => s.endsWith('+OK\r\n') && s.includes('$1\r\n8'),
    );
    const lines = reply.split('\r\n');
    t.deepEqual(lines.slice(0, 2), ['+OK', ':2']);
    const pttl = Number(lines[2]!.slice(1));
    t.true(pttl > 90_000 && pttl <= 100_000, lines[2]);
    t.is(lines[3], '+OK');
    const ttl = Number(lines[4]!.slice(1));
    t.true(ttl > 90 && ttl <= 100, lines[4]);
    t.deepEqual(lines.slice(5), [
      '+OK',
      ':-1',
      ':-2',
      '-ERR syntax error',
      '-ERR syntax error',
      '$1',
      '8',
      '+OK',
      '',
    ]);
  });
});

test('a command split across many reads is parsed once', (t) => {
  const parser = new RespParser();
  const bytes = Buffer.from(command('SET', 'key', 'x'.repeat(1000)));
  const seen: string[][] = [];
  const sink = { command: (p: RespParser) => seen.push(p.all().map((b) => b.toString())) > 0 };
  for (let i = 0; i < bytes.length; i += 7) parser.feed(bytes.subarray(i, i + 7), sink);
  t.deepEqual(seen, [['SET', 'key', 'x'.repeat(1000)]]);
});

test('a malformed request gets an error and the connection is closed', async (t) => {
  await withRespServer(t, async (port) => {
    const reply = await exchange(
      port,
      '*1\r\n#bad\r\n',
      (s) => s.startsWith('-ERR') || s.startsWith('-Protocol'),
    );
    t.regex(reply, /^-ERR Protocol error: expected '\$', got '#'\r\n$/);
  });
});

/** Sends raw bytes and resolves with the reply bytes once `done` says so. */
function exchangeBytes(
  port: number,
  bytes: Buffer,
  done: (got: Buffer) => boolean,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    const chunks: Buffer[] = [];
    sock.on('data', (d) => {
      chunks.push(d);
      const got = Buffer.concat(chunks);
      if (done(got)) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', reject);
  });
}

function bulk(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')]);
}

function binaryCommand(...args: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.map(bulk)]);
}

test('binary keys and values, small and large, in one pipelined write', async (t) => {
  await withRespServer(t, async (port) => {
    const key = Buffer.from([0x00, 0x0d, 0x0a, 0xff, 0x20]);
    const small = Buffer.from([0x0d, 0x0a, 0x00, 0xe9]);
    const large = Buffer.alloc(1024 * 1024 + 3);
    for (let i = 0; i < large.length; i++) large[i] = (i * 7) & 0xff;
    const word = (s: string): Buffer => Buffer.from(s);
    const req = Buffer.concat([
      binaryCommand(word('SET'), key, small),
      binaryCommand(word('SET'), word('big'), large),
      binaryCommand(word('GET'), key),
      binaryCommand(word('MGET'), word('big'), key, word('none')),
      binaryCommand(word('ECHO'), large),
      binaryCommand(word('PING')),
    ]);
    const expected = Buffer.concat([
      word('+OK\r\n+OK\r\n'),
      bulk(small),
      word('*3\r\n'),
      bulk(large),
      bulk(small),
      word('$-1\r\n'),
      bulk(large),
      word('+PONG\r\n'),
    ]);
    const got = await exchangeBytes(port, req, (b) => b.length >= expected.length);
    t.true(got.equals(expected));
  });
});

test('the commands before a malformed one are answered, then the error, then the close', async (t) => {
  await withRespServer(t, async (port) => {
    const req = command('SET', 'a', '1') + command('GET', 'a') + '*1\r\n$x\r\n' + command('PING');
    // Everything the server sends until it closes the connection.
    const got = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => sock.write(req));
      let text = '';
      sock.on('data', (d) => (text += d.toString()));
      sock.on('end', () => (sock.destroy(), resolve(text)));
      sock.on('error', reject);
    });
    t.is(got, '+OK\r\n$1\r\n1\r\n-ERR Protocol error: invalid bulk length\r\n');
  });
});

test('an error naming what the client sent stays one line', async (t) => {
  await withRespServer(t, async (port) => {
    const got = await exchange(port, command('NO\r\nPE') + command('PING'), (s) =>
      s.endsWith('+PONG\r\n'),
    );
    t.is(got, "-ERR unknown command 'NO  PE', with args beginning with: \r\n+PONG\r\n");
  });
});
