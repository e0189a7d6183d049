// The RESP example against a real redis-server as the reference: the same
// bytes go to both, and the replies must be the same bytes. The cases are
// the ones where the example claims Redis's behaviour (README: its error
// texts, integers, inline commands and protocol errors); what it documents
// as its own (SELECT 1, CLIENT SETINFO, commands it lacks) is left out.
// After HELLO 3 the replies are RESP3's (node-redis 6 asks for it and has no
// fallback): the same bytes again, but for HELLO's version and id.
import anyTest from 'ava';
import { command, exchange, type Where, withRedisServer, withRespServer } from './resp-fixture.js';
import { withPrograms } from '../helpers/tools.js';

const test = withPrograms(anyTest.serial, ['redis-server']);

const END = command('ECHO', 'the end');
const ended = (text: string): boolean => text.endsWith('$7\r\nthe end\r\n');

/** One connection's commands, answered in order; each is a case of its own in the transcript. */
const commands: string[] = [
  // Unknown commands quote their first 128 bytes of arguments; arities.
  command('FOOBAR'),
  command('foobar', 'a', 'b c'),
  command('NOPE', 'x'.repeat(100), 'y'.repeat(100)),
  command('GET'),
  command('GET', 'a', 'b'),
  command('SET', 'k'),
  command('PING', 'a', 'b'),
  command('ECHO'),
  command('DEL'),
  command('EXISTS'),
  command('MGET'),
  command('INCR'),
  command('TTL'),
  command('PTTL', 'a', 'b'),
  command('DBSIZE', 'x'),
  command('SELECT'),
  command('SELECT', 'x'),
  command('CLIENT'),
  command('CLIENT', 'BOGUS'),
  command('CLIENT', 'SETNAME', 'a b'),
  // SET's options and expire times: syntax first, then the value.
  command('SET', 'k', 'v', 'NX', 'XX'),
  command('SET', 'k', 'v', 'EX', '10', 'PX', '10'),
  command('SET', 'k', 'v', 'EX', '0'),
  command('SET', 'k', 'v', 'PX', '-5'),
  command('SET', 'k', 'v', 'EX', 'abc'),
  command('SET', 'k', 'v', 'EX', '1.5'),
  command('SET', 'k', 'v', 'EX', '0', 'BOGUS'),
  command('SET', 'k', 'v', 'EX', '9999999999999999'),
  command('SET', 'k', 'v', 'PX', '9223372036854775807'),
  command('SET', 'k', 'v', 'EX', '10000000000000000000'),
  command('SET', 'k', 'v', 'EX', '100'),
  command('TTL', 'k'),
  // INCR on signed 64-bit integers written Redis's one way.
  ...[
    '9007199254740993',
    '-9223372036854775808',
    '9223372036854775807',
    '01',
    '-0',
    '+1',
    ' 1',
    '',
    '1e3',
    '-1',
  ].flatMap((v, i) => [command('SET', `n${i}`, v), command('INCR', `n${i}`)]),
  command('MGET', 'n0', 'n1', 'n2', 'n9'),
  // Inline commands: whitespace, quotes and escapes as sdssplitargs() reads them.
  'SET\tq1  "two words"\r\nGET q1\r\n',
  "SET q2 'it\\'s'\r\nGET q2\r\n",
  'SET q3 "a\\x41\\n\\t\\"\\z"\r\nGET q3\r\n',
  'SET q4 x"y z"\r\nGET q4\r\n',
  '\r\n  \r\nEXISTS q1 q2 q3 q4\r\n',
  END,
];

/** Each on a connection of its own: Redis answers with an error and closes. */
const malformed = [
  'SET k "abc\r\nPING\r\n',
  'SET k "abc"d\r\nPING\r\n',
  'SET k x""y\r\nPING\r\n',
  "SET k 'abc\r\nPING\r\n",
  `${command('PING')}*1\r\n#bad\r\n`,
  '*x\r\nPING\r\n',
  '*1\r\n$x\r\n',
  '*1\r\n$-1\r\n',
];

/** One connection switched to RESP3 and back: nulls, maps and HELLO's map differ from RESP2. */
const resp3 = [
  command('HELLO', '3'),
  command('GET', 'nokey'),
  command('SET', 'a', '1'),
  command('MGET', 'a', 'nokey'),
  command('SET', 'a', '2', 'NX'),
  command('SET', 'b', '2', 'XX', 'PX', '100000'),
  command('CLIENT', 'GETNAME'),
  command('CONFIG', 'GET', 'save'),
  command('CONFIG', 'GET', 'appendonly'),
  command('CONFIG', 'GET', 'nosuchparameter'),
  command('COMMAND', 'DOCS', 'nosuchcommand'),
  command('HELLO'),
  command('HELLO', '4'),
  command('HELLO', '3', 'SETNAME', 'me'),
  command('CLIENT', 'GETNAME'),
  command('INCR', 'a'),
  command('PING'),
  command('HELLO', '2'),
  command('GET', 'nokey'),
  command('CONFIG', 'GET', 'save'),
  END,
].join('');

/** HELLO's version and connection id are the server's own; the rest of its map is Redis's. */
const sameServer = (text: string): string =>
  text
    .replace(/\r\nversion\r\n\$\d+\r\n[^\r]*\r\n/g, '\r\nversion\r\n<version>\r\n')
    .replace(/\r\nid\r\n:\d+\r\n/g, '\r\nid\r\n:<id>\r\n');

async function transcript(where: Where): Promise<string[]> {
  const out = [await exchange(where, commands.join(''), ended)];
  out.push(sameServer(await exchange(where, resp3, ended)));
  for (const bytes of malformed) out.push(await exchange(where, bytes));
  return out;
}

test('the RESP example answers errors, integers and inline commands as redis-server', async (t) => {
  const expected = await withRedisServer(transcript);
  await withRespServer(t, async (port) => {
    const got = await transcript({ host: '127.0.0.1', port });
    // Reply by reply, so that a difference names its case.
    const split = (text: string): string[] => text.split(/(?=^[-+:$*])/m);
    t.true(ended(expected[0]!), 'redis-server answered every command');
    t.deepEqual(split(got[0]!), split(expected[0]!));
    const split3 = (text: string): string[] => text.split(/(?=^[-+:$*%_=])/m);
    t.true(ended(expected[1]!), 'redis-server answered every RESP3 command');
    t.regex(expected[1]!, /^%7\r\n\$6\r\nserver\r\n.*\r\nproto\r\n:3\r\n/s);
    t.deepEqual(split3(got[1]!), split3(expected[1]!));
    for (let i = 0; i < malformed.length; i++)
      t.is(got[i + 2], expected[i + 2], JSON.stringify(malformed[i]));
  });
});
