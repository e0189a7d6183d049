// RESP: the examples/resp-server Protocol on UvEventLoop vs the same Protocol
// on NodeEventLoop (node:net), driven by redis-benchmark (Debian's
// redis-tools) in a child process: 50 clients, GET and SET, with and without
// 16-command pipelining. details() adds a real redis-server on the same
// machine as the reference ceiling. Both need `apt-get install redis-tools
// redis-server`; without them the cases fail with that hint.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { UvEventLoop, type AbstractEventLoop } from '../loop/index.js';
import { NodeEventLoop } from '../adapters/index.js';
import { startRespServer } from '../examples/resp-server/main.js';
import { formatTable, median, runCase, type BenchCase } from './harness.js';

const requests = Number(process.env['RESP_REQUESTS'] ?? 100_000);

/** Runs redis-benchmark once and returns the requests/s of its single test. */
export function redisBenchmark(
  port: number,
  test: 'get' | 'set',
  pipeline: number,
  count = requests,
): Promise<number> {
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    test,
    '-n',
    String(count),
    '-c',
    '50',
    '-P',
    String(pipeline),
    '--csv',
  ];
  return new Promise((resolve, reject) =>
    execFile('redis-benchmark', args, (err, stdout) => {
      if (err)
        return reject(
          new Error(`redis-benchmark failed (apt-get install redis-tools): ${err.message}`),
        );
      // CSV: a header line, then "GET","63291.14",... per test.
      const m = /^"(?:GET|SET)","([\d.]+)"/m.exec(stdout);
      if (!m) return reject(new Error(`no result in redis-benchmark output:\n${stdout}`));
      resolve(Number(m[1]));
    }),
  );
}

async function onLoop(
  makeLoop: () => AbstractEventLoop,
  body: (port: number) => Promise<number>,
): Promise<number> {
  const loop = makeLoop();
  const server = await startRespServer(loop, '127.0.0.1', 0);
  const port = (server.sockets()[0] as { port: number }).port;
  try {
    return await body(port);
  } finally {
    server.close();
    await server.waitClosed();
    loop.close();
  }
}

const kinds = [
  { test: 'get', pipeline: 1 },
  { test: 'set', pipeline: 1 },
  { test: 'get', pipeline: 16 },
  { test: 'set', pipeline: 16 },
] as const;

const redisResults = new Map<string, number>();
const ourResults = new Map<string, number[]>();

function caseName(test: string, pipeline: number): string {
  return `RESP ${test.toUpperCase()}, 50 clients${pipeline > 1 ? `, -P ${pipeline}` : ''} (redis-benchmark)`;
}

export const cases: BenchCase[] = kinds.map(({ test, pipeline }) => ({
  name: caseName(test, pipeline),
  unit: 'req',
  rounds: 3,
  ours: {
    label: 'RespProtocol on UvEventLoop',
    async run() {
      const rate = await onLoop(
        () => new UvEventLoop(),
        (port) => redisBenchmark(port, test, pipeline),
      );
      const key = caseName(test, pipeline);
      ourResults.set(key, [...(ourResults.get(key) ?? []), rate]);
      return rate;
    },
  },
  theirs: {
    label: 'RespProtocol on NodeEventLoop',
    run: () =>
      onLoop(
        () => new NodeEventLoop(),
        (port) => redisBenchmark(port, test, pipeline),
      ),
  },
  async teardown() {
    // The real thing, after both sides: the median of three runs.
    const runs: number[] = [];
    for (let i = 0; i < 3; i++)
      runs.push(await withRedisServer((port) => redisBenchmark(port, test, pipeline)));
    redisResults.set(caseName(test, pipeline), median(runs));
  },
}));

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function withRedisServer(body: (port: number) => Promise<number>): Promise<number> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', (e) =>
        reject(new Error(`redis-server failed (apt-get install redis-server): ${e.message}`)),
      );
      const deadline = Date.now() + 5000;
      const probe = (): void => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve()));
        s.once('error', () =>
          Date.now() > deadline
            ? reject(new Error('redis-server did not start'))
            : setTimeout(probe, 50),
        );
      };
      probe();
    });
    return await body(port);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

export function details(): string {
  if (redisResults.size === 0) return '';
  const lines = [
    'RESP reference: redis-server on the same machine (requests/s; ours as a fraction of it)',
  ];
  for (const [name, rate] of redisResults) {
    const ours = median(ourResults.get(name) ?? [0]);
    lines.push(
      `  ${name.padEnd(48)} redis-server ${Math.round(rate).toString().padStart(8)}   UvEventLoop ${(ours / rate).toFixed(2)}x of it`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (m) => process.stderr.write(`${m}\n`)));
  console.log(formatTable(results));
  console.log(details());
}
