// HTTP over our loop: node:http's own server code (keep-alive, chunked
// bodies, headers) running on UvEventLoop transports through serveHttp(),
// driven by node:http clients over keep-alive connections; then the same
// requests against a plain node:http server for comparison. The clients run
// in this process too, so the rates are of client and server together.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { serveHttp } from '../../adapters/index.js';
import { UvEventLoop } from '../../loop/index.js';
import type { TourStep } from './step.js';

const REQUESTS = 1000;
const ROUNDS = 3;
const SOCKETS = 10;
const UPLOAD = 4 * 1024 * 1024;

function request(
  agent: http.Agent,
  port: number,
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, port, host: '127.0.0.1', method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** `count` GETs over SOCKETS keep-alive connections; returns [correct answers, req/s]. */
async function getMany(
  port: number,
  count: number,
  progress: (m: string) => void,
): Promise<[number, number]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS });
  try {
    const t0 = performance.now();
    let next = 0;
    let ok = 0;
    await Promise.all(
      Array.from({ length: SOCKETS }, async () => {
        while (next < count) {
          const i = next++;
          const { status, text } = await request(agent, port, 'GET', `/item/${i}`);
          if (status === 200 && text === `hello /item/${i}`) ok++;
          if (i % 250 === 0) progress(`request ${i}/${count}`);
        }
      }),
    );
    return [ok, (count / (performance.now() - t0)) * 1000];
  } finally {
    agent.destroy();
  }
}

export const httpOnLoop: TourStep = {
  title: 'HTTP over our loop (node:http server code on UvEventLoop transports)',
  async run(ctx) {
    const loop = new UvEventLoop();
    const listener: http.RequestListener = (req, res) => {
      if (req.method === 'POST') {
        // Hash the upload as it streams in: the body arrives in many chunks.
        const hash = createHash('sha256');
        req.on('data', (c: Buffer) => hash.update(c));
        req.on('end', () => res.end(hash.digest('hex')));
      } else res.end(`hello ${req.url}`);
    };
    const served = await serveHttp(loop, listener, '127.0.0.1', 0);
    const plain = http.createServer(listener);
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const agent = new http.Agent({ keepAlive: true });
    try {
      // A short warm-up of both, so neither pays for the JIT alone; then
      // alternating rounds, and the median of each side: one round of a
      // shared machine (a GC, another process) would decide the ratio alone.
      const plainPort = (plain.address() as { port: number }).port;
      await getMany(served.port, 200, () => {});
      await getMany(plainPort, 200, () => {});
      let ok = 0;
      const oursRates: number[] = [];
      const theirRates: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const [good, rate] = await getMany(served.port, REQUESTS, (m) =>
          ctx.progress(`HTTP on our loop, round ${round}/${ROUNDS}: ${m}`),
        );
        ok += good;
        oursRates.push(rate);
        const [, theirRate] = await getMany(plainPort, REQUESTS, (m) =>
          ctx.progress(`HTTP on node:http, round ${round}/${ROUNDS}: ${m}`),
        );
        theirRates.push(theirRate);
      }
      const [ours, theirs] = [median(oursRates), median(theirRates)];

      ctx.progress('HTTP: 4 MiB upload');
      const body = randomBytes(UPLOAD);
      const t1 = performance.now();
      const upload = await request(agent, served.port, 'POST', '/upload', body);
      const postMs = performance.now() - t1;
      const expected = createHash('sha256').update(body).digest('hex');
      return [
        `${ok}/${REQUESTS * ROUNDS} GETs answered correctly over ${SOCKETS} keep-alive connections: ${Math.round(ours).toLocaleString('en')} req/s (median of ${ROUNDS} rounds)`,
        `the same against a plain node:http server, rounds alternating: ${Math.round(theirs).toLocaleString('en')} req/s (ratio ${(ours / theirs).toFixed(2)}x, clients in-process; npm run bench uses wrk)`,
        `a 4 MiB POST streamed through in ${Math.round(postMs)} ms; the server's sha256 ${upload.text === expected ? 'matches' : 'DOES NOT match'} the client's`,
      ];
    } finally {
      agent.destroy();
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
      await served.close();
      loop.close();
    }
  },
};
