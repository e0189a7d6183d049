// LoopAgent, LoopHttpsAgent and loopConnector: HTTP clients (node:http,
// got, axios, undici, ws) whose connections live on each loop, against real
// node:http / https / ws servers. Each case runs the same script with
// Node's own Agent (or net / tls, undici's and ws's defaults), the
// reference, and requires the same transcript; every case ends with
// nothing left on the loop (liveResources() is {}).
import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import axios from 'axios';
import got from 'got';
import { Agent as UndiciAgent, fetch as undiciFetch, request as undiciRequest } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import {
  LoopAgent,
  LoopHttpsAgent,
  UsageError,
  UvError,
  loopConnector,
  type AbstractEventLoop,
} from 'asyncuv';
import { runFixture } from '../helpers/child.js';
import { bothEventLoops } from '../helpers/event-loop-test.js';
import { until } from '../helpers/loop-test.js';
import { withPrograms } from '../helpers/tools.js';
import { selfSignedCert } from './tls-cert.js';
import { keepAliveTimer } from '../helpers/keepalive-timer.js';

const MiB = 1024 * 1024;
/** 1 MiB that is not all one byte, so that a misplaced chunk shows in the hash. */
const big = Buffer.alloc(MiB, 'asyncuv http-agent ');
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** GET /big: 1 MiB; POST /upload: the body's hash; /stall: no answer; else the path. */
const app: http.RequestListener = (req, res) => {
  if (req.url === '/big') res.end(big);
  else if (req.url === '/upload') {
    const hash = createHash('sha256');
    req.on('data', (d: Buffer) => hash.update(d));
    req.on('end', () => res.end(hash.digest('hex')));
  } else if (req.url === '/stall') req.on('close', () => res.destroy());
  else res.end(`hi ${req.url}`);
};

interface TestServer {
  port: number;
  server: http.Server;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

async function listen(server: http.Server, where: number | string = 0): Promise<TestServer> {
  let connections = 0;
  server.on(
    server instanceof https.Server ? 'secureConnection' : 'connection',
    () => connections++,
  );
  if (typeof where === 'string') server.listen(where);
  else server.listen(where, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    server,
    connections: () => connections,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

const httpServer = (): Promise<TestServer> => listen(http.createServer(app));

async function httpsServer(options: https.ServerOptions = {}): Promise<TestServer> {
  const { key, cert } = await selfSignedCert();
  return listen(https.createServer({ key, cert, ...options }, app));
}

interface Answer {
  status: number;
  body: string;
  reused: boolean;
  socket: Duplex;
  /** The CN of the peer's certificate (TLS). */
  peer: string | undefined;
}

/** One request through node:http (or https): its status, body (a hash beyond 1 KiB) and socket. */
function fetchWith(
  mod: typeof http | typeof https,
  options: https.RequestOptions,
  body?: Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = mod.request({ method: body ? 'POST' : 'GET', ...options }, (res) => {
      // Taken now: node:http detaches it from the response at its end.
      const socket = res.socket;
      const tls = socket as TLSSocket;
      const peer =
        typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate() : undefined;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const all = Buffer.concat(parts);
        resolve({
          status: res.statusCode!,
          body: all.length > 1024 ? `sha256 ${sha256(all)}` : all.toString(),
          reused: req.reusedSocket,
          socket,
          peer: peer?.subject?.CN as string | undefined,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const get = (options: https.RequestOptions, body?: Buffer): Promise<Answer> =>
  fetchWith(http, options, body);

/** Runs `script` with each agent (ours first, then Node's) and returns both transcripts. */
async function bothAgents<A extends http.Agent, T>(
  agents: [A, A],
  script: (agent: A) => Promise<T>,
): Promise<[T, T]> {
  const transcripts: T[] = [];
  for (const agent of agents) {
    try {
      transcripts.push(await script(agent));
    } finally {
      agent.destroy();
    }
  }
  return [transcripts[0]!, transcripts[1]!];
}

/** An error as a transcript shows it: its code, and whether it is the loop's UvError. */
const errorOf = (err: unknown): [string | undefined, boolean] => [
  (err as { code?: string }).code,
  err instanceof UvError,
];

/** A port nothing listens on now (the kernel's pick, released). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

const withSs = withPrograms(test, ['ss']);

test('argument errors are UsageErrors', (t) => {
  const loop = { not: 'a loop' } as unknown as AbstractEventLoop;
  const type = { instanceOf: UsageError, code: 'ERR_INVALID_ARG_TYPE' };
  t.throws(() => new LoopAgent(loop), type);
  t.throws(() => new LoopHttpsAgent(loop), type);
  t.throws(() => loopConnector(loop), type);
});

for (const kind of ['uv', 'node', 'net'] as const) {
  for (const proto of ['http', 'https'] as const) {
    const agent = kind === 'net' ? `Node's ${proto}.Agent` : `the ${proto} agent on ${kind}`;
    test(`${agent}: a free keep-alive socket lets the process exit`, async (t) => {
      const run = await runFixture('agent-unref.js', [kind, proto], { timeoutMs: 15_000 });
      t.false(run.timedOut, `exited by itself: ${run.stdout}${run.stderr}`);
      t.is(run.code, 0, run.stderr);
      t.is(run.stdout, 'answered hello, 1 free\n');
    });
  }
}

for (const [name, onEventLoop] of bothEventLoops) {
  const loopTest = (
    title: string,
    body: (t: ExecutionContext, loop: AbstractEventLoop) => Promise<void>,
  ): void => {
    test(`${name}: ${title}`, (t) => onEventLoop(t, (loop) => body(t, loop)));
  };

  loopTest('bad options throw UsageErrors, before any connection', async (t, loop) => {
    t.throws(() => new LoopAgent(loop, 5 as never), { code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => loopConnector(loop, null as never), { code: 'ERR_INVALID_ARG_TYPE' });
    const agent = new LoopAgent(loop);
    try {
      // net.createConnection throws for a bad port, from http.request(): so do we.
      t.throws(() => http.get({ host: '127.0.0.1', port: 70000, agent }), {
        instanceOf: UsageError,
        code: 'ERR_OUT_OF_RANGE',
      });
      t.throws(() => http.get({ host: '127.0.0.1', port: 'http', agent }), {
        instanceOf: UsageError,
        code: 'ERR_INVALID_ARG_VALUE',
      });
      const connect = loopConnector(loop);
      t.throws(() => connect(null as never), { code: 'ERR_INVALID_ARG_TYPE' });
      t.throws(() => connect({ host: '127.0.0.1', port: 80 }, 'no' as never), {
        code: 'ERR_INVALID_ARG_TYPE',
      });
      t.deepEqual(loop.liveResources(), {}, 'nothing was started');
    } finally {
      agent.destroy();
    }
  });

  loopTest('node:http GET and POST of 1 MiB each way, as with http.Agent', async (t, loop) => {
    const server = await httpServer();
    try {
      const [ours, node] = await bothAgents(
        [new LoopAgent(loop), new http.Agent()],
        async (agent) => {
          const at = { host: '127.0.0.1', port: server.port, agent };
          const down = await get({ ...at, path: '/big' });
          const up = await get({ ...at, path: '/upload' }, big);
          return [down.status, down.body, up.status, up.body];
        },
      );
      t.deepEqual(ours, node);
      t.deepEqual(ours, [200, `sha256 ${sha256(big)}`, 200, sha256(big)]);
    } finally {
      await server.close();
    }
  });

  loopTest('keep-alive: one socket serves 5 sequential requests', async (t, loop) => {
    const server = await httpServer();
    try {
      const [ours, node] = await bothAgents(
        [new LoopAgent(loop, { keepAlive: true }), new http.Agent({ keepAlive: true })],
        async (agent) => {
          const before = server.connections();
          const answers: Answer[] = [];
          for (let i = 0; i < 5; i++) {
            answers.push(await get({ host: '127.0.0.1', port: server.port, path: `/${i}`, agent }));
          }
          const sockets = new Set(answers.map((a) => a.socket));
          return {
            bodies: answers.map((a) => a.body),
            reused: answers.map((a) => a.reused),
            sockets: sockets.size,
            connections: server.connections() - before,
            free: Object.values(agent.freeSockets).flat().length,
          };
        },
      );
      t.deepEqual(ours, node);
      t.deepEqual(ours, {
        bodies: ['hi /0', 'hi /1', 'hi /2', 'hi /3', 'hi /4'],
        reused: [false, true, true, true, true],
        sockets: 1,
        connections: 1,
        free: 1,
      });
    } finally {
      await server.close();
    }
  });

  loopTest('maxSockets: requests beyond it queue, counted while connecting', async (t, loop) => {
    const server = await httpServer();
    try {
      const options = { keepAlive: true, maxSockets: 2 };
      const [ours, node] = await bothAgents(
        [new LoopAgent(loop, options), new http.Agent(options)],
        async (agent) => {
          const before = server.connections();
          const at = { host: '127.0.0.1', port: server.port, agent };
          const answers = [0, 1, 2, 3, 4, 5].map((i) => get({ ...at, path: `/${i}` }));
          // The two sockets exist (connecting) at once; the other four wait.
          const queued = Object.values(agent.requests).flat().length;
          const sockets = Object.values(agent.sockets).flat().length;
          const bodies = (await Promise.all(answers)).map((a) => a.body);
          return { queued, sockets, bodies, connections: server.connections() - before };
        },
      );
      t.deepEqual(ours, node);
      t.deepEqual(ours, {
        queued: 4,
        sockets: 2,
        bodies: ['hi /0', 'hi /1', 'hi /2', 'hi /3', 'hi /4', 'hi /5'],
        connections: 2,
      });
    } finally {
      await server.close();
    }
  });

  loopTest("a refused connection reaches the request's 'error' (UvError)", async (t, loop) => {
    // A port that was just free: nothing listens there.
    const gone = await httpServer();
    const { port } = gone;
    await gone.close();
    const [ours, node] = await bothAgents([new LoopAgent(loop), new http.Agent()], (agent) =>
      get({ host: '127.0.0.1', port, agent }).then(
        () => 'answered',
        (err: unknown) => errorOf(err),
      ),
    );
    t.deepEqual(ours, ['ECONNREFUSED', true]);
    t.deepEqual(node, ['ECONNREFUSED', false]);
  });

  loopTest('timeouts: req.setTimeout() and the Agent timeout option', async (t, loop) => {
    const server = await httpServer();
    try {
      const script = async (agent: http.Agent, setTimeout: boolean): Promise<unknown> => {
        const events: string[] = [];
        const req = http.get({ host: '127.0.0.1', port: server.port, path: '/stall', agent });
        if (setTimeout) req.setTimeout(200);
        req.on('timeout', () => {
          events.push('timeout');
          req.destroy();
        });
        req.on('error', (err) => events.push(`error ${errorOf(err)[0]}`));
        await new Promise((resolve) => req.on('close', resolve));
        events.push('close');
        return events;
      };
      const viaReq = await bothAgents([new LoopAgent(loop), new http.Agent()], (agent) =>
        script(agent, true),
      );
      const viaAgent = await bothAgents(
        [new LoopAgent(loop, { timeout: 200 }), new http.Agent({ timeout: 200 })],
        (agent) => script(agent, false),
      );
      t.deepEqual(viaReq[0], viaReq[1]);
      t.deepEqual(viaAgent[0], viaAgent[1]);
      t.deepEqual(viaReq[0], ['timeout', 'error ECONNRESET', 'close']);
    } finally {
      await server.close();
    }
  });

  loopTest('a request aborted in the middle of its body', async (t, loop) => {
    const seen: Array<Promise<unknown>> = [];
    const server = await listen(
      http.createServer((req, res) => {
        let received = 0;
        req.on('data', (d: Buffer) => (received += d.length));
        // The client's abort is an 'aborted' error on the server's request.
        req.on('error', () => {});
        seen.push(
          new Promise((resolve) => req.on('close', resolve)).then(() => {
            res.destroy();
            return [req.complete, received > 0];
          }),
        );
      }),
    );
    try {
      const [ours, node] = await bothAgents(
        [new LoopAgent(loop), new http.Agent()],
        async (agent) => {
          const events: string[] = [];
          const req = http.request({
            host: '127.0.0.1',
            port: server.port,
            method: 'POST',
            path: '/upload',
            headers: { 'content-length': 2 * MiB },
            agent,
          });
          req.on('error', (err) => events.push(`error ${errorOf(err)[0]}`));
          const closed = new Promise((resolve) => req.on('close', resolve));
          req.write(big);
          await until(() => seen.length === 1, 'the server has the request');
          req.destroy();
          await closed;
          events.push('close');
          const atServer = await seen.shift();
          return { events, server: atServer };
        },
      );
      t.deepEqual(ours, node);
      t.deepEqual(ours, { events: ['error ECONNRESET', 'close'], server: [false, true] });
    } finally {
      await server.close();
    }
  });

  loopTest('a Unix socket (socketPath)', async (t, loop) => {
    const dir = await mkdtemp(join(tmpdir(), 'asyncuv-agent-'));
    const server = await listen(http.createServer(app), join(dir, 'http.sock'));
    try {
      const socketPath = join(dir, 'http.sock');
      const options = { keepAlive: true };
      const [ours, node] = await bothAgents(
        [new LoopAgent(loop, options), new http.Agent(options)],
        async (agent) => {
          const a = await get({ socketPath, path: '/a', agent });
          const b = await get({ socketPath, path: '/upload', agent }, big);
          return [a.body, b.body, b.reused, server.connections()];
        },
      );
      t.deepEqual(ours, [node[0], node[1], node[2], 1]);
      t.deepEqual(node, ['hi /a', sha256(big), true, 2]);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  loopTest(
    'HTTPS: a TLSSocket; authorized, ca, servername, ALPN as https.Agent',
    async (t, loop) => {
      const server = await httpsServer({ ALPNProtocols: ['h2', 'http/1.1'] });
      const { cert } = await selfSignedCert();
      try {
        const script = async (agent: https.Agent): Promise<unknown> => {
          const at = { host: '127.0.0.1', port: server.port, agent };
          const answer = await fetchWith(https, { ...at, path: '/big' });
          const socket = answer.socket as TLSSocket;
          const up = await fetchWith(https, { ...at, path: '/upload' }, big);
          return [
            answer.status,
            answer.body,
            up.body,
            socket.constructor.name,
            socket.authorized,
            socket.authorizationError,
            answer.peer,
            socket.alpnProtocol,
          ];
        };
        const agents = (options: https.AgentOptions): [https.Agent, https.Agent] => [
          new LoopHttpsAgent(loop, options),
          new https.Agent(options),
        ];
        const alpn = { ALPNProtocols: ['http/1.1'] };
        const unverified = await bothAgents(agents({ rejectUnauthorized: false, ...alpn }), script);
        const verified = await bothAgents(agents({ ca: cert }), script);
        t.deepEqual(unverified[0], unverified[1]);
        t.deepEqual(verified[0], verified[1]);
        const bodies = [200, `sha256 ${sha256(big)}`, sha256(big), 'TLSSocket'];
        t.deepEqual(unverified[0], [
          ...bodies,
          false,
          'DEPTH_ZERO_SELF_SIGNED_CERT',
          'localhost',
          'http/1.1',
        ]);
        t.deepEqual(verified[0], [...bodies, true, null, 'localhost', false]);
        // Refused: not trusted, or not the name the certificate carries.
        for (const options of [{}, { ca: cert, servername: 'wrong.example' }]) {
          const [ours, node] = await bothAgents(agents(options), (agent) =>
            fetchWith(https, { host: 'localhost', port: server.port, agent }).then(
              () => 'answered',
              (err: unknown) => errorOf(err),
            ),
          );
          t.deepEqual(ours, node);
        }
      } finally {
        await server.close();
      }
    },
  );

  loopTest('HTTPS: keep-alive reuse and TLS session resumption', async (t, loop) => {
    // TLS 1.2: the session is known when the handshake ends (a TLS 1.3
    // ticket comes after it, too late for a request sent at once).
    const server = await httpsServer({ maxVersion: 'TLSv1.2' });
    const { cert } = await selfSignedCert();
    try {
      const script = async (agent: https.Agent): Promise<unknown> => {
        const before = server.connections();
        const resumed: boolean[] = [];
        for (let i = 0; i < 3; i++) {
          const answer = await fetchWith(https, {
            host: 'localhost',
            port: server.port,
            path: `/${i}`,
            agent,
          });
          resumed.push((answer.socket as TLSSocket).isSessionReused());
          if (!(agent as { keepAlive?: boolean }).keepAlive)
            await until(() => answer.socket.destroyed, 'the socket closed');
        }
        return [resumed, server.connections() - before];
      };
      const kept = await bothAgents(
        [
          new LoopHttpsAgent(loop, { ca: cert, keepAlive: true }),
          new https.Agent({ ca: cert, keepAlive: true }),
        ],
        script,
      );
      const fresh = await bothAgents(
        [new LoopHttpsAgent(loop, { ca: cert }), new https.Agent({ ca: cert })],
        script,
      );
      t.deepEqual(kept[0], kept[1]);
      t.deepEqual(kept[0], [[false, false, false], 1], 'one connection, one handshake');
      t.deepEqual(fresh[0], fresh[1]);
      t.deepEqual(fresh[0], [[false, true, true], 3], 'a connection each, the session resumed');
    } finally {
      await server.close();
    }
  });

  loopTest(
    'loopConnector: a TLS session is resumed under the same TLS options only, as https.Agent',
    async (t, loop) => {
      const server = await httpsServer({ maxVersion: 'TLSv1.2' });
      const { cert } = await selfSignedCert();
      try {
        // The second request trusts differently (rejectUnauthorized: false):
        // it must not be offered the first one's session; the third, as the
        // first, resumes it.
        const script = async (via: https.RequestOptions): Promise<boolean[]> => {
          const resumed: boolean[] = [];
          for (const options of [{}, { rejectUnauthorized: false }, {}]) {
            const answer = await fetchWith(https, {
              host: 'localhost',
              port: server.port,
              ca: cert,
              ...options,
              ...via,
            });
            resumed.push((answer.socket as TLSSocket).isSessionReused());
            await until(() => answer.socket.destroyed, 'the socket closed');
          }
          return resumed;
        };
        const ours = await script({ createConnection: loopConnector(loop) });
        const agent = new https.Agent();
        const node = await script({ agent }).finally(() => agent.destroy());
        t.deepEqual(ours, node);
        t.deepEqual(ours, [false, false, true]);
      } finally {
        await server.close();
      }
    },
  );

  withSs(`${name}: HTTPS: the TLS socket's setKeepAlive() reaches the loop's connection`, (t) =>
    onEventLoop(t, async (loop) => {
      const server = await httpsServer();
      const peers: number[] = [];
      server.server.on('connection', (s: Socket) => peers.push(s.remotePort!));
      const { cert } = await selfSignedCert();
      try {
        const options = { ca: cert, keepAlive: true, keepAliveMsecs: 10_000 };
        const [ours, node] = await bothAgents(
          [new LoopHttpsAgent(loop, options), new https.Agent(options)],
          async (agent) => {
            const { socket } = await fetchWith(https, {
              host: 'localhost',
              port: server.port,
              agent,
            });
            // The Agent sets SO_KEEPALIVE on a socket as it frees it.
            await until(() => Object.values(agent.freeSockets).flat().length === 1, 'freed');
            const port = peers.at(-1)!;
            // The delays less the time ss took to look.
            const freed = await keepAliveTimer(port);
            (socket as TLSSocket).setKeepAlive(false);
            const off = await keepAliveTimer(port);
            (socket as TLSSocket).setKeepAlive(true, 20_000);
            const on = await keepAliveTimer(port);
            return [freed !== null && freed > 3 && freed <= 10, off, on !== null && on > 13];
          },
        );
        t.deepEqual(ours, node);
        t.deepEqual(ours, [true, null, true], 'keepAliveMsecs; off; 20 s');
      } finally {
        await server.close();
      }
    }),
  );

  loopTest('localPort: the connection is made from that port, as with net', async (t, loop) => {
    const server = await httpServer();
    const peers: number[] = [];
    server.server.on('connection', (s: Socket) => peers.push(s.remotePort!));
    try {
      const script = async (via: http.RequestOptions): Promise<boolean> => {
        const localPort = await freePort();
        await get({ host: '127.0.0.1', port: server.port, localPort, ...via });
        return peers.at(-1) === localPort;
      };
      const agent = new LoopAgent(loop);
      const results = [
        await script({ agent }).finally(() => agent.destroy()),
        await script({ createConnection: loopConnector(loop) }),
        await script({ agent: new http.Agent() }),
      ];
      t.deepEqual(results, [true, true, true]);
      const bad = new LoopAgent(loop);
      try {
        const at = { host: '127.0.0.1', port: server.port, agent: bad };
        t.throws(() => http.get({ ...at, localPort: 70000 }), {
          instanceOf: UsageError,
          code: 'ERR_OUT_OF_RANGE',
        });
      } finally {
        bad.destroy();
      }
      t.deepEqual(loop.liveResources(), {});
    } finally {
      await server.close();
    }
  });

  loopTest('got and axios with the agents (http and https)', async (t, loop) => {
    const server = await httpServer();
    const secure = await httpsServer();
    const { cert } = await selfSignedCert();
    try {
      const script = async (agent: http.Agent, httpsAgent: https.Agent): Promise<unknown> => {
        const client = got.extend({
          retry: { limit: 0 },
          agent: { http: agent, https: httpsAgent },
        });
        const plain = `http://127.0.0.1:${server.port}`;
        const tls = `https://localhost:${secure.port}`;
        const gotBig = await client.get(`${plain}/big`).buffer();
        const gotUp = await client.post(`${plain}/upload`, { body: big }).text();
        const gotTls = await client.get(`${tls}/hello`).text();
        const ax = axios.create({ httpAgent: agent, httpsAgent, proxy: false });
        const axBig = await ax.get<ArrayBuffer>(`${plain}/big`, { responseType: 'arraybuffer' });
        const axUp = await ax.post<string>(`${plain}/upload`, big, { responseType: 'text' });
        const axTls = await ax.get<string>(`${tls}/hello`, { responseType: 'text' });
        return [
          sha256(gotBig),
          gotUp,
          gotTls,
          sha256(Buffer.from(axBig.data)),
          axUp.data,
          axTls.data,
        ];
      };
      const httpsAgents: [https.Agent, https.Agent] = [
        new LoopHttpsAgent(loop, { ca: cert, keepAlive: true }),
        new https.Agent({ ca: cert, keepAlive: true }),
      ];
      let i = 0;
      const [ours, node] = await bothAgents(
        [new LoopAgent(loop, { keepAlive: true }), new http.Agent({ keepAlive: true })],
        async (agent) => {
          const httpsAgent = httpsAgents[i++]!;
          try {
            return await script(agent, httpsAgent);
          } finally {
            httpsAgent.destroy();
          }
        },
      );
      t.deepEqual(ours, node);
      t.deepEqual(ours, [
        sha256(big),
        sha256(big),
        'hi /hello',
        sha256(big),
        sha256(big),
        'hi /hello',
      ]);
    } finally {
      await server.close();
      await secure.close();
    }
  });

  loopTest(
    'http.request and https.request with createConnection: loopConnector',
    async (t, loop) => {
      const server = await httpServer();
      const secure = await httpsServer();
      const { cert } = await selfSignedCert();
      try {
        const connect = loopConnector(loop);
        const script = async (createConnection?: typeof connect): Promise<unknown> => {
          const via = createConnection === undefined ? {} : { createConnection };
          const down = await get({ host: '127.0.0.1', port: server.port, path: '/big', ...via });
          const up = await get(
            { host: '127.0.0.1', port: server.port, path: '/upload', ...via },
            big,
          );
          const tls = await fetchWith(https, {
            host: 'localhost',
            port: secure.port,
            path: '/tls',
            ca: cert,
            ...via,
          });
          const socket = tls.socket as TLSSocket;
          const refused = await get({ host: '127.0.0.1', port: 1, ...via }).then(
            () => 'answered',
            (err: unknown) => errorOf(err)[0],
          );
          return [down.body, up.body, tls.body, socket.authorized, refused];
        };
        const ours = await script(connect);
        const node = await script();
        t.deepEqual(ours, node);
        t.deepEqual(ours, [`sha256 ${sha256(big)}`, sha256(big), 'hi /tls', true, 'ECONNREFUSED']);
      } finally {
        await server.close();
        await secure.close();
      }
    },
  );

  loopTest(
    "undici's fetch and request through Agent({ connect: loopConnector })",
    async (t, loop) => {
      const server = await httpServer();
      const secure = await httpsServer();
      const { cert } = await selfSignedCert();
      try {
        const script = async (dispatcher: UndiciAgent): Promise<unknown[]> => {
          try {
            const plain = `http://127.0.0.1:${server.port}`;
            const down = await undiciFetch(`${plain}/big`, { dispatcher });
            const downHash = sha256(Buffer.from(await down.arrayBuffer()));
            const up = await undiciRequest(`${plain}/upload`, {
              method: 'POST',
              body: big,
              dispatcher,
            });
            const tls = await undiciFetch(`https://localhost:${secure.port}/tls`, { dispatcher });
            const refused = await undiciRequest(`http://127.0.0.1:1/`, { dispatcher }).then(
              () => 'answered',
              (err: unknown) => errorOf(err)[0],
            );
            const texts = [await up.body.text(), await tls.text()];
            return [downHash, ...texts, refused];
          } finally {
            await dispatcher.close();
          }
        };
        const ours = await script(new UndiciAgent({ connect: loopConnector(loop, { ca: cert }) }));
        const node = await script(new UndiciAgent({ connect: { ca: cert } }));
        t.deepEqual(ours, node);
        t.deepEqual(ours, [sha256(big), sha256(big), 'hi /tls', 'ECONNREFUSED']);
      } finally {
        await server.close();
        await secure.close();
      }
    },
  );

  loopTest('the ws client (ws: and wss:) with createConnection: loopConnector', async (t, loop) => {
    const { key, cert } = await selfSignedCert();
    const plain = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    const tlsServer = https.createServer({ key, cert });
    const secure = new WebSocketServer({ server: tlsServer });
    tlsServer.listen(0, '127.0.0.1');
    await Promise.all([once(plain, 'listening'), once(tlsServer, 'listening')]);
    for (const wss of [plain, secure]) {
      wss.on('connection', (ws) => {
        ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo ${String(data)}`));
      });
    }
    const script = async (url: string, createConnection?: unknown): Promise<unknown> => {
      const ws = new WebSocket(url, {
        ca: cert,
        ...(createConnection === undefined ? {} : { createConnection: createConnection as never }),
      });
      const received: unknown[] = [];
      ws.on('message', (data: Buffer, isBinary) =>
        received.push(isBinary ? sha256(data) : String(data)),
      );
      await once(ws, 'open');
      ws.send('hello');
      ws.send(big);
      while (received.length < 2) await once(ws, 'message');
      const closed = once(ws, 'close');
      ws.close(1000, 'done');
      const [code, reason] = (await closed) as [number, Buffer];
      return [received, code, String(reason)];
    };
    try {
      const urls = [
        `ws://127.0.0.1:${(plain.address() as AddressInfo).port}/`,
        `wss://localhost:${(tlsServer.address() as AddressInfo).port}/`,
      ];
      for (const url of urls) {
        const ours = await script(url, loopConnector(loop));
        const node = await script(url);
        t.deepEqual(ours, node, url);
        t.deepEqual(ours, [['echo hello', sha256(big)], 1000, 'done'], url);
      }
    } finally {
      for (const wss of [plain, secure]) {
        for (const client of wss.clients) client.terminate();
        await new Promise((resolve) => wss.close(resolve));
      }
      tlsServer.closeAllConnections();
      await new Promise((resolve) => tlsServer.close(resolve));
    }
  });

  loopTest('agent.destroy() closes every connection: nothing left on the loop', async (t, loop) => {
    const server = await httpServer();
    const agent = new LoopAgent(loop, { keepAlive: true, maxSockets: 3 });
    try {
      const at = { host: '127.0.0.1', port: server.port, agent };
      await Promise.all([1, 2, 3].map((i) => get({ ...at, path: `/${i}` })));
      t.is(Object.values(agent.freeSockets).flat().length, 3, 'three free keep-alive sockets');
      t.is(loop.liveResources().transport, 3);
      agent.destroy();
      await until(() => Object.keys(loop.liveResources()).length === 0, 'every transport closed');
      t.deepEqual(loop.liveResources(), {});
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  loopTest(
    'destroyed while connecting (agent or request): as with Node, nothing left',
    async (t, loop) => {
      const server = await httpServer();
      const secure = await httpsServer();
      const { cert } = await selfSignedCert();
      try {
        // The request is made and destroyed in the same tick: its connection
        // is still being made (net's, and the loop's).
        const script = async (
          mod: typeof http | typeof https,
          agent: http.Agent,
          port: number,
          by: 'agent' | 'request',
        ): Promise<unknown> => {
          const events: string[] = [];
          const req = mod.get({ host: '127.0.0.1', port, path: '/late', agent, ca: cert });
          req.on('error', (err) => events.push(`error ${errorOf(err)[0]}`));
          const closed = new Promise((resolve) => req.on('close', resolve));
          if (by === 'agent') agent.destroy();
          else req.destroy();
          await closed;
          return events;
        };
        for (const by of ['agent', 'request'] as const) {
          const plain = await bothAgents([new LoopAgent(loop), new http.Agent()], (agent) =>
            script(http, agent, server.port, by),
          );
          const tls = await bothAgents(
            [new LoopHttpsAgent(loop, { ca: cert }), new https.Agent({ ca: cert })],
            (agent) => script(https, agent, secure.port, by),
          );
          t.deepEqual(plain[0], plain[1], `http, ${by}`);
          t.deepEqual(tls[0], tls[1], `https, ${by}`);
        }
        await until(() => Object.keys(loop.liveResources()).length === 0, 'every connection gone');
        t.deepEqual(loop.liveResources(), {});
      } finally {
        await server.close();
        await secure.close();
      }
    },
  );

  loopTest("a connector's socket is connecting, then 'connect', as net's", async (t, loop) => {
    const server = await httpServer();
    try {
      const script = async (socket: Duplex): Promise<unknown> => {
        const s = socket as Socket;
        const before = [s.connecting, s.pending, s.readyState];
        // Written while connecting: sent once connected.
        s.write(`GET /early HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        await once(s, 'connect');
        const after = [s.connecting, s.pending, s.readyState, s.remotePort === server.port];
        const parts: Buffer[] = [];
        for await (const chunk of s) parts.push(chunk as Buffer);
        const text = Buffer.concat(parts).toString();
        return [before, after, text.split('\r\n')[0], text.endsWith('hi /early')];
      };
      const at = { host: '127.0.0.1', port: server.port };
      const ours = await script(loopConnector(loop)(at));
      const node = await script(createConnection(at));
      t.deepEqual(ours, node);
      t.deepEqual(ours, [
        [true, true, 'opening'],
        [false, false, 'open', true],
        'HTTP/1.1 200 OK',
        true,
      ]);
    } finally {
      await server.close();
    }
  });
}
