// iovalkey (a pure-JS Redis/Valkey client, an ioredis fork) against the
// examples' RESP server (examples/resp-server) on each loop, with its own
// node:net connections and with a Connector whose connections are
// UvEventLoop transports (toDuplex). A real redis-server answering the same
// script with iovalkey on node:net is the reference.
import anyTest from 'ava';
import { AbstractConnector, Redis as Valkey, type RedisOptions } from 'iovalkey';
import { Loop, UvEventLoop, toDuplex } from 'asyncuv';
import { withPrograms } from '../helpers/tools.js';
import { waitFor } from '../helpers/loop-test.js';
import { respLoops, withRedisServer, withRespServerOn } from '../examples/resp-fixture.js';

const test = withPrograms(anyTest, ['redis-server']);

type NetStream = Awaited<ReturnType<AbstractConnector['connect']>>;

/** iovalkey's Connector over `loop`: each connect() is a new TCP transport to `port`. */
function loopConnector(loop: UvEventLoop, port: number): NonNullable<RedisOptions['Connector']> {
  return class LoopConnector extends AbstractConnector {
    constructor(options: unknown) {
      super((options as { disconnectTimeout?: number }).disconnectTimeout ?? 2000);
    }

    async connect(): Promise<NetStream> {
      this.connecting = true;
      const [transport] = await loop.createConnection(() => ({}), '127.0.0.1', port);
      this.stream = toDuplex(transport) as NetStream;
      return this.stream;
    }
  };
}

/** Commands the RESP server implements, a 1000-command pipeline, a 1 MiB value; the errors seen. */
async function script(options: RedisOptions): Promise<unknown> {
  const errors: string[] = [];
  const client = new Valkey({ ...options, maxRetriesPerRequest: 0 });
  client.on('error', (err: Error) => errors.push(err.message));
  try {
    // A clean start on a server an earlier run used (the RESP example has no FLUSHALL).
    await client.del('greeting', 'n', 't', 'counter', 'big', 'greeting-missing');
    const replies: unknown[] = [await client.ping(), await client.ping('hi ü')];
    replies.push(await client.set('greeting', 'hello'), await client.get('greeting'));
    replies.push(await client.incr('n'), await client.mget('greeting', 'missing', 'n'));
    replies.push(await client.exists('greeting', 'missing'), await client.del('greeting'));
    replies.push(await client.echo('echo'), await client.set('t', 'v', 'EX', 100));
    replies.push(await client.ttl('t'), await client.dbsize());
    const pipeline = client.pipeline();
    for (let i = 0; i < 1000; i++) pipeline.incr('counter');
    const results = (await pipeline.exec()) ?? [];
    replies.push(results.length, results.at(-1));
    const big = Buffer.alloc(1024 * 1024 + 7, 'v');
    replies.push(await client.set('big', big), (await client.getBuffer('big'))?.equals(big));
    replies.push(await client.incr('greeting-missing'));
    return { replies, errors };
  } finally {
    await client.quit();
  }
}

test('iovalkey gets what redis-server answers from the RESP example on both loops, and with its connections on a UvEventLoop', async (t) => {
  const reference = await withRedisServer((where) => script(where as { path: string }));
  t.deepEqual((reference as { errors: string[] }).errors, []);
  for (const [name, make] of Object.entries(respLoops)) {
    await withRespServerOn(t, make, async (port) => {
      t.deepEqual(await script({ host: '127.0.0.1', port }), reference, `${name}, node:net`);
      const uv = new Loop();
      const loop = new UvEventLoop(uv);
      try {
        const onLoop = await script({ port, Connector: loopConnector(loop, port) });
        t.deepEqual(onLoop, reference, `${name}, a UvEventLoop client`);
        const live = (): object => loop.liveResources();
        t.true(await waitFor(() => Object.keys(live()).length === 0), JSON.stringify(live()));
      } finally {
        loop.close();
      }
      const handles = (): object => uv.handleCounts();
      t.true(await waitFor(() => Object.keys(handles()).length === 0), JSON.stringify(handles()));
      uv.close();
    });
  }
});
