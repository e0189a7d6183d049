// One port on several threads (startThreadedServer) against one thread and
// against Node's own answer, node:cluster with as many worker processes.
// Every server runs in a process of its own (bench/threads/server-child.ts),
// so the load generators (the native echo client, wrk) and this process
// share the machine's cores with it alike, and its memory can be read.
//
// Cases (each: ours / theirs):
// - cpu echo: 1 KiB ping-pong over 50 connections, each message costing the
//   handler THREADS_WORK_ROUNDS chained SHA-256 digests (bench/threads/
//   cpu-work.ts), so the server, not the client, runs out of CPU:
//   2 threads / 1 thread, and 2 threads / cluster with 2 workers (node:net);
// - cpu http: the same work per request, wrk with 50 keep-alive
//   connections: 2 threads (serveHttp) / 1 thread, and / cluster with 2
//   workers (node:http);
// - echo: plain 1 KiB ping-pong, 2 threads / 1 thread.
//
// details() prints each side's CPU time per round trip or request (all its
// processes and threads; it swings far less than rates on a shared machine),
// its memory (RSS and PSS summed over its processes, after each round) and
// the load average during the case.
//
// Knobs (environment): THREADS_SECONDS per side per round (default 3),
// THREADS_ROUNDS (3), THREADS_WORK_ROUNDS (8).
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { formatRows, median, runStandalone, type BenchCase, type Side } from './harness.js';
import { pingPong } from './loadgen/echo-client.js';
import { wrk } from './loadgen/wrk.js';
import {
  cpuSecondsOf,
  describe,
  memoryOf,
  startServer,
  type Memory,
  type RunningServer,
  type ServerSpec,
  type Workload,
} from './threads/servers.js';

const seconds = Number(process.env['THREADS_SECONDS'] ?? 3);
const rounds = Number(process.env['THREADS_ROUNDS'] ?? 3);
const workRounds = Number(process.env['THREADS_WORK_ROUNDS'] ?? 8);

interface Measured {
  caseName: string;
  label: string;
  memory: Memory[];
  /** Server CPU microseconds per round trip or request, per round. */
  cpuPerUnit: number[];
}
const measured: Measured[] = [];
const loads = new Map<string, number[]>();

/** A load run: its rate, and every round trip or request it made (warm-up included). */
const load: Record<Workload, (port: number) => Promise<{ rate: number; units: number }>> = {
  echo: async (port) => {
    const r = await pingPong({ port, conns: 50, size: 1024, seconds });
    return { rate: r.rate, units: r.total_roundtrips };
  },
  http: async (port) => {
    const r = await wrk({ port, seconds, conns: 50 });
    return { rate: r.rate, units: r.requests };
  },
};

/** One side of a case: a server process started in setup, loaded once per round. */
class ServerSide implements Side {
  readonly label: string;
  server: RunningServer | undefined;
  readonly #m: Measured;

  constructor(
    readonly caseName: string,
    readonly spec: ServerSpec,
  ) {
    this.label = describe(spec);
    this.#m = { caseName, label: this.label, memory: [], cpuPerUnit: [] };
    measured.push(this.#m);
  }

  async run(): Promise<number> {
    const server = this.server!;
    const cpuBefore = cpuSecondsOf(server);
    const { rate, units } = await load[this.spec.workload](server.port);
    // CPU per unit of work swings far less than rates on a shared machine.
    this.#m.cpuPerUnit.push(((cpuSecondsOf(server) - cpuBefore) * 1e6) / units);
    this.#m.memory.push(memoryOf(server));
    const list = loads.get(this.caseName) ?? [];
    list.push(loadavg()[0]!);
    loads.set(this.caseName, list);
    return rate;
  }
}

function threadCase(name: string, unit: string, ours: ServerSpec, theirs: ServerSpec): BenchCase {
  const o = new ServerSide(name, ours);
  const t = new ServerSide(name, theirs);
  return {
    name,
    unit,
    rounds,
    ours: o,
    theirs: t,
    async setup() {
      o.server = await startServer(ours);
      t.server = await startServer(theirs);
    },
    async teardown() {
      await o.server?.stop();
      await t.server?.stop();
    },
  };
}

const spec = (
  kind: 'threads' | 'cluster',
  workload: Workload,
  count: number,
  work = workRounds,
): ServerSpec => ({ kind, workload, count, workRounds: work });

export const cases: BenchCase[] = [
  threadCase(
    `threads: cpu echo 1 KiB, 50 conns, 2 threads / 1`,
    'roundtrips',
    spec('threads', 'echo', 2),
    spec('threads', 'echo', 1),
  ),
  threadCase(
    `threads: cpu echo 1 KiB, 50 conns, 2 threads / cluster 2`,
    'roundtrips',
    spec('threads', 'echo', 2),
    spec('cluster', 'echo', 2),
  ),
  threadCase(
    `threads: cpu http (wrk), 2 threads / 1`,
    'req',
    spec('threads', 'http', 2),
    spec('threads', 'http', 1),
  ),
  threadCase(
    `threads: cpu http (wrk), 2 threads / cluster 2`,
    'req',
    spec('threads', 'http', 2),
    spec('cluster', 'http', 2),
  ),
  threadCase(
    `threads: echo 1 KiB, 50 conns, 2 threads / 1`,
    'roundtrips',
    spec('threads', 'echo', 2, 0),
    spec('threads', 'echo', 1, 0),
  ),
];

/** Server CPU per unit, memory per side and the load average per case, for the cases run so far. */
export function details(): string {
  if (measured.every((m) => m.memory.length === 0)) return '';
  const rows = [
    ['case', 'side', 'server CPU (median)', 'CPU samples', 'RSS', 'PSS', 'RSS samples MB'],
  ];
  for (const m of measured) {
    if (m.memory.length === 0) continue;
    const unit = m.caseName.includes('http') ? 'req' : 'roundtrip';
    rows.push([
      m.caseName,
      m.label,
      `${median(m.cpuPerUnit).toFixed(1)} us/${unit}`,
      m.cpuPerUnit.map((x) => x.toFixed(1)).join(' '),
      `${median(m.memory.map((x) => x.rssMB)).toFixed(0)} MB`,
      `${median(m.memory.map((x) => x.pssMB)).toFixed(0)} MB`,
      m.memory.map((x) => x.rssMB.toFixed(0)).join(' '),
    ]);
  }
  const averages = [...loads].map(
    ([name, l]) => `${name}: ${Math.min(...l).toFixed(1)}-${Math.max(...l).toFixed(1)}`,
  );
  return (
    `threaded servers (work: ${workRounds} SHA-256 rounds per message or request): server CPU ` +
    `(all its processes and threads) per unit of work, and memory after each round (medians)\n` +
    `${formatRows(rows)}\nload average (1 min) during each case:\n  ${averages.join('\n  ')}`
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runStandalone(cases, process.env['THREADS_CASES'], details);
}
