// The workloads bench/PROFILE.md breaks down, one per process, so that a
// profiler (perf, --cpu-prof, callgrind) sees nothing else:
//
//   node dist/bench/profile/workloads.js <workload> [count]
//
// - idle N:       one Idle callback per embedded batch, N batches;
// - callsoon N:   a callSoon chain of N callbacks on a UvEventLoop;
// - timers N:     N one-shot 1 ms Timer handles, each closed when it fires;
// - calllater N:  N callLater timers over 0-49 ms;
// - callat N:     the same timers by callAt, with the whens callLater gives
//                 when scheduling takes 0.5 us per timer: the timer queue
//                 sees the same buckets however slowly the process runs
//                 (under callgrind, calllater's whens spread over seconds,
//                 one or two timers per millisecond);
// - echo S [C]:   a Protocol echo server on a UvEventLoop, C connections
//                 (default 50) of 1 KiB ping-pong from the native client
//                 (bench/loadgen) for S seconds;
// - echo-node S [C], echo-cxx S [C]: the same load on a node:net echo
//                 server, and on the C++-only echo (bench/native/bench_echo.cc)
//                 on a fresh Loop: the references, to tell what the
//                 kernel costs per round trip from what our layers do;
// - streams S [C]: the same load on the asyncio-style streams echo server
//                 (startServer, StreamReader.read, StreamWriter.drain);
// - echo-rt N [C], streams-rt N [C]: the same two servers for exactly N
//                 round trips of a client in this process (TCP handles on
//                 the default Loop, C connections, default 1): the count
//                 callgrind needs (instructions.sh), since a client that
//                 runs for S seconds makes as many round trips as the
//                 server manages under valgrind, so runs of two sizes do not
//                 differ by a steady state. Client and server both count.
// - net-rt N [C]: the same client against node:net's echo server, so that
//                 echo-rt minus net-rt is our server's instructions over
//                 Node's, per round trip (also across Node versions).
// - echo-nodeloop S [C]: the echo load on the EchoProtocol on a
//                 NodeEventLoop: against echo-node, what the adapter adds;
// - node-rt N [C]: the same client against the EchoProtocol on a
//                 NodeEventLoop (node:net underneath), so that node-rt
//                 minus net-rt is what the adapter adds over node:net.
// - echo-layer N, streams-layer N: no socket: N echo round trips of 1 KiB
//                 through the EchoProtocol, or through a StreamReaderProtocol
//                 serving the streams echo, over a stand-in transport whose
//                 write() makes the next chunk due, fed by an Idle handle
//                 on the UvEventLoop's Loop once per pass (as a read would
//                 be): the streams layer's own cost (the difference of the
//                 two), without the kernel's noise.
// - resp N [P]:   the RESP example (examples/resp-server) on a UvEventLoop
//                 under redis-benchmark: N GET requests from 50 clients,
//                 pipelined P deep (default 16); ops are requests;
// - http S [C]:  serveHttp on a UvEventLoop under wrk, C keep-alive
//                 connections (default 50) for S seconds, the response of
//                 bench/http.bench.ts; ops are requests;
// - nodehttp S [C]: the same on a plain node:http server (the reference);
// - httpclose S [C], nodehttpclose S [C]: the same two with wrk's
//                 `Connection: close` (a connection per request);
// - express S [C], nodeexpress S [C], expressclose S [C],
//                 nodeexpressclose S [C]: bench/http.bench.ts's Express app
//                 (GET /json) on serveHttp and on node:http, keep-alive and
//                 with `Connection: close`;
// - httpn N [C]:  serveHttp under N keep-alive GETs over C connections
//                 (default 50) from bench/loadgen/http-client.ts in a child
//                 process: a fixed count, for instructions.sh;
// - nodehttpn N [C]: the same load on a plain node:http server;
// - httpclosen N [C], nodehttpclosen N [C]: the same two with a connection
//                 per request (`Connection: close`), C at a time;
// - queue N:      N small objects put into a sync Queue and got back, on
//                 this thread (the codec and ring copy of every item);
// - mutex N, futex N: N uncontended lock + increment + unlock on this
//                 thread, of a sync Mutex and of the futex reference
//                 (bench/futex-mutex.ts), in the loop of the sync bench's
//                 uncontended case; one function each (a shared loop would
//                 see both classes and compile polymorphic);
// - none:         loads asyncuv and does nothing (the startup to subtract).
//
// Each prints one JSON line: the operations done and the process CPU time
// per operation (user + system, this process only: the echo client is a
// child of its own), with the 1-minute load average at the end.
import { execFile } from 'node:child_process';
import http from 'node:http';
import express from 'express';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  Idle,
  Loop,
  NodeEventLoop,
  StreamReader,
  StreamReaderProtocol,
  TCP,
  Timer,
  type AbstractEventLoop,
  type Protocol,
  type Server,
  type Transport,
} from 'asyncuv';
import { Mutex, Queue } from 'asyncuv/sync';
import { serveHttp } from 'asyncuv/adapters';
import { pingPong } from '../loadgen/echo-client.js';
import {
  startCeilingEchoServer,
  startNodeEchoServer,
  type EchoServer,
} from '../loadgen/echo-servers.js';
import { EchoProtocol, freshLoop, streamsEchoServer } from '../fresh-loop.js';
import { FutexMutex } from '../futex-mutex.js';
import { startRespServer } from '../../examples/resp-server/main.js';
import { redisBenchmark } from '../resp.bench.js';
import { wrk } from '../loadgen/wrk.js';

interface Report {
  workload: string;
  ops: number;
  cpuUsPerOp: number;
  /** Its user and system parts: the kernel's (system) swings most with the machine's load. */
  userUsPerOp: number;
  sysUsPerOp: number;
  wallUsPerOp: number;
  load1: number;
  /** The measured window on the monotonic clock, in microseconds (for cpuprofile-breakdown). */
  startUs: number;
  endUs: number;
}

type Workload = (count: number) => Promise<number>;

function idle(count: number): Promise<number> {
  return new Promise((resolve) => {
    let runs = 0;
    const handle = new Idle();
    handle.start(() => {
      if (++runs === count) handle.close(() => resolve(count));
    });
  });
}

/**
 * Runs `start` on a fresh UvEventLoop until the `done` it gets was called
 * `count` times (`done` returns whether more are wanted), then disposes of
 * the loop.
 */
async function onFreshLoop(
  count: number,
  start: (loop: AbstractEventLoop, done: () => boolean) => void,
): Promise<number> {
  const { loop, dispose } = freshLoop();
  await new Promise<void>((resolve) => {
    let left = count;
    start(loop, () => {
      if (--left > 0) return true;
      resolve();
      return false;
    });
  });
  await dispose();
  return count;
}

function callSoon(count: number): Promise<number> {
  return onFreshLoop(count, (loop, done) => {
    const step = (): void => {
      if (done()) loop.callSoon(step);
    };
    loop.callSoon(step);
  });
}

function timers(count: number): Promise<number> {
  return new Promise((resolve) => {
    let fired = 0;
    const onFire = (timer: Timer): void => {
      timer.close();
      if (++fired === count) resolve(count);
    };
    for (let i = 0; i < count; i++) new Timer().start(onFire, 1);
  });
}

/** Node's counterpart of `timers`: setTimeout's instructions per timer. */
function setTimeouts(count: number): Promise<number> {
  return new Promise((resolve) => {
    let fired = 0;
    const onFire = (): void => {
      if (++fired === count) resolve(count);
    };
    for (let i = 0; i < count; i++) setTimeout(onFire, 1);
  });
}

/** Node's counterpart of `calllater`: setTimeout over 0-49 ms. */
function setTimeoutsSpread(count: number): Promise<number> {
  return new Promise((resolve) => {
    let fired = 0;
    const onFire = (): void => {
      if (++fired === count) resolve(count);
    };
    for (let i = 0; i < count; i++) setTimeout(onFire, i % 50);
  });
}

function callLater(count: number): Promise<number> {
  return onFreshLoop(count, (loop, fired) => {
    for (let i = 0; i < count; i++) loop.callLater((i % 50) / 1000, fired);
  });
}

// A fixed step per timer stands in for the time scheduling takes (between
// 0.5 and several us per timer on the shared machine, with its load).
const kModelStep = 0.5e-6;

function callAt(count: number): Promise<number> {
  return onFreshLoop(count, (loop, fired) => {
    const base = loop.time();
    for (let i = 0; i < count; i++) loop.callAt(base + i * kModelStep + (i % 50) / 1000, fired);
  });
}

/** Round trips of 1 KiB ping-pong on the server `make` starts, for `seconds`. */
async function echoOn(
  make: (loop: AbstractEventLoop) => Promise<Server>,
  seconds: number,
): Promise<number> {
  const conns = Number(process.argv[4] ?? 50);
  const { loop, dispose } = freshLoop();
  const server = await make(loop);
  const port = (server.sockets()[0] as { port: number }).port;
  const report = await pingPong({ port, conns, size: 1024, seconds, warmup: 0.2 });
  server.close();
  await server.waitClosed();
  await dispose();
  return report.total_roundtrips;
}

/** The same load on the EchoProtocol on a NodeEventLoop (node:net underneath). */
async function echoNodeLoop(seconds: number): Promise<number> {
  const conns = Number(process.argv[4] ?? 50);
  const loop = new NodeEventLoop();
  const server = await protocolEchoServer(loop);
  const port = (server.sockets()[0] as { port: number }).port;
  const report = await pingPong({ port, conns, size: 1024, seconds, warmup: 0.2 });
  server.close();
  await server.waitClosed();
  loop.close();
  return report.total_roundtrips;
}

/** The same load on one of the reference servers (node:net, the C++-only echo). */
async function echoReference(start: () => Promise<EchoServer>, seconds: number): Promise<number> {
  const conns = Number(process.argv[4] ?? 50);
  const server = await start();
  const report = await pingPong({ port: server.port, conns, size: 1024, seconds, warmup: 0.2 });
  await server.close();
  return report.total_roundtrips;
}

async function echoCxx(seconds: number): Promise<number> {
  const uvloop = new Loop();
  const n = await echoReference(async () => startCeilingEchoServer(uvloop), seconds);
  uvloop.close();
  return n;
}

const protocolEchoServer = (loop: AbstractEventLoop): Promise<Server> =>
  loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);

const echo = (seconds: number): Promise<number> => echoOn(protocolEchoServer, seconds);
const streams = (seconds: number): Promise<number> => echoOn(streamsEchoServer, seconds);

/** `count` round trips of 1 KiB over C connections from TCP handles in this process. */
function pingPongHere(port: number, count: number, conns: number): Promise<void> {
  const message = Buffer.alloc(1024, 0x62);
  let left = count;
  let open = conns;
  return new Promise((resolve, reject) => {
    for (let i = 0; i < conns; i++) {
      const tcp = new TCP();
      let pending = message.length;
      tcp.connect('127.0.0.1', port, (err) => {
        if (err !== null) return reject(err);
        tcp.setNoDelay(true);
        tcp.readStart((readErr, data) => {
          if (readErr !== null || data === null) return reject(readErr ?? new Error('EOF'));
          pending -= data.length;
          if (pending > 0) return;
          pending = message.length;
          if (--left >= conns) return tcp.write(message);
          tcp.close(() => {
            if (--open === 0) resolve();
          });
        });
        tcp.write(message);
      });
    }
  });
}

/**
 * `count` round trips through `protocol` on a stand-in transport: each
 * write makes the next 1 KiB chunk due, and an Idle handle of the loop
 * delivers a due chunk in its pass, as a socket's read callback would.
 */
async function echoWithoutSocket(
  make: (loop: AbstractEventLoop) => Protocol,
  count: number,
): Promise<number> {
  const chunk = Buffer.alloc(1024, 0x62);
  const { loop, uvloop, dispose } = freshLoop();
  const protocol = make(loop);
  let due = true;
  let left = count;
  const transport = {
    write(): void {
      due = true;
    },
    isClosing: () => false,
    close(): void {},
    pauseReading(): void {},
    resumeReading(): void {},
  };
  protocol.connectionMade!(transport as unknown as Transport);
  const reads = new Idle(uvloop);
  await new Promise<void>((resolve) => {
    reads.start(() => {
      if (!due) return;
      due = false;
      if (left-- === 0) return reads.close(resolve);
      protocol.dataReceived!(chunk);
    });
  });
  await dispose();
  return count;
}

const streamsEchoProtocol = (loop: AbstractEventLoop): Protocol =>
  new StreamReaderProtocol(
    new StreamReader(),
    async (reader, writer) => {
      for (;;) {
        const data = await reader.read(65536);
        writer.write(data);
        await writer.drain();
      }
    },
    loop,
  );

async function roundTripsOn(
  make: (loop: AbstractEventLoop) => Promise<Server>,
  count: number,
): Promise<number> {
  const { loop, dispose } = freshLoop();
  const server = await make(loop);
  const port = (server.sockets()[0] as { port: number }).port;
  await pingPongHere(port, count, Number(process.argv[4] ?? 1));
  server.close();
  await server.waitClosed();
  await dispose();
  return count;
}

/** The same round trips against the EchoProtocol on a NodeEventLoop. */
async function nodeLoopRoundTrips(count: number): Promise<number> {
  const loop = new NodeEventLoop();
  const server = await protocolEchoServer(loop);
  const port = (server.sockets()[0] as { port: number }).port;
  await pingPongHere(port, count, Number(process.argv[4] ?? 1));
  server.close();
  await server.waitClosed();
  loop.close();
  return count;
}

/** The same round trips against node:net's echo server: the reference for `echo-rt`. */
async function netRoundTrips(count: number): Promise<number> {
  const server = await startNodeEchoServer();
  await pingPongHere(server.port, count, Number(process.argv[4] ?? 1));
  await server.close();
  return count;
}

async function resp(requests: number): Promise<number> {
  const { loop, dispose } = freshLoop();
  const server = await startRespServer(loop, '127.0.0.1', 0);
  const port = (server.sockets()[0] as { port: number }).port;
  await redisBenchmark(port, 'get', Number(process.argv[4] ?? 16), requests);
  server.close();
  await server.waitClosed();
  await dispose();
  return requests;
}

const httpListener: http.RequestListener = (_req, res) => res.end('hello from the benchmark\n');

/** An Express app with one JSON route, /json: bench/http.bench.ts's. */
function expressApp(): http.RequestListener {
  const app = express();
  app.get('/json', (_req, res) => void res.json({ hello: 'from the benchmark' }));
  return app;
}

/** wrk for `seconds` on `port`: C connections (argv[4], default 50), keep-alive or not. */
async function wrkRequests(port: number, seconds: number, path: string, close: boolean) {
  const conns = Number(process.argv[4] ?? 50);
  return (await wrk({ port, seconds, conns, path, connectionClose: close })).requests;
}

async function serveHttpWorkload(
  seconds: number,
  app = httpListener,
  path = '/',
  close = false,
): Promise<number> {
  const { loop, dispose } = freshLoop();
  const h = await serveHttp(loop, app, '127.0.0.1', 0);
  const requests = await wrkRequests(h.port, seconds, path, close);
  await h.close();
  await dispose();
  return requests;
}

async function nodeHttp(
  seconds: number,
  app = httpListener,
  path = '/',
  close = false,
): Promise<number> {
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const requests = await wrkRequests(port, seconds, path, close);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  return requests;
}

/** N keep-alive GETs on `port` from bench/loadgen/http-client.ts in a child process. */
function httpLoad(port: number, requests: number, close = false): Promise<void> {
  const client = fileURLToPath(new URL('../loadgen/http-client.js', import.meta.url));
  const conns = process.argv[4] ?? '50';
  const args = [client, String(port), conns, String(requests), ...(close ? ['close'] : [])];
  return new Promise<void>((resolve, reject) =>
    execFile(process.execPath, args, (err) => (err ? reject(err) : resolve())),
  );
}

async function serveHttpCounted(requests: number, close = false): Promise<number> {
  const { loop, dispose } = freshLoop();
  const h = await serveHttp(loop, httpListener, '127.0.0.1', 0);
  await httpLoad(h.port, requests, close);
  await h.close();
  await dispose();
  return requests;
}

async function nodeHttpCounted(requests: number, close = false): Promise<number> {
  const server = http.createServer(httpListener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await httpLoad((server.address() as { port: number }).port, requests, close);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  return requests;
}

// The item of bench/sync-worker.ts: what the worker -> worker case queues.
async function queue(count: number): Promise<number> {
  const q = new Queue();
  for (let i = 0; i < count; i++) {
    q.put({ id: i, name: 'item', tags: ['a', 'b'] });
    q.get();
  }
  return count;
}

function mutex(count: number): Promise<number> {
  const m = new Mutex();
  const counter = new Int32Array(1);
  for (let i = 0; i < count; i++) {
    m.lock();
    counter[0]!++;
    m.unlock();
  }
  return Promise.resolve(count);
}

function futex(count: number): Promise<number> {
  const m = new FutexMutex();
  const counter = new Int32Array(1);
  for (let i = 0; i < count; i++) {
    m.lock();
    counter[0]!++;
    m.unlock();
  }
  return Promise.resolve(count);
}

const workloads: Record<string, Workload> = {
  idle,
  callsoon: callSoon,
  timers,
  settimeout: setTimeouts,
  calllater: callLater,
  'settimeout-spread': setTimeoutsSpread,
  callat: callAt,
  echo,
  streams,
  'echo-node': (s) => echoReference(startNodeEchoServer, s),
  'echo-nodeloop': echoNodeLoop,
  'echo-cxx': echoCxx,
  'echo-rt': (n) => roundTripsOn(protocolEchoServer, n),
  'net-rt': netRoundTrips,
  'node-rt': nodeLoopRoundTrips,
  'streams-rt': (n) => roundTripsOn(streamsEchoServer, n),
  'echo-layer': (n) => echoWithoutSocket(() => new EchoProtocol(), n),
  'streams-layer': (n) => echoWithoutSocket(streamsEchoProtocol, n),
  resp,
  http: serveHttpWorkload,
  nodehttp: nodeHttp,
  httpclose: (s) => serveHttpWorkload(s, httpListener, '/', true),
  nodehttpclose: (s) => nodeHttp(s, httpListener, '/', true),
  express: (s) => serveHttpWorkload(s, expressApp(), '/json'),
  nodeexpress: (s) => nodeHttp(s, expressApp(), '/json'),
  expressclose: (s) => serveHttpWorkload(s, expressApp(), '/json', true),
  nodeexpressclose: (s) => nodeHttp(s, expressApp(), '/json', true),
  httpn: serveHttpCounted,
  nodehttpn: nodeHttpCounted,
  httpclosen: (n) => serveHttpCounted(n, true),
  nodehttpclosen: (n) => nodeHttpCounted(n, true),
  queue,
  mutex,
  futex,
  none: async () => 0,
};

const name = process.argv[2] ?? '';
const run = workloads[name];
if (run === undefined) {
  console.error(`usage: workloads.js <${Object.keys(workloads).join('|')}> [count]`);
  process.exit(2);
}
const count = Number(process.argv[3] ?? 100_000);
// Start from a callback of Node's loop: a profile then tells the workload
// (under node::SpinEventLoop) from startup and module loading.
await new Promise((resolve) => setImmediate(resolve));
const cpu = process.cpuUsage();
const start = process.hrtime.bigint();
const ops = await run(count);
const used = process.cpuUsage(cpu);
const end = process.hrtime.bigint();
const wallUs = Number(end - start) / 1e3;
const report: Report = {
  workload: name,
  ops,
  cpuUsPerOp: ops > 0 ? (used.user + used.system) / ops : 0,
  userUsPerOp: ops > 0 ? used.user / ops : 0,
  sysUsPerOp: ops > 0 ? used.system / ops : 0,
  wallUsPerOp: ops > 0 ? wallUs / ops : 0,
  load1: loadavg()[0]!,
  startUs: Number(start / 1000n),
  endUs: Number(end / 1000n),
};
console.log(JSON.stringify(report));
