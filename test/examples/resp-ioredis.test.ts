// The RESP example against ioredis with its default options, on both loops.
// On connect ioredis 6 sends HELLO 3 (answered NOPROTO: the server speaks
// RESP2, and ioredis falls back to it), CLIENT SETINFO LIB-VER / LIB-NAME,
// and INFO as its ready check (it waits while `loading` is not 0); with
// `db` and `connectionName` also SELECT and CLIENT SETNAME. A client that
// reaches 'ready' and runs commands has had every one of those answered.
import test from 'ava';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { Loop, NodeEventLoop, UvEventLoop, type AbstractEventLoop } from 'asyncuv';
import { startRespServer } from '../../examples/resp-server/main.js';
import { waitFor } from '../helpers/loop-test.js';

const loops: Record<string, () => { loop: AbstractEventLoop; uvloop?: Loop }> = {
  UvEventLoop: () => {
    const uvloop = new Loop();
    return { loop: new UvEventLoop(uvloop), uvloop };
  },
  NodeEventLoop: () => ({ loop: new NodeEventLoop() }),
};

/** A Redis client with ioredis's defaults, except that it gives up instead of reconnecting forever. */
function client(port: number, extra: Record<string, unknown> = {}): Redis {
  return new Redis({ host: '127.0.0.1', port, retryStrategy: () => null, maxRetriesPerRequest: 0, ...extra });
}

for (const [name, make] of Object.entries(loops)) {
  test(`ioredis with its default options connects to the RESP example and runs commands on ${name}`, async (t) => {
    const { loop, uvloop } = make();
    const server = await startRespServer(loop, '127.0.0.1', 0);
    const port = server.sockets()[0]!.port;
    const errors: string[] = [];
    try {
      const redis = client(port);
      redis.on('error', (err: Error) => errors.push(err.message));
      await once(redis, 'ready');
      t.is(redis.status, 'ready');
      t.is(await redis.set('greeting', 'hello'), 'OK');
      t.is(await redis.get('greeting'), 'hello');
      t.is(await redis.incr('n'), 1);
      t.deepEqual(await redis.mget('greeting', 'missing', 'n'), ['hello', null, '1']);
      t.deepEqual(await redis.pipeline().incr('n').exists('greeting', 'n', 'missing').del('greeting').exec(), [[null, 2], [null, 2], [null, 1]]);
      const info = await redis.info();
      t.regex(info, /^# Server\r\nredis_version:7\.0\.0\r\n/);
      t.regex(info, /\r\nloading:0\r\n/);
      t.regex(info, /\r\nconnected_clients:1\r\n/);
      t.regex(info, /\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n/);
      t.is(await redis.info('persistence'), '# Persistence\r\nloading:0\r\n');
      t.true(Number(await redis.client('ID')) > 0);
      t.is(await redis.quit(), 'OK');

      // With a database and a connection name: SELECT 0 and CLIENT SETNAME on connect.
      const named = client(port, { db: 0, connectionName: 'worker-1' });
      named.on('error', (err: Error) => errors.push(err.message));
      await once(named, 'ready');
      t.is(await named.client('GETNAME'), 'worker-1');
      t.is(await named.get('n'), '2');
      t.is(await named.quit(), 'OK');
      t.deepEqual(errors, [], 'no error on any connection');
    } finally {
      server.close();
      await server.waitClosed();
      loop.close();
    }
    t.true(await waitFor(() => Object.keys(loop.liveResources()).length === 0, 5000), JSON.stringify(loop.liveResources()));
    if (uvloop !== undefined) {
      t.true(await waitFor(() => Object.keys(uvloop.handleCounts()).length === 0, 5000), JSON.stringify(uvloop.handleCounts()));
      uvloop.close();
    }
  });

  test(`the RESP example answers HELLO, CLIENT and SELECT the way Redis does on ${name}`, async (t) => {
    const { loop, uvloop } = make();
    const server = await startRespServer(loop, '127.0.0.1', 0);
    const redis = client(server.sockets()[0]!.port, { enableReadyCheck: false });
    try {
      await once(redis, 'ready');
      await t.throwsAsync(redis.call('HELLO', '3'), { message: 'NOPROTO unsupported protocol version' });
      t.deepEqual(await redis.call('HELLO', '2', 'SETNAME', 'me'), ['server', 'redis', 'version', '7.0.0', 'proto', 2, 'id', 1, 'mode', 'standalone', 'role', 'master', 'modules', []]);
      t.is(await redis.client('GETNAME'), 'me');
      await t.throwsAsync(redis.call('HELLO', 'x'), { message: 'ERR Protocol version is not an integer or out of range' });
      await t.throwsAsync(redis.select(1), { message: 'ERR DB index is out of range' });
      t.is(await redis.select(0), 'OK');
      t.is(await redis.call('CLIENT', 'SETINFO', 'LIB-NAME', 'x'), 'OK');
      await t.throwsAsync(redis.call('CLIENT', 'SETINFO', 'COLOR', 'x'), { message: "ERR Unrecognized option 'COLOR'" });
      await t.throwsAsync(redis.call('CLIENT', 'SETNAME', 'two words'), { message: /cannot contain spaces/ });
      await t.throwsAsync(redis.call('CLIENT', 'KILL'), { message: "ERR unknown subcommand 'KILL'. Try CLIENT HELP." });
      t.is(await redis.info('nosuchsection'), '');
    } finally {
      redis.disconnect();
      server.close();
      await server.waitClosed();
      loop.close();
    }
    t.true(await waitFor(() => Object.keys(loop.liveResources()).length === 0, 5000), JSON.stringify(loop.liveResources()));
    if (uvloop !== undefined) {
      t.true(await waitFor(() => Object.keys(uvloop.handleCounts()).length === 0, 5000), JSON.stringify(uvloop.handleCounts()));
      uvloop.close();
    }
  });
}
