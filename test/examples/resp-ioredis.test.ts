// The RESP example against ioredis with its default options, on both loops.
// On connect ioredis 6 sends HELLO 3 (the connection speaks RESP3 from
// then on; a server without it answers NOPROTO, and ioredis falls back to
// RESP2), CLIENT SETINFO LIB-VER / LIB-NAME,
// and INFO as its ready check (it waits while `loading` is not 0); with
// `db` and `connectionName` also SELECT and CLIENT SETNAME. A client that
// reaches 'ready' and runs commands has had every one of those answered.
import test from 'ava';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { respLoops, withRespServerOn } from './resp-fixture.js';

/** ioredis's defaults, except that it gives up instead of reconnecting forever. */
type Extra = { db?: number; connectionName?: string; enableReadyCheck?: boolean };
async function connect(port: number, errors: string[], extra: Extra = {}): Promise<Redis> {
  const redis = new Redis({ host: '127.0.0.1', port, retryStrategy: () => null, ...extra });
  redis.on('error', (err: Error) => errors.push(err.message));
  await once(redis, 'ready');
  return redis;
}

for (const [name, make] of Object.entries(respLoops)) {
  test(`ioredis with its defaults connects and runs commands on ${name}`, (t) =>
    withRespServerOn(t, make, async (port) => {
      const errors: string[] = [];
      const redis = await connect(port, errors);
      t.is(await redis.set('greeting', 'hello'), 'OK');
      t.is(await redis.get('greeting'), 'hello');
      t.is(await redis.incr('n'), 1);
      t.deepEqual(await redis.mget('greeting', 'missing', 'n'), ['hello', null, '1']);
      const batch = redis.pipeline().incr('n').exists('greeting', 'n', 'missing').del('greeting');
      t.deepEqual(await batch.exec(), [
        [null, 2],
        [null, 2],
        [null, 1],
      ]);
      const info = await redis.info();
      t.regex(info, /^# Server\r\nredis_version:7\.0\.0\r\n/);
      t.regex(info, /\r\nloading:0\r\n/);
      t.regex(info, /\r\nconnected_clients:1\r\n/);
      t.regex(info, /\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n/);
      t.is(await redis.info('persistence'), '# Persistence\r\nloading:0\r\n');
      t.true(Number(await redis.client('ID')) > 0);
      t.is(await redis.quit(), 'OK');

      // With a database and a connection name: SELECT 0 and CLIENT SETNAME on connect.
      const named = await connect(port, errors, { db: 0, connectionName: 'worker-1' });
      t.is(await named.client('GETNAME'), 'worker-1');
      t.is(await named.get('n'), '2');
      t.is(await named.quit(), 'OK');
      t.deepEqual(errors, [], 'no error on any connection');
    }));

  test(`the RESP example answers HELLO, CLIENT and SELECT as Redis does on ${name}`, (t) =>
    withRespServerOn(t, make, async (port) => {
      const errors: string[] = [];
      const redis = await connect(port, errors, { enableReadyCheck: false });
      try {
        const fails = (args: string[], message: string | RegExp): Promise<unknown> =>
          t.throwsAsync(redis.call(args[0]!, ...args.slice(1)), { message });
        await fails(['HELLO', '4'], 'NOPROTO unsupported protocol version');
        const hello = (proto: number): unknown[] => [
          ...['server', 'redis', 'version', '7.0.0', 'proto', proto, 'id', 1],
          ...['mode', 'standalone', 'role', 'master', 'modules', []],
        ];
        // Redis's map: RESP3's own type, a flat array in RESP2.
        t.deepEqual(await redis.call('HELLO', '3'), hello(3));
        t.deepEqual(await redis.call('HELLO', '2', 'SETNAME', 'me'), hello(2));
        t.is(await redis.client('GETNAME'), 'me');
        await fails(['HELLO', 'x'], 'ERR Protocol version is not an integer or out of range');
        await fails(['SELECT', '1'], 'ERR DB index is out of range');
        t.is(await redis.select(0), 'OK');
        t.is(await redis.call('CLIENT', 'SETINFO', 'LIB-NAME', 'x'), 'OK');
        await fails(['CLIENT', 'SETINFO', 'COLOR', 'x'], "ERR Unrecognized option 'COLOR'");
        await fails(['CLIENT', 'SETNAME', 'two words'], /cannot contain spaces/);
        await fails(['CLIENT', 'KILL'], "ERR unknown subcommand 'KILL'. Try CLIENT HELP.");
        t.is(await redis.info('nosuchsection'), '');
        t.deepEqual(errors, []);
      } finally {
        redis.disconnect();
      }
    }));
}
