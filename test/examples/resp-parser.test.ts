// The RESP example's parser on its own: every way a request can be split
// across reads gives the commands one read gives, large and binary bulk
// strings, and malformed input.
import test from 'ava';
import { RespParser, RespProtocolError } from '../../examples/resp-server/resp-parser.js';

function command(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const bytes = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Feeds `chunks` in order; the commands, each argument as latin1 text, and the error if any. */
function parse(chunks: Buffer[], stopAt?: string): { commands: string[][]; error?: string } {
  const parser = new RespParser();
  const commands: string[][] = [];
  const sink = {
    command(p: RespParser): boolean {
      const args: string[] = [];
      for (let i = 0; i < p.argc; i++) args.push(p.text(i));
      commands.push(args);
      return args[0] !== stopAt;
    },
  };
  try {
    for (const chunk of chunks) parser.feed(chunk, sink);
  } catch (err) {
    if (!(err instanceof RespProtocolError)) throw err;
    return { commands, error: err.message };
  }
  return { commands };
}

// A pipelined mix: multibulk and inline commands, an empty argument, binary
// bytes with CR LF inside, an empty multibulk and a blank inline line (both
// skipped), spaces around inline words.
const binary = Buffer.from([0, 0x0d, 0x0a, 0xff, 0x2a, 0x24, 0x0d, 0x0a, 0x80]);
const mix = Buffer.concat([
  command('SET', 'k', 'v'),
  Buffer.from('GET k\r\n'),
  command('SET', binary, binary),
  Buffer.from('*0\r\n'),
  Buffer.from('\r\n'),
  command('ECHO', ''),
  Buffer.from('  MGET   a  b \r\n'),
  Buffer.from('*-1\r\n'),
  command('PING'),
]);
const mixExpected = [
  ['SET', 'k', 'v'],
  ['GET', 'k'],
  ['SET', binary.toString('latin1'), binary.toString('latin1')],
  ['ECHO', ''],
  ['MGET', 'a', 'b'],
  ['PING'],
];

test('a pipelined mix gives the same commands split in two at every byte', (t) => {
  t.deepEqual(parse([mix]), { commands: mixExpected });
  for (let i = 0; i <= mix.length; i++) {
    const got = parse([mix.subarray(0, i), mix.subarray(i)]);
    t.deepEqual(got, { commands: mixExpected }, `split at ${i}`);
  }
});

test('a pipelined mix fed one byte at a time, and in three parts at every pair of offsets', (t) => {
  const bytes: Buffer[] = [];
  for (let i = 0; i < mix.length; i++) bytes.push(mix.subarray(i, i + 1));
  t.deepEqual(parse(bytes), { commands: mixExpected });
  let splits = 0;
  for (let i = 0; i <= mix.length; i += 3)
    for (let j = i; j <= mix.length; j += 5) {
      const got = parse([mix.subarray(0, i), mix.subarray(i, j), mix.subarray(j)]);
      if (got.commands.length !== mixExpected.length || got.error !== undefined)
        t.fail(`split at ${i} and ${j}: ${JSON.stringify(got)}`);
      splits++;
    }
  t.true(splits > 100);
});

test('a large bulk string arrives in many reads and comes out whole, with what follows', (t) => {
  const value = Buffer.alloc(3 * 1024 * 1024 + 7);
  for (let i = 0; i < value.length; i++) value[i] = (i * 131) & 0xff;
  const bytes = Buffer.concat([command('SET', 'big', value), command('GET', 'big')]);
  for (const size of [1000, 65536, 65537]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    const { commands, error } = parse(chunks);
    t.is(error, undefined);
    t.is(commands.length, 2, `reads of ${size}`);
    t.true(Buffer.from(commands[0]![2]!, 'latin1').equals(value), `reads of ${size}`);
    t.deepEqual(commands[1], ['GET', 'big']);
  }
});

test('a command with many arguments split across reads', (t) => {
  const keys = Array.from({ length: 5000 }, (_, i) => `key:${i}`);
  const bytes = command('MGET', ...keys);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 997) chunks.push(bytes.subarray(i, i + 997));
  t.deepEqual(parse(chunks), { commands: [['MGET', ...keys]] });
});

test('a read of the parser reuses nothing the sink was given', (t) => {
  // The sink sees each command in a buffer that is valid during the call:
  // a second feed must not change what a copy taken then holds.
  const parser = new RespParser();
  const copies: Buffer[] = [];
  const sink = { command: (p: RespParser) => copies.push(Buffer.from(p.bytes(1))) > 0 };
  const data = command('GET', 'first');
  parser.feed(data.subarray(0, 10), sink);
  parser.feed(data.subarray(10), sink);
  parser.feed(command('GET', 'other'), sink);
  t.deepEqual(
    copies.map((c) => c.toString()),
    ['first', 'other'],
  );
});

test('QUIT-style stop: the commands after the one the sink refused are not parsed', (t) => {
  const bytes = Buffer.concat([command('PING'), command('QUIT'), command('SET', 'a', 'b')]);
  t.deepEqual(parse([bytes], 'QUIT'), { commands: [['PING'], ['QUIT']] });
});

test('malformed input: the same errors, after the commands before it', (t) => {
  const cases: Array<[string, string]> = [
    ['*1\r\n#bad\r\n', "Protocol error: expected '$', got '#'"],
    ['*x\r\n', 'Protocol error: invalid multibulk length'],
    ['*1.5\r\n', 'Protocol error: invalid multibulk length'],
    ['*1048577\r\n', 'Protocol error: invalid multibulk length'],
    ['*1\r\n$-1\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$abc\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$536870913\r\n', 'Protocol error: invalid bulk length'],
  ];
  for (const [bad, error] of cases) {
    const bytes = Buffer.concat([command('PING'), Buffer.from(bad)]);
    t.deepEqual(parse([bytes]), { commands: [['PING']], error }, bad);
    // Split anywhere, the error is the same.
    for (let i = 0; i <= bytes.length; i++)
      t.deepEqual(parse([bytes.subarray(0, i), bytes.subarray(i)]).error, error, `${bad} at ${i}`);
  }
  // Numbers other than plain digits are read as Number() reads them, as before.
  t.deepEqual(parse([Buffer.from('*01\r\n$0x3\r\nGET\r\n')]), { commands: [['GET']] });
});

test('inline words split at any whitespace and unquoted as Redis does, split at every byte', (t) => {
  // resp-redis-server.test.ts checks the same against redis-server itself.
  const bytes = Buffer.from(
    'SET\tq  "two words"\r\nSET q \'it\\\'s\' ""\r\n' +
      'SET q "a\\x41\\n\\"\\z\\xZZ" x"y z"\r\n' +
      `${command('GET', 'after').toString('latin1')}PING\r\n`,
    'latin1',
  );
  const expected = {
    commands: [
      ['SET', 'q', 'two words'],
      ['SET', 'q', "it's", ''],
      ['SET', 'q', 'aA\n"zxZZ', 'xy z'],
      ['GET', 'after'],
      ['PING'],
    ],
  };
  for (let i = 0; i <= bytes.length; i++)
    t.deepEqual(parse([bytes.subarray(0, i), bytes.subarray(i)]), expected, `split at ${i}`);
  for (const bad of ['SET k "abc', "SET k 'abc", 'SET k "abc"d', "SET k 'a'b"]) {
    t.deepEqual(parse([Buffer.from(`PING\r\n${bad}\r\nPING\r\n`)]), {
      commands: [['PING']],
      error: 'Protocol error: unbalanced quotes in request',
    });
  }
});

test('a line without CRLF is an error past 64 KiB, and waits for more before', (t) => {
  const long = Buffer.alloc(64 * 1024, 0x61);
  t.deepEqual(parse([long]), { commands: [] });
  t.deepEqual(parse([long, Buffer.from('aa')]), {
    commands: [],
    error: 'Protocol error: too big inline request',
  });
  t.deepEqual(
    parse([Buffer.concat([Buffer.from('*1\r\n$'), long, Buffer.from('1')])]).error,
    'Protocol error: too big inline request',
  );
  // A long inline command that does end is parsed.
  const word = 'x'.repeat(60 * 1024);
  t.deepEqual(parse([Buffer.from(`SET k ${word}`), Buffer.from('\r\n')]), {
    commands: [['SET', 'k', word]],
  });
});

test('a bulk header alone reserves no memory for the bytes it announces', (t) => {
  // 20 connections each announcing 512 MiB and sending 1 KiB: memory for what arrived only.
  const before = process.memoryUsage().arrayBuffers;
  const parsers = Array.from({ length: 20 }, () => new RespParser());
  const sink = { command: () => true };
  const start = Buffer.from(`*1\r\n$${512 * 1024 * 1024}\r\n`);
  for (const p of parsers) {
    p.feed(start, sink);
    p.feed(Buffer.alloc(1024), sink);
  }
  t.true(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
});
