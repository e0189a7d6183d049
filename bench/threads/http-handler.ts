// The HTTP handler of the threaded-server benchmarks: one requestListener,
// served by serveHttp on asyncuv's threads and by node:http in cluster's
// workers. Each request costs burn() (cpu-work.ts) over its URL.
import type http from 'node:http';
import { burn } from './cpu-work.js';

export function requestListener(req: http.IncomingMessage, res: http.ServerResponse): void {
  const digest = burn(Buffer.from(req.url ?? '/'));
  res.end(digest === undefined ? 'hello\n' : `${digest.toString('hex')}\n`);
}
