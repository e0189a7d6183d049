// The long descriptor run: 10,000 connect/close cycles at the handle level
// and at the UvEventLoop level, fd counts before and after.
//
//   node dist/scripts/fd-cycles-main.js [--cycles 10000]
import { handleCycles, transportCycles } from './fd-cycles.js';

const i = process.argv.indexOf('--cycles');
const cycles = i < 0 ? 10_000 : Number(process.argv[i + 1]);
let failed = false;
for (const [name, run] of [
  ['handle (TCP)', handleCycles],
  ['UvEventLoop', transportCycles],
] as const) {
  const r = await run(cycles);
  const ok = r.fdsAfter === r.fdsBefore && Object.keys(r.liveHandles).length === 0;
  failed ||= !ok;
  console.log(
    `${name.padEnd(13)} ${r.cycles} cycles in ${r.seconds.toFixed(2)} s (${(r.cycles / r.seconds).toFixed(0)}/s), fds ${r.fdsBefore} -> ${r.fdsAfter}, live handles ${JSON.stringify(r.liveHandles)}${ok ? '' : ' LEAK'}`,
  );
}
process.exitCode = failed ? 1 : 0;
