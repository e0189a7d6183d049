// BENCHMARK ONLY: the C++-only TCP echo server of native/bench_echo.cc, the
// ceiling that bench/tcp-echo.bench.ts measures the TCP handle against. It
// lives in handles/ because only handles/ and sync/ load the binding; it is
// deliberately not exported from any entry point.
import { binding, type NativeLoop } from './binding.js';
import { kNative } from './internal.js';
import { Loop } from './loop.js';
import { check } from './uv-error.js';

interface NativeBenchEchoServer {
  port: number;
  close(cb?: () => void): void;
}

type BenchEchoServerFn = (loop: NativeLoop, host: string, port: number) => NativeBenchEchoServer | number;

export interface BenchEchoServer {
  /** The port it listens on (the one picked by the OS for port 0). */
  readonly port: number;
  /** Stops listening, closes every connection; resolves once all are closed. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts an echo server whose connections never call into JavaScript: every
 * read is echoed from C++ (uv_try_write first, a queued copy for the rest).
 */
export function benchEchoServer(host: string, port: number, loop: Loop = Loop.default()): BenchEchoServer {
  const start = binding['benchEchoServer'] as BenchEchoServerFn;
  const result = start(loop[kNative], host, port);
  if (typeof result === 'number') {
    check(result, 'listen');
    throw new Error('unreachable: benchEchoServer returned a non-negative status');
  }
  // The native close() calls back once; later calls share that promise.
  let closed: Promise<void> | undefined;
  return {
    port: result.port,
    close: () => (closed ??= new Promise<void>((resolve) => result.close(resolve))),
  };
}
