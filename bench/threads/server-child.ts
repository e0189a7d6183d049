// A server of the threaded-server benchmarks, in a process of its own so that
// its memory can be measured: `node server-child.js <threads|cluster>
// <echo|http> <count>` serves the handler (echo-handler.ts, http-handler.ts)
// on 127.0.0.1, an ephemeral port, with `count` threads (startThreadedServer)
// or `count` cluster workers (node:net / node:http), prints
// {"port", "pids"} on one line once every thread or worker serves, and
// exits by itself on SIGTERM.
import cluster from 'node:cluster';
import http from 'node:http';
import net from 'node:net';
import { startThreadedServer } from 'asyncuv';
import { serveSocket } from './echo-handler.js';
import { requestListener } from './http-handler.js';

const [kind, workload, countArg] = process.argv.slice(2) as [
  'threads' | 'cluster',
  'echo' | 'http',
  string,
];
const count = Number(countArg);
const host = '127.0.0.1';

if (kind === 'threads') {
  const server = await startThreadedServer(new URL(`./${workload}-handler.js`, import.meta.url), {
    host,
    port: 0,
    threads: count,
  });
  server.on('error', (err) => console.error(err));
  console.log(JSON.stringify({ port: server.port, pids: [process.pid] }));
  process.once('SIGTERM', () => void server.close({ deadlineMs: 0 }));
} else if (cluster.isPrimary) {
  const workers = Array.from({ length: count }, () => cluster.fork());
  const ports = await Promise.all(
    workers.map(
      (w) => new Promise<number>((resolve) => w.once('listening', (a) => resolve(a.port))),
    ),
  );
  if (new Set(ports).size !== 1)
    throw new Error(`cluster workers listen on different ports: ${ports.join(', ')}`);
  console.log(
    JSON.stringify({ port: ports[0], pids: [process.pid, ...workers.map((w) => w.process.pid)] }),
  );
  process.once('SIGTERM', () => {
    for (const w of workers) w.kill();
  });
} else {
  // Port 0 in cluster workers: the primary binds once and every worker shares it.
  const server =
    workload === 'echo'
      ? net.createServer({ noDelay: true }, serveSocket)
      : http.createServer(requestListener);
  server.listen(0, host);
}
