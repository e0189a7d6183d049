// TCP echo. The load is the native client (bench/loadgen/echo_client.c) in a
// child process, so that the server in this process is what is measured: a
// node:net client saturates before the servers do (FINDINGS.md).
//
// Cases, each against node:net in the same run:
// - 1 KiB ping-pong, 1 and 50 connections: asyncuv's TCP handle with a JS
//   read callback that writes the data back;
// - the same with the C++-only echo server on an asyncuv loop (the ceiling
//   of what the loop can do with no JS per message);
// - streaming: one connection sends ECHO_STREAM_BYTES in 64 KiB writes and
//   reads the echo back.
//
// Run: `node dist/bench/tcp-echo.bench.js`, or `npm run bench -- tcp`.
//
// Besides the harness's table of rates, it prints the server's CPU time per
// round trip (per MB for streams), which is far less sensitive to the load
// of a shared machine than rates are.
//
// On a shared machine, rates of unpinned runs swing with where the scheduler
// puts the server and the client (0.4x to 1.9x between runs, with server CPU
// per round trip steady). `taskset -c 0 node dist/bench/tcp-echo.bench.js`
// puts both on one CPU: rates then follow CPU cost and repeat.
//
// Knobs (environment): ECHO_SECONDS per side per round (default 2),
// ECHO_ROUNDS (3), ECHO_STREAM_BYTES (1 GiB), ECHO_CASES (a substring
// filter on case names).
import { pathToFileURL } from 'node:url';
import { formatRows, median, runStandalone, type BenchCase, type Side } from './harness.js';
import { pingPong, stream } from './loadgen/echo-client.js';
import {
  startCeilingEchoServer,
  startNodeEchoServer,
  startUvEchoServer,
  type EchoServer,
} from './loadgen/echo-servers.js';

const seconds = Number(process.env['ECHO_SECONDS'] ?? 2);
const rounds = Number(process.env['ECHO_ROUNDS'] ?? 3);
const streamBytes = Number(process.env['ECHO_STREAM_BYTES'] ?? 2 ** 30);

type Start = () => EchoServer | Promise<EchoServer>;

// A server is started once per case (in setup) and serves every round.
class ServerSide {
  server: EchoServer | undefined;
  constructor(readonly start: Start) {}
  get port(): number {
    if (this.server === undefined) throw new Error('server not started');
    return this.server.port;
  }
}

// The machine is shared and round trips/s swing with everyone else's load.
// The server's CPU time per round trip (per MB when streaming) swings much
// less: the server is this process (the client is a child), so
// process.cpuUsage() over a client run is the server's cost, GC and helper
// threads included.
const cpuSamples = new Map<string, { unit: string; samples: number[] }>();

async function measureCpu<R>(
  key: string,
  unit: string,
  run: () => Promise<R>,
  units: (r: R) => number,
): Promise<R> {
  const before = process.cpuUsage();
  const report = await run();
  const used = process.cpuUsage(before);
  const entry = cpuSamples.get(key) ?? { unit, samples: [] };
  entry.samples.push((used.user + used.system) / units(report));
  cpuSamples.set(key, entry);
  return report;
}

function pingPongSide(
  label: string,
  server: ServerSide,
  conns: number,
  caseName: () => string,
): Side {
  return {
    label,
    run: async () => {
      const run = () => pingPong({ port: server.port, conns, size: 1024, seconds });
      const report = await measureCpu(
        `${caseName()}\t${label}`,
        'roundtrip',
        run,
        (r) => r.total_roundtrips,
      );
      return report.rate;
    },
  };
}

function streamSide(label: string, server: ServerSide, caseName: () => string): Side {
  return {
    label,
    run: async () => {
      const run = () => stream({ port: server.port, bytes: streamBytes });
      const report = await measureCpu(`${caseName()}\t${label}`, 'MB', run, (r) => r.bytes / 1e6);
      return report.mb_per_s;
    },
  };
}

/**
 * Server CPU microseconds per round trip (or per MB), median per case and
 * side, for the cases run so far; bench/run.ts prints it after its table.
 */
export function details(): string {
  if (cpuSamples.size === 0) return '';
  const rows = [['case', 'side', 'server CPU (median)', 'samples']];
  for (const [key, { unit, samples }] of cpuSamples) {
    const [name, label] = key.split('\t') as [string, string];
    rows.push([
      name,
      label,
      `${median(samples).toFixed(2)} us/${unit}`,
      samples.map((s) => s.toFixed(2)).join(' '),
    ]);
  }
  return formatRows(rows);
}

type SideFactory = (label: string, server: ServerSide, caseName: () => string) => Side;

function echoCase(name: string, unit: string, ours: [string, Start], side: SideFactory): BenchCase {
  const oursServer = new ServerSide(ours[1]);
  const nodeServer = new ServerSide(startNodeEchoServer);
  return {
    name,
    unit,
    rounds,
    ours: side(ours[0], oursServer, () => name),
    theirs: side('node:net', nodeServer, () => name),
    setup: async () => {
      oursServer.server = await oursServer.start();
      nodeServer.server = await nodeServer.start();
    },
    teardown: async () => {
      await oursServer.server?.close();
      await nodeServer.server?.close();
    },
  };
}

const uv: [string, Start] = ['asyncuv TCP, JS echo', () => startUvEchoServer()];
const ceiling: [string, Start] = ['asyncuv C++-only echo', () => startCeilingEchoServer()];
const streamMiB = Math.round(streamBytes / 2 ** 20);

export const cases: BenchCase[] = [
  echoCase('tcp echo 1 KiB, 1 conn', 'roundtrips', uv, (l, s, n) => pingPongSide(l, s, 1, n)),
  echoCase('tcp echo 1 KiB, 50 conns', 'roundtrips', uv, (l, s, n) => pingPongSide(l, s, 50, n)),
  echoCase('tcp echo ceiling 1 KiB, 1 conn', 'roundtrips', ceiling, (l, s, n) =>
    pingPongSide(l, s, 1, n),
  ),
  echoCase('tcp echo ceiling 1 KiB, 50 conns', 'roundtrips', ceiling, (l, s, n) =>
    pingPongSide(l, s, 50, n),
  ),
  echoCase(`tcp stream ${streamMiB} MiB, 64 KiB writes`, 'MB', uv, streamSide),
  echoCase(`tcp stream ceiling ${streamMiB} MiB, 64 KiB writes`, 'MB', ceiling, streamSide),
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runStandalone(cases, process.env['ECHO_CASES'], details);
}
