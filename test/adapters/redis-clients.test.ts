// A Redis client whose connections live on our loops: ioredis with a
// Connector that opens a transport (createUnixConnection) and hands ioredis
// toDuplex() of it, against a real redis-server. The same script runs with
// ioredis's own connector (node:net, the reference) and on each loop, and
// must give the same answers; a connection the server kills is reconnected
// through the Connector, and quit() leaves nothing open on the loop.
import anyTest from 'ava';
import { once } from 'node:events';
import { AbstractConnector, Redis, type RedisOptions } from 'ioredis';
import { Loop, NodeEventLoop, UvEventLoop, toDuplex, type AbstractEventLoop } from 'asyncuv';
import { withPrograms } from '../helpers/tools.js';
import { waitFor } from '../helpers/loop-test.js';
import { withRedisServer } from '../examples/resp-fixture.js';

const test = withPrograms(anyTest, ['redis-server']);

type NetStream = Awaited<ReturnType<AbstractConnector['connect']>>;

/** ioredis's Connector over `loop`: each connect() is a new Unix-socket transport. */
function loopConnector(loop: AbstractEventLoop, path: string): RedisOptions['Connector'] {
  return class LoopConnector extends AbstractConnector {
    constructor(options: unknown) {
      super((options as { disconnectTimeout?: number }).disconnectTimeout ?? 2000);
    }

    async connect(): Promise<NetStream> {
      this.connecting = true;
      const [transport] = await loop.createUnixConnection(() => ({}), path);
      this.stream = toDuplex(transport) as NetStream;
      return this.stream;
    }
  };
}

interface Run {
  replies: unknown[];
  reconnected: boolean;
  errors: string[];
}

/** The script: commands, a pipeline, a transaction, a large value, pub/sub, a killed connection. */
async function script(options: {
  path: string;
  Connector?: RedisOptions['Connector'];
}): Promise<Run> {
  const errors: string[] = [];
  const redis = new Redis(options);
  redis.on('error', (err: Error) => errors.push(err.message));
  const sub = redis.duplicate();
  sub.on('error', (err: Error) => errors.push(err.message));
  const replies: unknown[] = [];
  try {
    replies.push(await redis.flushall());
    replies.push(await redis.set('greeting', 'hello'), await redis.get('greeting'));
    replies.push(await redis.incr('n'), await redis.mget('greeting', 'missing', 'n'));
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1000; i++) pipeline.incr('counter');
    const results = (await pipeline.exec()) ?? [];
    replies.push(results.length, results.at(-1));
    replies.push(
      await redis.multi().incr('n').lpush('list', 'a', 'b').lrange('list', 0, -1).exec(),
    );
    const big = Buffer.alloc(1024 * 1024 + 7, 'x');
    replies.push(await redis.set('big', big), (await redis.getBuffer('big'))?.equals(big));

    await sub.subscribe('news');
    const message = once(sub, 'message');
    replies.push(await redis.publish('news', 'extra'), await message);

    // The server closes the connection: ioredis connects again (through the
    // Connector, for the loops) and the next command is answered.
    const id = await redis.client('ID');
    const ready = once(redis, 'ready');
    const admin = redis.duplicate();
    replies.push(await admin.client('KILL', 'ID', String(id)));
    await admin.quit();
    await ready;
    replies.push(await redis.get('n'));
    const reconnected = Number(await redis.client('ID')) !== Number(id);
    return { replies, reconnected, errors };
  } finally {
    await Promise.allSettled([sub.quit(), redis.quit()]);
  }
}

const loops: Record<string, () => { loop: AbstractEventLoop; uvloop?: Loop }> = {
  UvEventLoop: () => {
    const uvloop = new Loop();
    return { loop: new UvEventLoop(uvloop), uvloop };
  },
  NodeEventLoop: () => ({ loop: new NodeEventLoop() }),
};

for (const [name, make] of Object.entries(loops)) {
  test(`ioredis with its connections on ${name} gives what it gives on node:net, reconnects, and quit() leaves nothing open`, (t) =>
    withRedisServer(async (where) => {
      const path = (where as { path: string }).path;
      const reference = await script({ path });
      const { loop, uvloop } = make();
      let run: Run;
      try {
        run = await script({ path, Connector: loopConnector(loop, path) });
        const live = (): object => loop.liveResources();
        t.true(await waitFor(() => Object.keys(live()).length === 0), JSON.stringify(live()));
      } finally {
        loop.close();
      }
      if (uvloop !== undefined) {
        const handles = (): object => uvloop.handleCounts();
        t.true(await waitFor(() => Object.keys(handles()).length === 0), JSON.stringify(handles()));
        uvloop.close();
      }
      t.true(reference.reconnected, 'the reference reconnected');
      t.deepEqual(reference.errors, []);
      t.deepEqual(run.replies, reference.replies);
      t.true(run.reconnected, 'a new connection after the kill');
      t.deepEqual(run.errors, [], 'no error on any connection');
    }));
}
