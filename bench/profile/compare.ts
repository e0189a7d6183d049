// Before/after of one workload (workloads.ts) between builds, in
// alternating rounds, one process per run:
//
//   node dist/bench/profile/compare.js --rounds 5 /tmp/before /tmp/after -- idle 200000
//
// Each directory is a checkout (or a copy of one) holding dist/ and
// build/Release/asyncuv.node; the runs take the addon from there
// (ASYNCUV_ADDON). Rounds alternate which build goes first. Prints, per
// build, the median CPU time per operation with its range, the median wall
// time per operation, and the load average the runs saw: on a shared
// machine the CPU time is the figure to compare.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { median } from '../harness.js';

interface Run {
  cpuUsPerOp: number;
  wallUsPerOp: number;
  load1: number;
}

const args = process.argv.slice(2);
let rounds = 5;
const dirs: string[] = [];
while (args.length > 0 && args[0] !== '--') {
  const arg = args.shift()!;
  if (arg === '--rounds') rounds = Number(args.shift());
  else dirs.push(resolve(arg));
}
args.shift();
if (dirs.length < 2 || args.length === 0) {
  console.error('usage: compare.js [--rounds N] <dir> <dir> [...] -- <workload> [count] [args...]');
  process.exit(2);
}

function runOnce(dir: string): Run {
  const out = execFileSync(
    process.execPath,
    [join(dir, 'dist/bench/profile/workloads.js'), ...args],
    {
      env: { ...process.env, ASYNCUV_ADDON: join(dir, 'build/Release/asyncuv.node') },
      encoding: 'utf8',
    },
  );
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
}

const runs = new Map<string, Run[]>(dirs.map((d) => [d, []]));
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? dirs : [...dirs].reverse();
  for (const dir of order) {
    runs.get(dir)!.push(runOnce(dir));
    process.stderr.write('.');
  }
}
process.stderr.write('\n');

const fmt = (n: number): string => n.toFixed(3);
console.log(`${args.join(' ')}, ${rounds} alternating rounds`);
for (const [dir, list] of runs) {
  const cpu = list.map((r) => r.cpuUsPerOp);
  const wall = list.map((r) => r.wallUsPerOp);
  const load = list.map((r) => r.load1);
  console.log(
    `  ${dir}: CPU ${fmt(median(cpu))} us/op (${fmt(Math.min(...cpu))}-${fmt(Math.max(...cpu))}), ` +
      `wall ${fmt(median(wall))} us/op (${(1e6 / median(wall)).toFixed(0)} ops/s), load ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}`,
  );
}
