// Fairness: how much of Node's own work still gets done while our loop is
// saturated, for several embedded batch limits (Loop.setBatchLimits).
//
// Two loads saturate a UvEventLoop: a callSoon chain that never ends, and a
// Protocol echo server under 50 connections of 1 KiB ping-pong (the native
// client, bench/loadgen). Meanwhile two probes measure Node's side: a
// setTimeout(1) chain (how late each fires) and a node:net echo server in
// this process driven by a one-connection native client (its round trips
// per second; each is a wake-up of Node's poll phase). The reference is the
// same probes while a setImmediate chain saturates Node itself.
//
// The two cases (ours / theirs) compare the node:net echo rate under our
// callSoon chain, at the default limits and at { passes: 1 }, with its rate
// under the setImmediate chain: above 1, our busy loop leaves Node's I/O more
// room than Node's own busy loop does. details() prints the whole sweep.
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Loop, type BatchLimits } from 'asyncuv';
import { kNative } from '../handles/internal.js';
import { formatTable, median, runCase, type BenchCase } from './harness.js';
import { echoClientPath, pingPong } from './loadgen/echo-client.js';
import { startNodeEchoServer, type EchoServer } from './loadgen/echo-servers.js';
import { EchoProtocol, freshLoop } from './fresh-loop.js';

const kSeconds = Number(process.env['FAIRNESS_SECONDS'] ?? 1.5);

interface Probes {
  /** setTimeout(1) lateness beyond its 1 ms, in ms. */
  lateP50: number;
  lateP99: number;
  lateMax: number;
  /** node:net echo round trips per second, one connection. */
  nodeEcho: number;
  /** Turns of Node's loop per second. */
  nodeTurns: number;
}

interface Row extends Probes {
  load: string;
  limits: string;
  /** The load's own rate: callbacks/s (callSoon) or round trips/s (echo). */
  ours: number;
  load1: number;
}

/** How many turns Node's loop has made (libuv's loop metrics, read by the driver). */
function nodeLoopCount(): number {
  const loop = new Loop();
  const count = loop[kNative].driverState()['nodeLoopCount'] as number;
  loop.close();
  return count;
}

/** Runs the probes for kSeconds against `nodeServer`; resolves with what they saw. */
async function probe(nodeServer: EchoServer): Promise<Probes> {
  const turnsBefore = nodeLoopCount();
  const start = performance.now();
  const late: number[] = [];
  let running = true;
  let expected = performance.now() + 1;
  const tick = (): void => {
    const now = performance.now();
    late.push(Math.max(0, now - expected));
    if (!running) return;
    expected = now + 1;
    setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  const report = await pingPong({
    port: nodeServer.port,
    conns: 1,
    size: 1024,
    seconds: kSeconds,
    warmup: 0.2,
  });
  running = false;
  const nodeTurns = ((nodeLoopCount() - turnsBefore) * 1000) / (performance.now() - start);
  late.sort((a, b) => a - b);
  return {
    nodeTurns,
    lateP50: median(late),
    lateP99: late[Math.min(late.length - 1, Math.floor(late.length * 0.99))] ?? 0,
    lateMax: late[late.length - 1] ?? 0,
    nodeEcho: report.rate,
  };
}

/** The probes while a callSoon chain keeps `loop` busy; also the chain's rate. */
async function underCallSoon(
  limits: Partial<BatchLimits>,
  nodeServer: EchoServer,
): Promise<Probes & { ours: number }> {
  const { loop, dispose } = freshLoop(limits);
  let calls = 0;
  let running = true;
  const step = (): void => {
    calls++;
    if (running) loop.callSoon(step);
  };
  loop.callSoon(step);
  const start = performance.now();
  const probes = await probe(nodeServer);
  const ours = (calls * 1000) / (performance.now() - start);
  running = false;
  await dispose();
  return { ...probes, ours };
}

/** The probes while 50 connections of ping-pong keep a Protocol echo server on `loop` busy. */
async function underEcho(
  limits: Partial<BatchLimits>,
  nodeServer: EchoServer,
): Promise<Probes & { ours: number }> {
  const { loop, dispose } = freshLoop(limits);
  const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
  const port = (server.sockets()[0] as { port: number }).port;
  // The load outlasts the probes' window on both sides.
  const load = pingPong({ port, conns: 50, size: 1024, seconds: kSeconds + 0.6, warmup: 0.1 });
  await new Promise((r) => setTimeout(r, 150));
  const probes = await probe(nodeServer);
  const report = await load;
  server.close();
  await server.waitClosed();
  await dispose();
  return { ...probes, ours: report.rate };
}

/** The probes while 50 connections of ping-pong keep a node:net echo server busy. */
async function underNodeEcho(nodeServer: EchoServer): Promise<Probes & { ours: number }> {
  const loaded = await startNodeEchoServer();
  const load = pingPong({
    port: loaded.port,
    conns: 50,
    size: 1024,
    seconds: kSeconds + 0.6,
    warmup: 0.1,
  });
  await new Promise((r) => setTimeout(r, 150));
  const probes = await probe(nodeServer);
  const report = await load;
  await loaded.close();
  return { ...probes, ours: report.rate };
}

/** The probes while a setImmediate chain keeps Node itself busy. */
async function underSetImmediate(nodeServer: EchoServer): Promise<Probes & { ours: number }> {
  let calls = 0;
  let running = true;
  const step = (): void => {
    calls++;
    if (running) setImmediate(step);
  };
  setImmediate(step);
  const start = performance.now();
  const probes = await probe(nodeServer);
  const ours = (calls * 1000) / (performance.now() - start);
  running = false;
  return { ...probes, ours };
}

// The sweep details() prints: pass limits at the default budget, then budgets.
const sweep: Array<Partial<BatchLimits>> = [
  { passes: 1 },
  { passes: 2, budgetMs: 1 },
  { passes: 4, budgetMs: 1 },
  { passes: 8, budgetMs: 1 },
  { passes: 16, budgetMs: 1 },
  { passes: 32, budgetMs: 1 },
  { passes: 64, budgetMs: 1 },
  { passes: 64, budgetMs: 0.25 },
  { passes: 64, budgetMs: 0.1 },
];

const rows: Row[] = [];
const isDefault = (l: Partial<BatchLimits>): boolean => {
  const limits = new Loop();
  const { passes, budgetMs } = limits.batchLimits;
  limits.close();
  return l.passes === passes && l.budgetMs === budgetMs;
};
const label = (l: Partial<BatchLimits>): string =>
  `passes ${l.passes}${l.budgetMs === undefined ? '' : `, ${l.budgetMs} ms`}${isDefault(l) ? ' (default)' : ''}`;

async function runSweep(): Promise<void> {
  const nodeServer = await startNodeEchoServer();
  try {
    const record = (load: string, limits: string, r: Probes & { ours: number }): void => {
      rows.push({ load, limits, ...r, load1: loadavg()[0]! });
    };
    record('none', '-', { ...(await probe(nodeServer)), ours: 0 });
    record('setImmediate chain (Node)', '-', await underSetImmediate(nodeServer));
    for (const limits of sweep)
      record('callSoon chain', label(limits), await underCallSoon(limits, nodeServer));
    record('node:net echo, 50 conns (Node)', '-', await underNodeEcho(nodeServer));
    for (const limits of sweep)
      record('Protocol echo, 50 conns', label(limits), await underEcho(limits, nodeServer));
  } finally {
    await nodeServer.close();
  }
}

export function details(): string {
  if (rows.length === 0) return '';
  const fmt = (n: number, digits = 2): string => n.toFixed(digits);
  const table = [
    [
      'load',
      'batch limits',
      "load's rate /s",
      'Node turns /s',
      'setTimeout(1) late p50/p99/max ms',
      'node:net echo /s',
      'load avg',
    ],
    ...rows.map((r) => [
      r.load,
      r.limits,
      r.ours === 0 ? '-' : `${Math.round(r.ours)}`,
      `${Math.round(r.nodeTurns)}`,
      `${fmt(r.lateP50)} / ${fmt(r.lateP99)} / ${fmt(r.lateMax)}`,
      `${Math.round(r.nodeEcho)}`,
      fmt(r.load1, 1),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return [
    "Fairness: Node's own work while our loop is saturated",
    ...table.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ')),
  ].join('\n');
}

// One sweep per bench run, for details(), run by the setup of whichever case
// runs first; each case's rounds are its own probes, not repeated sweeps.
let sweepDone: Promise<void> | undefined;

/** The case for one setting of the limits: node:net echo under our callSoon chain vs under setImmediate. */
function fairnessCase(name: string, limits: Partial<BatchLimits>): BenchCase {
  return {
    name: `fairness: node:net echo while the loop is saturated (callSoon chain, ${name})`,
    unit: 'round trips',
    rounds: 3,
    setup: async () => {
      sweepDone ??= runSweep();
      await sweepDone;
    },
    ours: {
      label: 'under a UvEventLoop callSoon chain',
      run: async () => {
        const server = await startNodeEchoServer();
        try {
          return (await underCallSoon(limits, server)).nodeEcho;
        } finally {
          await server.close();
        }
      },
    },
    theirs: {
      label: 'under a setImmediate chain',
      run: async () => {
        const server = await startNodeEchoServer();
        try {
          return (await underSetImmediate(server)).nodeEcho;
        } finally {
          await server.close();
        }
      },
    },
  };
}

export const cases: BenchCase[] =
  echoClientPath() === undefined
    ? []
    : [fairnessCase('default limits', {}), fairnessCase('passes 1', { passes: 1 })];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = [];
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  console.log(`${formatTable(results)}\n\n${details()}`);
}
