// The long slow-peer run: each of the four cases of
// test/reliability/slow-reader.test.ts with larger totals.
//
//   node dist/scripts/slow-peer-main.js [--mib 512] [--read-mib 64] [--interval-ms 10]
//
// The writers push --mib MiB to a native reader taking 64 KiB every
// --interval-ms; the readers take --read-mib MiB from a native writer, one
// read every --interval-ms. Prints one line per case and a JSON line.
import {
  handleReader,
  handleWriter,
  transportReader,
  transportWriter,
  type SlowPeerResult,
} from './slow-peer.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

const MiB = 2 ** 20;
const write = arg('--mib', 512) * MiB;
const read = arg('--read-mib', 64) * MiB;
const intervalMs = arg('--interval-ms', 10);
const seconds = 3600;
const results: Record<string, SlowPeerResult> = {};
const cases: Array<[string, () => Promise<SlowPeerResult>]> = [
  [
    'transport writer',
    () => transportWriter({ bytes: write, readSize: 64 * 1024, intervalMs, seconds }),
  ],
  ['handle writer', () => handleWriter({ bytes: write, readSize: 64 * 1024, intervalMs, seconds })],
  ['transport reader', () => transportReader({ bytes: read, intervalMs, seconds })],
  ['handle reader', () => handleReader({ bytes: read, intervalMs, seconds })],
];
let failed = false;
for (const [name, run] of cases) {
  const r = await run();
  results[name] = r;
  const ok =
    r.peer.errors === 0 && r.bytes === r.peer.bytes && Object.keys(r.liveHandles).length === 0;
  failed ||= !ok;
  console.log(
    `${name.padEnd(17)} ${(r.bytes / MiB).toFixed(0)} MiB in ${r.seconds.toFixed(1)} s (${(r.bytes / r.seconds / 1e6).toFixed(1)} MB/s), ` +
      `RSS growth ${(r.rssGrowth / MiB).toFixed(1)} MiB, external growth ${(r.externalGrowth / MiB).toFixed(1)} MiB, ${r.pauses} pauses${ok ? '' : ' FAILED'}`,
  );
}
console.log(JSON.stringify(results));
process.exitCode = failed ? 1 : 0;
