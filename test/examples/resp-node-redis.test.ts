// node-redis (npm `redis`) with its defaults against the RESP example on both
// loops, and against a real redis-server as the reference: the same script,
// the same results. On connect node-redis 6 sends, in one write, HELLO 3
// (with SETNAME for `name`; it has no fallback to RESP2, so a server
// without RESP3 fails every connect), CLIENT SETINFO LIB-VER / LIB-NAME and
// CLIENT MAINT_NOTIFICATIONS (its error ignored, as with redis-server 7.0);
// with `RESP: 2`, no HELLO but CLIENT SETNAME. `.multi().exec()` sends
// MULTI ... EXEC, which the example does not have: it is refused (the
// commands in between run one by one, unqueued); `.execAsPipeline()` is
// the batch it serves.
import anyTest, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { RESP_TYPES, createClient, type RedisClientOptions } from 'redis';
import { respLoops, withRedisServer, withRespServerOn } from './resp-fixture.js';
import { withPrograms } from '../helpers/tools.js';

const test = withPrograms(anyTest, ['redis-server']);

const big = randomBytes(1024 * 1024 + 7);
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

type Socket = NonNullable<RedisClientOptions['socket']>;

/** What node-redis gets for the commands the example claims, with `RESP` 3 (the default) or 2. */
async function script(socket: Socket, RESP?: 2): Promise<unknown> {
  const errors: string[] = [];
  const options = { socket: { ...socket, reconnectStrategy: false as const } };
  const client = createClient({ ...options, ...(RESP === undefined ? {} : { RESP }) });
  client.on('error', (err: Error) => errors.push(err.message));
  await client.connect();
  const plain = {
    set: await client.set('greeting', 'hello'),
    get: await client.get('greeting'),
    missing: await client.get('missing'),
    incr: [await client.incr('n'), await client.incr('n')],
    exists: await client.exists(['greeting', 'n', 'missing']),
    mget: await client.mGet(['greeting', 'missing', 'n']),
    nx: [await client.set('greeting', 'x', { condition: 'NX' }), await client.get('greeting')],
    ex: await client.set('lasting', 'v', { expiration: { type: 'EX', value: 100 } }),
    ttl: await client.ttl('lasting'),
    // 500 ms: the GET right after must come before the expiry also on a
    // loaded machine (under ASan, 40 ms once did not).
    px: await client.set('short', 'v', { expiration: { type: 'PX', value: 500 } }),
    beforeExpiry: await client.get('short'),
  };
  await new Promise((resolve) => setTimeout(resolve, 600));
  const later = { afterExpiry: await client.get('short'), exists: await client.exists('short') };
  // A batch in one write, and 200 commands of one tick (node-redis pipelines those too).
  const batch = await client
    .multi()
    .set('b', '1')
    .incr('b')
    .get('missing')
    .mGet(['b', 'missing'])
    .del(['b', 'missing'])
    .execAsPipeline();
  const many = await Promise.all(Array.from({ length: 200 }, () => client.incr('counter')));
  await client.set('big', big);
  const asBuffers = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const bigBack = (await asBuffers.get('big')) ?? Buffer.alloc(0);
  const info = await client.info('persistence');
  const config = await client.configGet('save');
  const deleted = await client.del(['greeting', 'n', 'lasting', 'counter', 'big']);
  await client.close();

  // With a connection name: HELLO 3 SETNAME, or CLIENT SETNAME in RESP2.
  const named = createClient({ ...options, name: 'worker-1', ...(RESP ? { RESP } : {}) });
  named.on('error', (err: Error) => errors.push(err.message));
  await named.connect();
  const name = await named.clientGetName();
  await named.close();
  return {
    plain,
    later,
    batch,
    many: [many.length, many[0], many[199], new Set(many).size],
    big: [Buffer.isBuffer(bigBack), bigBack.length, sha256(bigBack) === sha256(big)],
    info: /^# Persistence\r\nloading:0\r\n/.test(info),
    config,
    deleted,
    name,
    errors,
    open: [client.isOpen, named.isOpen],
  };
}

const expected = {
  plain: {
    set: 'OK',
    get: 'hello',
    missing: null,
    incr: [1, 2],
    exists: 2,
    mget: ['hello', null, '2'],
    nx: [null, 'hello'],
    ex: 'OK',
    ttl: 100,
    px: 'OK',
    beforeExpiry: 'v',
  },
  later: { afterExpiry: null, exists: 0 },
  batch: ['OK', 2, null, ['2', null], 1],
  many: [200, 1, 200, 200],
  big: [true, big.length, true],
  info: true,
  config: { save: '' },
  deleted: 5,
  name: 'worker-1',
  errors: [],
  open: [false, false],
};

/** The script on the example on each loop, against the reference on redis-server. */
async function sideBySide(t: ExecutionContext, RESP?: 2): Promise<void> {
  const reference = await withRedisServer((where) => script(where as Socket, RESP));
  t.deepEqual(reference, expected, 'redis-server, the reference');
  for (const [name, make] of Object.entries(respLoops)) {
    await withRespServerOn(t, make, async (port) => {
      t.deepEqual(await script({ host: '127.0.0.1', port }, RESP), reference, name);
    });
  }
}

test('node-redis with its defaults (RESP3) gets from the RESP example on both loops what redis-server gives', (t) =>
  sideBySide(t));

test('node-redis with RESP: 2 gets from the RESP example on both loops what redis-server gives', (t) =>
  sideBySide(t, 2));

for (const [name, make] of Object.entries(respLoops)) {
  test(`node-redis's .multi().exec() is refused by the RESP example on ${name}, which has no MULTI`, (t) =>
    withRespServerOn(t, make, async (port) => {
      const client = createClient({
        socket: { host: '127.0.0.1', port, reconnectStrategy: false },
      });
      const errors: string[] = [];
      client.on('error', (err: Error) => errors.push(err.message));
      await client.connect();
      try {
        await t.throwsAsync(client.multi().incr('n').exec(), {
          message: "ERR unknown command 'MULTI', with args beginning with: ",
        });
        // Without MULTI the INCR was not queued: it ran, and EXEC was unknown too.
        t.is(await client.get('n'), '1');
        t.is(await client.ping(), 'PONG');
        t.deepEqual(errors, []);
      } finally {
        await client.close();
      }
    }));
}
