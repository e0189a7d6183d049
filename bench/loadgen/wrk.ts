// Runs wrk (Debian's package) against a local HTTP server in a child
// process and returns its requests per second: the HTTP load of the
// benchmarks, which costs less than the servers it measures.
import { execFile } from 'node:child_process';

export interface WrkOptions {
  port: number;
  seconds: number;
  /** Keep-alive connections (default 50). */
  conns?: number;
  /** wrk threads (default 1). */
  threads?: number;
  path?: string;
  /** Sends `Connection: close`: one connection per request. */
  connectionClose?: boolean;
}

export interface WrkReport {
  /** Requests per second. */
  rate: number;
  /** Requests completed. */
  requests: number;
}

export function wrk(o: WrkOptions): Promise<WrkReport> {
  const args = [
    `-t${o.threads ?? 1}`,
    `-c${o.conns ?? 50}`,
    `-d${o.seconds}s`,
    ...(o.connectionClose === true ? ['-H', 'Connection: close'] : []),
    `http://127.0.0.1:${o.port}${o.path ?? '/'}`,
  ];
  return new Promise((resolve, reject) =>
    execFile('wrk', args, (err, stdout) => {
      if (err) return reject(new Error(`wrk failed (apt-get install wrk): ${err.message}`));
      const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
      if (!m) return reject(new Error(`no Requests/sec in wrk output:\n${stdout}`));
      // Error answers would count as requests: a failing server is not a fast one.
      if (/Non-2xx/.test(stdout)) return reject(new Error(`wrk saw error answers:\n${stdout}`));
      const total = /(\d+) requests in/.exec(stdout);
      resolve({ rate: Number(m[1]), requests: Number(total?.[1] ?? NaN) });
    }),
  );
}
