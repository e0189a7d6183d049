// The server side of the load run (scripts/load-run.ts): one UvEventLoop
// echo server in its own process, so its descriptors and memory are its
// own and its RSS is what the run reports.
//
//   node dist/scripts/load-echo-server.js --expect N [--timeout S]
//
// Prints {"listening": port} once it accepts, then, once N connections have
// come and gone (or the time limit passed), one JSON line of figures and
// exits (status 0 only if every connection ended without an error).
import { Loop, UvEventLoop, type Protocol, type Transport } from '../index.js';

interface Figures {
  conns: number;
  peakOpen: number;
  bytes: number;
  errors: number;
  pausedWriting: number;
  rssStart: number;
  rssPeak: number;
  externalPeak: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

const expect = arg('--expect', 1);
const timeoutSec = arg('--timeout', 600);
const figures: Figures = {
  conns: 0,
  peakOpen: 0,
  bytes: 0,
  errors: 0,
  pausedWriting: 0,
  rssStart: process.memoryUsage.rss(),
  rssPeak: 0,
  externalPeak: 0,
};
let open = 0;
let closed = 0;
const firstErrors: string[] = [];

function sample(): void {
  const m = process.memoryUsage();
  figures.rssPeak = Math.max(figures.rssPeak, m.rss);
  figures.externalPeak = Math.max(figures.externalPeak, m.external);
}

/** Echoes everything; stops reading while the peer does not take the echo. */
class Echo implements Protocol {
  #t!: Transport;

  connectionMade(t: Transport): void {
    this.#t = t;
    figures.conns++;
    open++;
    if (open > figures.peakOpen) figures.peakOpen = open;
  }

  dataReceived(data: Buffer): void {
    figures.bytes += data.byteLength;
    this.#t.write(data);
  }

  // Without this the server would buffer whatever the client sends faster
  // than it reads the echo: flow control is what bounds the memory.
  pauseWriting(): void {
    figures.pausedWriting++;
    this.#t.pauseReading();
  }

  resumeWriting(): void {
    this.#t.resumeReading();
  }

  connectionLost(err: Error | null): void {
    open--;
    if (err !== null) {
      figures.errors++;
      if (firstErrors.length < 5) firstErrors.push(String(err));
    }
    if (++closed === expect) finish();
  }
}

const uvloop = new Loop();
const loop = new UvEventLoop(uvloop);
// Sampled often enough to see the peak of a run that lasts seconds.
const sampler = setInterval(sample, 50);
const limit = setTimeout(() => {
  firstErrors.push(`time limit: ${closed} of ${expect} connections ended`);
  figures.errors++;
  finish();
}, timeoutSec * 1000);
limit.unref();

const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0, { backlog: 4096 });
const port = (server.sockets()[0] as { port: number }).port;
process.stdout.write(`${JSON.stringify({ listening: port })}\n`);

function finish(): void {
  sample();
  clearInterval(sampler);
  clearTimeout(limit);
  server.close();
  void server.waitClosed().then(async () => {
    loop.close();
    // Close callbacks run in later iterations of the private loop.
    for (let i = 0; i < 200 && Object.keys(uvloop.handleCounts()).length > 0; i++)
      await new Promise((r) => setTimeout(r, 5));
    const counts = uvloop.handleCounts();
    process.stdout.write(`${JSON.stringify({ ...figures, liveHandles: counts, firstErrors })}\n`);
    process.exitCode = figures.errors === 0 && Object.keys(counts).length === 0 ? 0 : 1;
    uvloop.close();
  });
}
