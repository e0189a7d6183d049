// One HTTP server on every core, in one process: startThreadedServer runs
// tour/threads-server.ts on a worker thread per core, each with its own
// UvEventLoop, all on one port; every request adds to one hit counter in
// shared memory under an asyncuv Mutex. node:http clients in this thread
// drive it over keep-alive connections; the count must come out exact.
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { startThreadedServer } from '../../adapters/index.js';
import { Mutex } from '../../sync/index.js';
import type { TourStep } from './step.js';

const REQUESTS = 1000;
const SOCKETS = 16;

function get(agent: http.Agent, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ agent, host: '127.0.0.1', port, path: '/' }, (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (text += d))
          .on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

export const threads: TourStep = {
  title: 'One HTTP server on every core, one process (startThreadedServer)',
  async run(ctx) {
    const mutex = new Mutex();
    const hits = new SharedArrayBuffer(4);
    const server = await startThreadedServer(new URL('./threads-server.js', import.meta.url), {
      host: '127.0.0.1',
      port: 0,
      shared: { mutex: mutex.handle, hits },
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS });
    const byThread = new Map<string, number>();
    const t0 = performance.now();
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: SOCKETS }, async () => {
          while (next < REQUESTS) {
            if (next++ % 500 === 0) ctx.progress(`threads: request ${next}/${REQUESTS}`);
            const who = await get(agent, server.port);
            byThread.set(who, (byThread.get(who) ?? 0) + 1);
          }
        }),
      );
    } finally {
      agent.destroy();
      await server.close();
    }
    const ms = performance.now() - t0;
    const counted = new Int32Array(hits)[0]!;
    const spread = [...byThread]
      .sort()
      .map(([who, n]) => `${who}: ${n}`)
      .join(', ');
    const cores = availableParallelism();
    const expected = REQUESTS.toLocaleString('en');
    const verdict = counted === REQUESTS ? 'exact' : 'LOST UPDATES';
    return [
      `${server.threads} threads (${cores} cores) on port ${server.port}, ` +
        `balanced by ${server.balance}: ` +
        `${REQUESTS} requests over ${SOCKETS} keep-alive connections in ${Math.round(ms)} ms`,
      `answered by ${spread}`,
      `shared hit counter under a Mutex: ${counted.toLocaleString('en')} ` +
        `(expected ${expected}, ${verdict})`,
      `close() drained the connections and ended every thread`,
    ];
  },
};
