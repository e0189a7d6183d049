// What one echo round trip makes besides CPU time, the figures of
// bench/PROFILE.md ("Streams layer") that a profile does not show:
//
//   node dist/bench/profile/echo-census.js streams 2 50   # server, seconds, connections
//   node dist/bench/profile/echo-census.js echo 2 50
//
// For the streams echo server (bench/fresh-loop.ts) or the Protocol echo on
// a UvEventLoop, under the native ping-pong client, after a warm-up:
// - the bytes the JS heap allocated per round trip, by the function that
//   allocated them (V8's sampling heap profiler, every 128 bytes, counting
//   objects the scavenger collected too: the young garbage that drives GC);
// - scavenges and mark-compacts per 10k round trips;
// - the transports' pauseReading/resumeReading calls per round trip (the
//   reader's flow control).
// Sampling adds CPU time: take CPU figures from compare.ts, not from here.
import { Session } from 'node:inspector';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { Loop, UvEventLoop, type AbstractEventLoop, type Server } from 'asyncuv';
import { StreamTransport } from '../../loop/stream-transport.js';
import { pingPong } from '../loadgen/echo-client.js';
import { EchoProtocol, streamsEchoServer } from '../fresh-loop.js';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const [kind = 'streams', seconds = '2', conns = '50'] = process.argv.slice(2);
const servers: Record<string, (loop: AbstractEventLoop) => Promise<Server>> = {
  streams: streamsEchoServer,
  echo: (loop) => loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0),
};
const make = servers[kind];
if (make === undefined) {
  console.error('usage: echo-census.js <streams|echo> [seconds] [connections]');
  process.exit(2);
}

let counting = false;
const calls = { pauseReading: 0, resumeReading: 0 };
for (const name of ['pauseReading', 'resumeReading'] as const) {
  const method = StreamTransport.prototype[name];
  StreamTransport.prototype[name] = function (this: StreamTransport): void {
    if (counting) calls[name]++;
    method.call(this);
  };
}
const gcs = { minor: 0, major: 0 };
const observer = new PerformanceObserver((list) => {
  if (!counting) return;
  for (const entry of list.getEntries()) {
    const gcKind = (entry as { detail?: { kind?: number } }).detail?.kind;
    if (gcKind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
    else gcs.major++;
  }
});
observer.observe({ entryTypes: ['gc'] });

const session = new Session();
session.connect();
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) =>
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );

const loop = new UvEventLoop(new Loop());
const server = await make(loop);
const port = (server.sockets()[0] as { port: number }).port;
const conn = Number(conns);
await pingPong({ port, conns: conn, size: 1024, seconds: 0.5 }); // warm-up: V8 tiers up
await post('HeapProfiler.enable');
await post('HeapProfiler.startSampling', {
  samplingInterval: 128,
  includeObjectsCollectedByMinorGC: true,
  includeObjectsCollectedByMajorGC: true,
});
counting = true;
const report = await pingPong({ port, conns: conn, size: 1024, seconds: Number(seconds) });
counting = false;
const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
observer.disconnect();
session.disconnect();

const rt = report.total_roundtrips;
const byFunction = new Map<string, number>();
let total = 0;
const walk = (node: ProfileNode): void => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = `${functionName || '(anonymous)'} ${url.replace(/^.*\/dist\//, '')}:${lineNumber + 1}`;
  total += node.selfSize;
  if (node.selfSize > 0) byFunction.set(where, (byFunction.get(where) ?? 0) + node.selfSize);
  for (const child of node.children) walk(child);
};
walk(profile.head);
console.log(
  `${kind}, ${conn} conn: ${rt} round trips; per round trip: ` +
    `${(total / rt).toFixed(0)} B allocated, ` +
    `pauseReading ${(calls.pauseReading / rt).toFixed(3)}, ` +
    `resumeReading ${(calls.resumeReading / rt).toFixed(3)}; ` +
    `per 10k round trips: ${((gcs.minor / rt) * 1e4).toFixed(2)} scavenges, ` +
    `${((gcs.major / rt) * 1e4).toFixed(2)} mark-compacts`,
);
console.log(
  'bytes per round trip, by allocating function (inlined callees count as their caller):',
);
for (const [where, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
  console.log(`${(bytes / rt).toFixed(1).padStart(8)}  ${where}`);
}
server.close();
await server.waitClosed();
loop.close();
