// Reads `callgrind_annotate --inclusive=no` output and prints one JSON line
// of instructions per operation by class: the code that runs per operation
// ("rest": our layers, V8's builtins and JIT code, Node-API, libuv, libc),
// the young-generation GC (scavenges), the other GC (mark-compact, sweeping:
// a major GC falls into some runs and not others) and V8's compilers (once
// per function). Used by in-batch.sh:
//
//   node dist/bench/profile/callgrind-classes.js annotate.txt <ops>
import { readFileSync } from 'node:fs';

const [file, opsArg] = process.argv.slice(2);
if (file === undefined || opsArg === undefined) {
  console.error('usage: callgrind-classes.js <callgrind_annotate output> <ops>');
  process.exit(2);
}
const ops = Number(opsArg);

const compile =
  /compiler::|Turbofan|Maglev|maglev|Bytecode|Parser|Scanner|interpreter::|Compile|Deoptim/;
const scavenge = /Scaveng/;
const otherGc =
  /MarkCompact|Marking|Sweep|Evacuat|Concurrent|Heap::|GlobalHandles|ObjectStats|Compactor/;

const totals = { rest: 0, scavenge: 0, otherGc: 0, compile: 0 };
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const m = /^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.*)$/.exec(line);
  if (m === null || m[2]!.includes('PROGRAM TOTALS')) continue;
  const count = Number(m[1]!.replaceAll(',', ''));
  const name = m[2]!;
  if (compile.test(name)) totals.compile += count;
  else if (scavenge.test(name)) totals.scavenge += count;
  else if (otherGc.test(name)) totals.otherGc += count;
  else totals.rest += count;
}
const perOp = (n: number): number => Math.round(n / ops);
console.log(
  JSON.stringify({
    ops,
    restPerOp: perOp(totals.rest),
    scavengePerOp: perOp(totals.scavenge),
    otherGcPerOp: perOp(totals.otherGc),
    compilePerOp: perOp(totals.compile),
  }),
);
