// The C++-only TCP echo server of bench/native/bench_echo.cc, the ceiling
// that bench/tcp-echo.bench.ts measures the TCP handle against. It exists only
// in addons built with ASYNCUV_BENCH (a repository checkout's own build), so
// it is not part of the package.
import { binding, type NativeLoop } from '../handles/binding.js';
import { kNative } from '../handles/internal.js';
import { Loop } from '../handles/loop.js';
import { check } from '../handles/uv-error.js';

interface NativeBenchEchoServer {
  port: number;
  close(cb?: () => void): void;
}

type BenchEchoServerFn = (
  loop: NativeLoop,
  host: string,
  port: number,
) => NativeBenchEchoServer | number;

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
export function benchEchoServer(
  host: string,
  port: number,
  loop: Loop = Loop.default(),
): BenchEchoServer {
  const start = binding['benchEchoServer'] as BenchEchoServerFn | undefined;
  if (start === undefined) {
    throw new Error('asyncuv: this addon was built without ASYNCUV_BENCH (npm run build:native)');
  }
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
