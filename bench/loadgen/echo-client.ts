// Runs the native load generator (bench/loadgen/echo_client.c, built by
// cmake-js into build/<config>/asyncuv-echo-client) as a child process and
// returns its JSON report. It must run asynchronously: the server under
// test lives in this process and needs the event loop while the client runs.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PingPongReport {
  roundtrips: number;
  seconds: number;
  /** Round trips per second over the measured window. */
  rate: number;
  conns: number;
  errors: number;
  /** Round trips of the whole run, warm-up included. */
  total_roundtrips: number;
}

export interface StreamReport {
  mode: 'stream';
  /** Bytes echoed back and checked. */
  bytes: number;
  seconds: number;
  /** Bytes per second. */
  rate: number;
  /** 10^6 bytes per second. */
  mb_per_s: number;
  conns: 1;
  errors: number;
}

export interface PingPongOptions {
  host?: string;
  port: number;
  conns?: number;
  size?: number;
  seconds?: number;
  warmup?: number;
}

export interface StreamOptions {
  host?: string;
  port: number;
  bytes: number;
  /** Time limit; the client fails if the stream has not come back by then. */
  seconds?: number;
}

/** Where the client binary is, or undefined if it has not been built. */
export function echoClientPath(): string | undefined {
  // dist/bench/loadgen/echo-client.js -> <package root>/build/{Release,Debug}/
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const candidates = [
    process.env['ASYNCUV_ECHO_CLIENT'],
    join(root, 'build', 'Release', 'asyncuv-echo-client'),
    join(root, 'build', 'Debug', 'asyncuv-echo-client'),
  ];
  return candidates.find((p): p is string => p !== undefined && existsSync(p));
}

/** Runs the client; rejects if it exits non-zero (a connection failed). */
function runClient(args: string[], timeoutMs: number): Promise<unknown> {
  const path = echoClientPath();
  if (path === undefined) {
    return Promise.reject(new Error('asyncuv-echo-client is not built; run npm run build:native'));
  }
  return new Promise((resolve, reject) => {
    execFile(path, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(
          new Error(
            `asyncuv-echo-client ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`,
          ),
        );
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`asyncuv-echo-client printed no JSON: ${stdout}${stderr}`));
      }
    });
  });
}

/** Ping-pong: `conns` connections each keep one `size`-byte message in flight. */
export async function pingPong(o: PingPongOptions): Promise<PingPongReport> {
  const seconds = o.seconds ?? 2;
  const warmup = o.warmup ?? 0.5;
  const args = [
    '--host',
    o.host ?? '127.0.0.1',
    '--port',
    String(o.port),
    '--conns',
    String(o.conns ?? 1),
    '--size',
    String(o.size ?? 1024),
    '--seconds',
    String(seconds),
    '--warmup',
    String(warmup),
  ];
  // The client bounds itself; the kill timeout only guards against a hung child.
  return (await runClient(args, (seconds + warmup + 10) * 1000)) as PingPongReport;
}

/** Stream: one connection sends `bytes` in 64 KiB writes and reads the echo back. */
export async function stream(o: StreamOptions): Promise<StreamReport> {
  const seconds = o.seconds ?? 60;
  const args = [
    '--mode',
    'stream',
    '--host',
    o.host ?? '127.0.0.1',
    '--port',
    String(o.port),
    '--bytes',
    String(o.bytes),
    '--seconds',
    String(seconds),
  ];
  return (await runClient(args, (seconds + 10) * 1000)) as StreamReport;
}

export interface SlowPeerReport {
  mode: 'sink' | 'source';
  /** Bytes read (sink, pattern-checked) or written (source). */
  bytes: number;
  seconds: number;
  rate: number;
  mb_per_s: number;
  conns: 1;
  errors: number;
}

export interface SinkOptions {
  host?: string;
  port: number;
  /** At most this many bytes per read... */
  readSize: number;
  /** ...and one read per this many milliseconds. */
  intervalMs: number;
  seconds?: number;
}

/** A slow reader: reads `readSize` bytes every `intervalMs` until EOF, checking the stream pattern. */
export async function sink(o: SinkOptions): Promise<SlowPeerReport> {
  const seconds = o.seconds ?? 60;
  const args = [
    '--mode',
    'sink',
    '--host',
    o.host ?? '127.0.0.1',
    '--port',
    String(o.port),
    '--read-size',
    String(o.readSize),
    '--interval-ms',
    String(o.intervalMs),
    '--seconds',
    String(seconds),
  ];
  return (await runClient(args, (seconds + 10) * 1000)) as SlowPeerReport;
}

/** A fast writer: writes `bytes` of the stream pattern, shuts down, waits for the peer to close. */
export async function source(o: StreamOptions): Promise<SlowPeerReport> {
  const seconds = o.seconds ?? 60;
  const args = [
    '--mode',
    'source',
    '--host',
    o.host ?? '127.0.0.1',
    '--port',
    String(o.port),
    '--bytes',
    String(o.bytes),
    '--seconds',
    String(seconds),
  ];
  return (await runClient(args, (seconds + 10) * 1000)) as SlowPeerReport;
}
