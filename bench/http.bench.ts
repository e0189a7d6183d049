// HTTP: serveHttp (node:http over UvEventLoop transports) vs a plain
// node:http server, driven by wrk (Debian's package) in a child process,
// 50 connections, keep-alive, a small response. And the client side:
// node:http's client with a LoopAgent on a UvEventLoop vs Node's own Agent,
// keep-alive, against a node:http server in a child process (so that only
// the client runs in this one). And a framework: Express on serveHttp vs
// Express on node:http, keep-alive and with `Connection: close` (a new
// connection per request), the cost a user of a framework sees.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import express from 'express';
import { pathToFileURL } from 'node:url';
import { Loop } from '../handles/index.js';
import { UvEventLoop } from '../loop/index.js';
import { LoopAgent, serveHttp } from '../adapters/index.js';
import { formatTable, perSecond, runCase, type BenchCase } from './harness.js';
import { wrk } from './loadgen/wrk.js';

const seconds = Number(process.env['HTTP_SECONDS'] ?? 2);
const listener: http.RequestListener = (_req, res) => res.end('hello from the benchmark\n');

async function wrkOn(port: number, path = '/', connectionClose = false): Promise<number> {
  return (await wrk({ port, seconds, path, connectionClose })).rate;
}

/** wrk against `app` served by serveHttp on a fresh UvEventLoop of its own Loop. */
async function wrkOnServeHttp(
  app: http.RequestListener,
  path = '/',
  connectionClose = false,
): Promise<number> {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  const h = await serveHttp(loop, app, '127.0.0.1', 0);
  try {
    return await wrkOn(h.port, path, connectionClose);
  } finally {
    await h.close();
    loop.close();
    await new Promise((r) => setTimeout(r, 50));
    uv.close();
  }
}

/** The same wrk load against `app` on a plain node:http server. */
async function wrkOnNodeHttp(
  app: http.RequestListener,
  path = '/',
  connectionClose = false,
): Promise<number> {
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await wrkOn((server.address() as { port: number }).port, path, connectionClose);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/** An Express app with one JSON route, /json. */
function expressApp(): http.RequestListener {
  const app = express();
  app.get('/json', (_req, res) => void res.json({ hello: 'from the benchmark' }));
  return app;
}

/** Express served by serveHttp on a fresh UvEventLoop, or by node:http, under wrk. */
function expressCase(connectionClose: boolean): BenchCase {
  return {
    name: `Express ${connectionClose ? 'Connection: close' : 'keep-alive'}, 50 conns (wrk)`,
    unit: 'req',
    rounds: 3,
    ours: {
      label: 'Express on serveHttp (UvEventLoop)',
      run: () => wrkOnServeHttp(expressApp(), '/json', connectionClose),
    },
    theirs: {
      label: 'Express on node:http',
      run: () => wrkOnNodeHttp(expressApp(), '/json', connectionClose),
    },
  };
}

// The client case's server: node:http in a child process, on a port it prints.
let serverChild: ChildProcess | undefined;
let serverPort = 0;
const serverCode = `
const http = require('node:http');
const server = http.createServer((req, res) => res.end('hello from the benchmark\\n'));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** CLIENT_REQUESTS requests, CLIENT_CONNS at a time, each connection kept alive by `agent`. */
const clientRequests = Number(process.env['CLIENT_REQUESTS'] ?? 5000);
const clientConns = 8;
async function clientRun(agent: http.Agent): Promise<number> {
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: serverPort, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  try {
    return await perSecond(clientRequests, async () => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next++ < clientRequests) await one();
      };
      await Promise.all(Array.from({ length: clientConns }, worker));
    });
  } finally {
    agent.destroy();
  }
}

export const cases: BenchCase[] = [
  {
    name: 'http keep-alive, 50 conns (wrk)',
    unit: 'req',
    rounds: 3,
    ours: {
      label: 'serveHttp on UvEventLoop',
      run: () => wrkOnServeHttp(listener),
    },
    theirs: {
      label: 'node:http',
      run: () => wrkOnNodeHttp(listener),
    },
  },
  expressCase(false),
  expressCase(true),
  {
    name: `http client keep-alive, ${clientConns} conns (node:http client)`,
    unit: 'req',
    async setup() {
      serverChild = spawn(process.execPath, ['-e', serverCode], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const [line] = (await once(serverChild.stdout!, 'data')) as [Buffer];
      serverPort = Number(String(line).trim());
    },
    async teardown() {
      serverChild?.kill();
      if (serverChild !== undefined && serverChild.exitCode === null)
        await once(serverChild, 'exit');
      serverChild = undefined;
    },
    ours: {
      label: 'LoopAgent on UvEventLoop',
      async run() {
        const uv = new Loop();
        const loop = new UvEventLoop(uv);
        try {
          return await clientRun(new LoopAgent(loop, { keepAlive: true, maxSockets: clientConns }));
        } finally {
          loop.close();
          await new Promise((r) => setTimeout(r, 50));
          uv.close();
        }
      },
    },
    theirs: {
      label: "node:http's Agent",
      run: () => clientRun(new http.Agent({ keepAlive: true, maxSockets: clientConns })),
    },
  },
];

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const results = [];
  // HTTP_CASE=<part of a name> runs only the cases whose name holds it.
  const only = process.env['HTTP_CASE'];
  for (const c of cases.filter((k) => only === undefined || k.name.includes(only)))
    results.push(await runCase(c, (m) => process.stderr.write(`${m}\n`)));
  console.log(formatTable(results));
}
