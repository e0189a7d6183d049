// One load run: the UvEventLoop echo server (load-echo-server.ts) and the
// native client (asyncuv-echo-client --mode bulk) in two processes, each
// started through `bash -c 'ulimit -n ...; exec ...'` because Node cannot
// raise its own descriptor limit and 10,000 connections need 10,000 fds on
// each side. Used by scripts/load-10k.ts and the reduced test in
// test/reliability/load.test.ts.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { echoClientPath } from '../bench/loadgen/echo-client.js';

export interface LoadOptions {
  conns: number;
  /** Bytes over all connections (each gets its share). */
  bytes: number;
  /** Time limit of the client and the server. */
  seconds?: number;
  /** The fd limit asked of both processes; at most the hard limit. */
  fdLimit?: number;
}

export interface ClientReport {
  mode: 'bulk';
  conns: number;
  peak_open: number;
  verified: number;
  bytes_sent: number;
  bytes: number;
  connect_seconds: number;
  seconds: number;
  rate: number;
  mb_per_s: number;
  checksum_errors: number;
  errors: number;
}

export interface ServerReport {
  conns: number;
  peakOpen: number;
  bytes: number;
  errors: number;
  pausedWriting: number;
  rssStart: number;
  rssPeak: number;
  externalPeak: number;
  liveHandles: Record<string, number>;
  firstErrors: string[];
}

export interface LoadReport {
  client: ClientReport;
  server: ServerReport;
  clientStatus: number | null;
  serverStatus: number | null;
  clientStderr: string;
  serverStderr: string;
  /** Wall time of the whole run, server start to both exits. */
  wallSeconds: number;
}

interface Exited {
  status: number | null;
  lines: string[];
  stderr: string;
}

/** Runs `argv` under `ulimit -n fdLimit`; `onLine` sees each stdout line. */
function limited(
  argv: string[],
  fdLimit: number,
  timeoutMs: number,
  onLine?: (line: string) => void,
): Promise<Exited> {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // If the hard limit is lower than asked, take the hard limit: the run
  // then fails on its own terms (EMFILE) if that is too few.
  const child = spawn(
    'bash',
    ['-c', `ulimit -n ${fdLimit} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec ${quoted}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    onLine?.(line);
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(killer);
      resolve({ status, lines, stderr });
    });
  });
}

function lastJson<T>(lines: string[], what: string, stderr: string): T {
  const line = [...lines].reverse().find((l) => l.startsWith('{'));
  if (line === undefined)
    throw new Error(`${what} printed no report\n${lines.join('\n')}\n${stderr}`);
  return JSON.parse(line) as T;
}

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const seconds = o.seconds ?? 300;
  const fdLimit = o.fdLimit ?? Math.min(20000, o.conns + 1000);
  const client = echoClientPath();
  if (client === undefined)
    throw new Error('asyncuv-echo-client is not built; run npm run build:native');
  const serverScript = fileURLToPath(new URL('./load-echo-server.js', import.meta.url));
  const start = Date.now();
  let onPort!: (port: number) => void;
  const port = new Promise<number>((resolve) => (onPort = resolve));
  const server = limited(
    [
      process.execPath,
      serverScript,
      '--expect',
      String(o.conns),
      '--timeout',
      String(seconds + 10),
    ],
    fdLimit,
    (seconds + 30) * 1000,
    (line) => {
      if (line.startsWith('{"listening"'))
        onPort((JSON.parse(line) as { listening: number }).listening);
    },
  );
  const p = await Promise.race([
    port,
    server.then((s) => Promise.reject(new Error(`the server exited early: ${s.stderr}`))),
  ]);
  const clientRun = await limited(
    [
      client,
      '--mode',
      'bulk',
      '--port',
      String(p),
      '--conns',
      String(o.conns),
      '--bytes',
      String(o.bytes),
      '--seconds',
      String(seconds),
    ],
    fdLimit,
    (seconds + 30) * 1000,
  );
  const serverRun = await server;
  return {
    client: lastJson<ClientReport>(clientRun.lines, 'the client', clientRun.stderr),
    server: lastJson<ServerReport>(serverRun.lines, 'the server', serverRun.stderr),
    clientStatus: clientRun.status,
    serverStatus: serverRun.status,
    clientStderr: clientRun.stderr,
    serverStderr: serverRun.stderr,
    wallSeconds: (Date.now() - start) / 1000,
  };
}
