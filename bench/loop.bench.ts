// The asyncio layer against Node's own machinery, side by side:
// - callSoon chains vs setImmediate chains (one callback per loop turn);
// - 100k callLater timers vs 100k setTimeout timers;
// - a Protocol echo server on UvEventLoop vs a node:net echo server;
// - a StreamReader/StreamWriter echo server vs the same node:net server.
// The echo load is the native client (bench/loadgen, 1 KiB ping-pong, 1 and
// 50 connections) in a child process, so the servers in this process are
// what is measured; if it is not built, a node:net ping-pong client in this
// process stands in (its cost is then in both numbers). details() prints
// the server CPU time per round trip, steadier than rates on a shared
// machine.
import net from 'node:net';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import type { AbstractEventLoop, Server } from 'asyncuv';
import {
  formatRows,
  formatTable,
  median,
  perSecond,
  runCase,
  type BenchCase,
  type Side,
} from './harness.js';
import { echoClientPath, pingPong as nativePingPong } from './loadgen/echo-client.js';
import { startNodeEchoServer, type EchoServer } from './loadgen/echo-servers.js';
import { EchoProtocol, freshLoop, streamsEchoServer } from './fresh-loop.js';

const kChain = 200_000;
const kTimers = 100_000;
const kRoundTrips = 10_000;
const kEchoSeconds = Number(process.env['ECHO_SECONDS'] ?? 2);
const kMessage = Buffer.alloc(1024, 0x62);

async function callSoonChain(): Promise<void> {
  const { loop, dispose } = freshLoop();
  await new Promise<void>((resolve) => {
    let left = kChain;
    const step = (): void => {
      if (--left === 0) resolve();
      else loop.callSoon(step);
    };
    loop.callSoon(step);
  });
  await dispose();
}

async function setImmediateChain(): Promise<void> {
  await new Promise<void>((resolve) => {
    let left = kChain;
    const step = (): void => {
      if (--left === 0) resolve();
      else setImmediate(step);
    };
    setImmediate(step);
  });
}

// Timers spread over 0-49 ms, so the heap holds many distinct deadlines.
async function callLaterTimers(): Promise<void> {
  const { loop, dispose } = freshLoop();
  await new Promise<void>((resolve) => {
    let left = kTimers;
    const fired = (): void => {
      if (--left === 0) resolve();
    };
    for (let i = 0; i < kTimers; i++) loop.callLater((i % 50) / 1000, fired);
  });
  await dispose();
}

async function setTimeoutTimers(): Promise<void> {
  await new Promise<void>((resolve) => {
    let left = kTimers;
    const fired = (): void => {
      if (--left === 0) resolve();
    };
    for (let i = 0; i < kTimers; i++) setTimeout(fired, i % 50);
  });
}

/** Ping-pongs kRoundTrips 1 KiB messages over `connections` node:net clients. */
async function inProcessPingPong(port: number, connections: number): Promise<void> {
  const perConnection = Math.ceil(kRoundTrips / connections);
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      await once(socket, 'connect');
      await new Promise<void>((resolve, reject) => {
        let left = perConnection;
        let pending = kMessage.length;
        socket.on('error', reject);
        socket.on('data', (d: Buffer) => {
          pending -= d.length;
          if (pending > 0) return;
          if (--left === 0) return resolve();
          pending = kMessage.length;
          socket.write(kMessage);
        });
        socket.write(kMessage);
      });
      socket.destroy();
    }),
  );
}

const protocolServer = (loop: AbstractEventLoop): Promise<Server> =>
  loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);

/** A server of ours on a fresh UvEventLoop, as an EchoServer. */
async function startLoopServer(
  make: (loop: AbstractEventLoop) => Promise<Server>,
): Promise<EchoServer> {
  const { loop, dispose } = freshLoop();
  const server = await make(loop);
  return {
    port: (server.sockets()[0] as { port: number }).port,
    async close() {
      server.close();
      // The client has gone (it ends every connection), so this settles.
      await server.waitClosed();
      await dispose();
    },
  };
}

const cpuSamples = new Map<string, number[]>();

/** One side of an echo case: the server is started in setup and serves every round. */
function echoSide(
  label: string,
  caseName: string,
  connections: number,
  holder: { server?: EchoServer },
): Side {
  return {
    label,
    run: async () => {
      const port = holder.server!.port;
      if (echoClientPath() === undefined)
        return perSecond(kRoundTrips, () => inProcessPingPong(port, connections));
      const before = process.cpuUsage();
      const report = await nativePingPong({
        port,
        conns: connections,
        size: 1024,
        seconds: kEchoSeconds,
      });
      const used = process.cpuUsage(before);
      const key = `${caseName}\t${label}`;
      cpuSamples.set(key, [
        ...(cpuSamples.get(key) ?? []),
        (used.user + used.system) / report.total_roundtrips,
      ]);
      return report.rate;
    },
  };
}

function echoCase(
  kind: string,
  connections: number,
  label: string,
  make: (loop: AbstractEventLoop) => Promise<Server>,
): BenchCase {
  const client = echoClientPath() === undefined ? 'in-process node:net client' : 'native client';
  const name = `TCP echo, ${kind}, 1 KiB ping-pong, ${connections} conn, ${client}`;
  const ours: { server?: EchoServer } = {};
  const theirs: { server?: EchoServer } = {};
  return {
    name,
    unit: 'round trips',
    rounds: 3,
    ours: echoSide(label, name, connections, ours),
    theirs: echoSide('node:net', name, connections, theirs),
    setup: async () => {
      ours.server = await startLoopServer(make);
      theirs.server = await startNodeEchoServer();
    },
    teardown: async () => {
      await ours.server?.close();
      await theirs.server?.close();
    },
  };
}

/** Server CPU microseconds per round trip, median per case and side (native client only). */
export function details(): string {
  if (cpuSamples.size === 0) return '';
  const rows = [['case', 'side', 'server CPU (median)']];
  for (const [key, samples] of cpuSamples) {
    const [name, label] = key.split('\t') as [string, string];
    rows.push([name, label, `${median(samples).toFixed(2)} us/roundtrip`]);
  }
  return formatRows(rows);
}

export const cases: BenchCase[] = [
  {
    name: `callSoon chain x ${kChain}`,
    unit: 'callbacks',
    ours: { label: 'UvEventLoop.callSoon', run: () => perSecond(kChain, callSoonChain) },
    theirs: { label: 'setImmediate', run: () => perSecond(kChain, setImmediateChain) },
  },
  {
    name: `${kTimers} timers over 0-49 ms`,
    unit: 'timers',
    ours: { label: 'UvEventLoop.callLater', run: () => perSecond(kTimers, callLaterTimers) },
    theirs: { label: 'setTimeout', run: () => perSecond(kTimers, setTimeoutTimers) },
  },
  ...[1, 50].flatMap((connections): BenchCase[] => [
    echoCase('Protocol', connections, 'UvEventLoop Protocol', protocolServer),
    echoCase('streams', connections, 'StreamReader/Writer', streamsEchoServer),
  ]),
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  console.log(formatTable(results));
  const cpu = details();
  if (cpu) console.log(`\n${cpu}`);
}
