// HTTP: serveHttp (node:http over UvEventLoop transports) vs a plain
// node:http server, driven by wrk (Debian's package) in a child process,
// 50 connections, keep-alive, a small response.
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { Loop } from '../handles/index.js';
import { UvEventLoop } from '../loop/index.js';
import { serveHttp } from '../adapters/index.js';
import { formatTable, runCase, type BenchCase } from './harness.js';
import { wrk } from './loadgen/wrk.js';

const seconds = Number(process.env['HTTP_SECONDS'] ?? 2);
const listener: http.RequestListener = (_req, res) => res.end('hello from the benchmark\n');

async function wrkOn(port: number): Promise<number> {
  return (await wrk({ port, seconds })).rate;
}

export const cases: BenchCase[] = [
  {
    name: 'http keep-alive, 50 conns (wrk)',
    unit: 'req',
    rounds: 3,
    ours: {
      label: 'serveHttp on UvEventLoop',
      async run() {
        const uv = new Loop();
        const loop = new UvEventLoop(uv);
        const h = await serveHttp(loop, listener, '127.0.0.1', 0);
        try {
          return await wrkOn(h.port);
        } finally {
          await h.close();
          loop.close();
          await new Promise((r) => setTimeout(r, 50));
          uv.close();
        }
      },
    },
    theirs: {
      label: 'node:http',
      async run() {
        const server = http.createServer(listener);
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        try {
          return await wrkOn((server.address() as { port: number }).port);
        } finally {
          server.closeAllConnections();
          await new Promise((r) => server.close(r));
        }
      },
    },
  },
];

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (m) => process.stderr.write(`${m}\n`)));
  console.log(formatTable(results));
}
