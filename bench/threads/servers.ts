// Starts and stops the servers of the threaded-server benchmarks
// (server-child.ts, one process each) and measures their memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export type ServerKind = 'threads' | 'cluster';
export type Workload = 'echo' | 'http';

export interface ServerSpec {
  kind: ServerKind;
  workload: Workload;
  /** Threads or cluster workers. */
  count: number;
  /** burn() rounds per message or request (cpu-work.ts); 0 for none. */
  workRounds: number;
}

export interface RunningServer {
  readonly port: number;
  /** The server's processes: one with threads; the primary and its workers with cluster. */
  readonly pids: number[];
  stop(): Promise<void>;
}

export interface Memory {
  /** Resident set, summed over the processes (pages shared between them counted in each). */
  rssMB: number;
  /** Proportional set size, summed: shared pages split between their processes. */
  pssMB: number;
}

const child = new URL('./server-child.js', import.meta.url);

export function describe(spec: ServerSpec): string {
  return spec.kind === 'threads'
    ? `asyncuv, ${spec.count} thread${spec.count > 1 ? 's' : ''}`
    : `node:cluster, ${spec.count} workers`;
}

export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const proc: ChildProcess = spawn(
    process.execPath,
    [child.pathname, spec.kind, spec.workload, String(spec.count)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ASYNCUV_BENCH_WORK_ROUNDS: String(spec.workRounds) },
    },
  );
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = await new Promise<{ port: number; pids: number[] }>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.once('line', (line) => resolve(JSON.parse(line) as { port: number; pids: number[] }));
    proc.once('exit', (code) =>
      reject(new Error(`${describe(spec)} exited with code ${code} before serving`)),
    );
  });
  return {
    port: ready.port,
    pids: ready.pids,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

// /proc/<pid>/stat counts CPU time in clock ticks (getconf CLK_TCK: 100 on Linux).
const kTicksPerSecond = 100;

/** CPU seconds (user + system, every thread) the server's processes used so far, from /proc. */
export function cpuSecondsOf(server: RunningServer): number {
  let ticks = 0;
  for (const pid of server.pids) {
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / kTicksPerSecond;
}

/** Memory of the server's processes now, from /proc (Linux). */
export function memoryOf(server: RunningServer): Memory {
  let rss = 0;
  let pss = 0;
  for (const pid of server.pids) {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    rss += Number(/^Rss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? NaN);
    pss += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? NaN);
  }
  return { rssMB: rss / 1024, pssMB: pss / 1024 };
}
