// The RESP example against clients nobody here wrote: Debian's redis-cli and
// redis-benchmark (redis-tools), on both loops. The
// figures of the benchmark are not checked here (bench/resp.bench.ts
// measures them); that it completes every request without an error is.
import anyTest from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Loop } from '../../handles/index.js';
import { UvEventLoop } from '../../loop/index.js';
import { NodeEventLoop } from '../../adapters/index.js';
import { startRespServer } from '../../examples/resp-server/main.js';
import { withPrograms } from '../helpers/tools.js';

const run = promisify(execFile);
const test = withPrograms(anyTest, ['redis-cli', 'redis-benchmark']);

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout.trim();
}

const loops = {
  UvEventLoop: () => {
    const uv = new Loop();
    return {
      loop: new UvEventLoop(uv),
      handles: () => uv.handleCounts(),
      dispose: () => uv.close(),
    };
  },
  NodeEventLoop: () => ({ loop: new NodeEventLoop(), handles: () => ({}), dispose: () => {} }),
};

for (const [name, make] of Object.entries(loops)) {
  test(`redis-cli and redis-benchmark talk to the RESP example on ${name}`, async (t) => {
    const { loop, handles, dispose } = make();
    const server = await startRespServer(loop, '127.0.0.1', 0);
    const port = (server.sockets()[0] as { port: number }).port;
    try {
      t.is(await cli(port, 'PING'), 'PONG');
      t.is(await cli(port, 'SET', 'greeting', 'hello world'), 'OK');
      t.is(await cli(port, 'GET', 'greeting'), 'hello world');
      t.is(await cli(port, 'INCR', 'counter'), '1');
      t.is(await cli(port, 'INCR', 'counter'), '2');
      t.is(await cli(port, 'EXISTS', 'greeting', 'counter', 'nope'), '2');
      t.is(await cli(port, 'MGET', 'greeting', 'nope', 'counter'), 'hello world\n\n2');
      t.is(await cli(port, 'DEL', 'greeting', 'nope'), '1');
      t.is(await cli(port, 'ECHO', 'over redis-cli'), 'over redis-cli');
      // What redis-cli sends on connect: SELECT for -n, HELLO 3 for -3 (the
      // replies are RESP3's: a verbatim INFO, a map, the null), COMMAND DOCS
      // when it reads commands from stdin.
      t.is(await cli(port, '-n', '0', 'PING'), 'PONG');
      t.is(await cli(port, '-3', 'PING'), 'PONG');
      t.regex(await cli(port, '-3', 'INFO', 'persistence'), /^# Persistence\r\nloading:0\r?$/);
      t.is(await cli(port, '-3', 'CONFIG', 'GET', 'save'), 'save');
      t.is(await cli(port, '-3', '--no-raw', 'MGET', 'counter', 'nope'), '1) "2"\n2) (nil)');
      t.regex(await cli(port, 'INFO', 'server'), /^# Server\r\nredis_version:7\.0\.0\r\n/);
      t.is(
        (
          await run('sh', [
            '-c',
            `printf 'CLIENT SETNAME me\\nCLIENT GETNAME\\n' | redis-cli -h 127.0.0.1 -p ${port}`,
          ])
        ).stdout,
        'OK\nme\n',
      );
      // A binary-safe value with CR LF inside, given on stdin (-x).
      const { stdout } = await run('sh', [
        '-c',
        `printf 'a\\r\\nb' | redis-cli -h 127.0.0.1 -p ${port} -x SET bin >/dev/null && redis-cli -h 127.0.0.1 -p ${port} --no-raw GET bin`,
      ]);
      t.is(stdout.trim(), '"a\\r\\nb"');

      // 2,000 requests per test from 10 clients, plain and with -P 16.
      for (const pipeline of ['1', '16']) {
        const bench = await run('redis-benchmark', [
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-t',
          'set,get,incr',
          '-n',
          '2000',
          '-c',
          '10',
          '-P',
          pipeline,
          '--csv',
        ]);
        // It reads `save` and `appendonly` with CONFIG GET, and warns without them.
        t.notRegex(bench.stderr, /Could not fetch server CONFIG/);
        const rows = bench.stdout.trim().split('\n').slice(1);
        t.deepEqual(
          rows.map((r) => r.split(',')[0]),
          ['"SET"', '"GET"', '"INCR"'],
          bench.stdout,
        );
        for (const row of rows) t.true(Number(JSON.parse(row.split(',')[1]!)) > 0, row);
      }
      // redis-benchmark's INCR hits one counter key: 2 * 2,000 on top of ours.
      t.is(await cli(port, 'GET', 'counter:__rand_int__'), '4000');
    } finally {
      server.close();
      await server.waitClosed();
      loop.close();
    }
    const deadline = Date.now() + 10_000;
    while (Object.keys(handles()).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    t.deepEqual(handles(), {}, 'every handle closed');
    dispose();
  });
}
