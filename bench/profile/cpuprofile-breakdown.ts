// Reads a V8 CPU profile (node --cpu-prof) and prints where the main
// thread's time went by layer (layers.ts) and by function, self time:
//
//   node dist/bench/profile/cpuprofile-breakdown.js CPU.*.cpuprofile [run.json]
//
// With the JSON line workloads.js printed, only the samples of its measured
// window count (V8's profile clock and process.hrtime are both the
// monotonic clock); startup and exit are left out.
//
// V8's profiler sees JavaScript frames; native code called from JS (the
// addon's methods, Buffer) shows as the JS-visible function that called
// into it, and native code entered from libuv (the driver, uv_run, Node's
// own phases) as "(program)". perf (perf-breakdown.ts) splits those.
import { readFileSync } from 'node:fs';
import { jsLayer } from './layers.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, runFile] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: cpuprofile-breakdown.js <file.cpuprofile> [run.json]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const window =
  runFile === undefined
    ? undefined
    : (JSON.parse(readFileSync(runFile, 'utf8')) as { startUs: number; endUs: number });
const selfUs = new Map<number, number>();
// timeDeltas[i] is the time before sample i: charge it to sample i - 1.
let at = profile.startTime + profile.timeDeltas[0]!;
for (let i = 1; i < profile.samples.length; i++) {
  const id = profile.samples[i - 1]!;
  const inWindow = window === undefined || (at >= window.startUs && at <= window.endUs);
  if (inWindow) selfUs.set(id, (selfUs.get(id) ?? 0) + profile.timeDeltas[i]!);
  at += profile.timeDeltas[i]!;
}

const layers = new Map<string, number>();
const functions = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  let layer: string;
  let name: string;
  if (functionName.startsWith('(')) {
    layer = functionName === '(program)' ? 'native, entered from libuv (program)' : functionName;
    name = functionName;
  } else if (url === '') {
    layer = 'native, called from JS';
    name = `${functionName || '(anonymous)'} [native]`;
  } else {
    layer = jsLayer(url).group;
    name = `${functionName || '(anonymous)'} ${url.replace(/^.*\/dist\//, '')}:${lineNumber + 1}`;
  }
  if (functionName === '(idle)') continue; // not CPU time
  total += us;
  layers.set(layer, (layers.get(layer) ?? 0) + us);
  functions.set(name, (functions.get(name) ?? 0) + us);
}

function table(map: Map<string, number>, limit: number): string {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
}

console.log(
  `${(total / 1e3).toFixed(0)} ms of samples (idle excluded)\n\nBy layer:\n${table(layers, 20)}\n\nBy function, self time (top 30):\n${table(functions, 30)}`,
);
