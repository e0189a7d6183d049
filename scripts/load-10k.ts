// The long load run: 10,000 concurrent loopback connections on one
// UvEventLoop server, 1 GiB of pseudo-random data echoed in total, every
// connection's checksum verified by the native client.
//
//   node dist/scripts/load-10k.js [--conns 10000] [--bytes 1073741824] [--seconds 600]
//
// (scripts/load-10k.sh and `npm run load:10k` build first and run this.)
// Prints a summary and one JSON line; exits 1 if anything was lost.
import { runLoad } from './load-run.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

const conns = arg('--conns', 10_000);
const bytes = arg('--bytes', 2 ** 30);
const seconds = arg('--seconds', 600);
const r = await runLoad({ conns, bytes, seconds, fdLimit: 20000 });
const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
const errors = r.client.errors + r.server.errors;
const lost = r.client.verified !== conns || r.client.bytes !== bytes || r.server.bytes !== bytes;
console.log(
  `connections    ${conns} (peak open: client ${r.client.peak_open}, server ${r.server.peakOpen})`,
);
console.log(
  `bytes echoed   ${r.client.bytes} (${mib(r.client.bytes)} MiB; server saw ${r.server.bytes})`,
);
console.log(
  `verified       ${r.client.verified} connections, checksum errors ${r.client.checksum_errors}`,
);
console.log(
  `connect time   ${r.client.connect_seconds.toFixed(2)} s (all ${conns} up before any data)`,
);
console.log(
  `stream time    ${r.client.seconds.toFixed(2)} s, ${r.client.mb_per_s.toFixed(1)} MB/s (10^6 B/s)`,
);
console.log(
  `server RSS     start ${mib(r.server.rssStart)} MiB, peak ${mib(r.server.rssPeak)} MiB; external (arrayBuffers included) peak ${mib(r.server.externalPeak)} MiB`,
);
console.log(`flow control   ${r.server.pausedWriting} pauseWriting calls`);
console.log(
  `errors         ${errors} (client ${r.client.errors}, server ${r.server.errors}) ${r.server.firstErrors.join('; ')}`,
);
console.log(`live handles   ${JSON.stringify(r.server.liveHandles)} after the server closed`);
console.log(`wall time      ${r.wallSeconds.toFixed(1)} s`);
console.log(JSON.stringify(r));
if (r.clientStderr) process.stderr.write(r.clientStderr);
if (r.serverStderr) process.stderr.write(r.serverStderr);
process.exitCode = errors === 0 && !lost && r.clientStatus === 0 && r.serverStatus === 0 ? 0 : 1;
