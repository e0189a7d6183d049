// Reads `perf script -F tid,time,ip,sym,dso` output (perf record -g -k
// CLOCK_MONOTONIC of a node process run with --perf-basic-prof
// --interpreted-frames-native-stack) and prints where the main thread's
// samples went, by layer:
//
//   node dist/bench/profile/perf-breakdown.js perf.txt [run.json]
//
// With the JSON line workloads.js printed, only the samples of its measured
// window count (perf's clock is then the monotonic one, as process.hrtime).
//
// Each sample belongs to the innermost frame of its stack that a rule below
// names: a JS function by its file (the loop, transport, handles layers,
// the workload, Node's own JS), a Node-API call, an asyncuv function, a
// Node function, a libuv function (on Node's loop or the private one), a
// system call or libc's allocator. V8's own frames, builtins and kernel
// frames are transparent: their time goes to the nearest named caller, so
// `napi_call_function` holds the cost of entering JS and `napi_get_property`
// the property lookup it runs. The "kernel" column is the share of each
// line's samples that were in the kernel.
import { readFileSync } from 'node:fs';
import { jsLayer, type Line } from './layers.js';

interface Frame {
  sym: string;
  dso: string;
}

// Where a frame runs: `privateLoop` for code of the private loop (inside its
// uv_run, which runs inside Node's, or called from the addon), `caller` the
// nearest asyncuv function above it, if any.
interface Context {
  privateLoop: boolean;
  caller: string | undefined;
}

type Rule = (frame: Frame, context: Context) => Line | undefined;

// The driver's functions that arm its handles on Node's loop.
const driverFns =
  /LoopWrap::(OnDriver|RunBatch|Rearm|NextTimeout|SetDriverRef|Touch|ArmFallback|StopDriver)/;

const rules: Rule[] = [
  ({ sym }) => {
    if (!sym.startsWith('JS:')) return undefined;
    return jsLayer(sym);
  },
  ({ sym }, { privateLoop }) => {
    const loop = privateLoop ? 'private loop' : "Node's loop";
    if (/^(__vdso_clock_gettime|clock_gettime)/.test(sym))
      return { name: `clock reads (${loop})`, group: 'clock reads' };
    if (/^(epoll_pwait|epoll_wait)$/.test(sym))
      return { name: `epoll_wait (${loop})`, group: 'epoll_wait (both loops)' };
    if (/^(__libc_write|__write|write|writev|__writev|sendmsg|__libc_sendmsg)$/.test(sym)) {
      return { name: 'write/writev syscall', group: 'write path' };
    }
    if (/^(__libc_read|__read|read|readv|recvmsg)$/.test(sym))
      return { name: 'read syscall', group: 'read path' };
    if (
      /^(malloc|free|cfree|_int_free|_int_malloc|calloc|__libc_calloc|realloc|operator new|operator delete)/.test(
        sym,
      )
    ) {
      return { name: 'malloc/free', group: 'malloc/free' };
    }
    return undefined;
  },
  ({ sym }) => {
    if (!sym.startsWith('napi_')) return undefined;
    const fn = sym.replace(/\s.*$/, '');
    if (/callback_scope|handle_scope/.test(fn))
      return { name: `N-API ${fn}`, group: 'Node-API scopes' };
    if (fn === 'napi_call_function' || fn === 'napi_make_callback')
      return { name: `N-API ${fn}`, group: 'Node-API call into JS' };
    if (/create_buffer|create_external|typedarray|create_arraybuffer/.test(fn))
      return { name: `N-API ${fn}`, group: 'Buffer/typed-array' };
    return { name: `N-API ${fn}`, group: 'Node-API other (lookups, values, wraps)' };
  },
  ({ sym }) => {
    const m = /^asyncuv::(?:\(anonymous namespace\)::)?([\w:]+)/.exec(sym);
    if (m === null) return undefined;
    const fn = m[1]!;
    if (driverFns.test(fn)) {
      return { name: `asyncuv ${fn}`, group: 'driver (native)' };
    }
    if (/Write|ArgBytes/.test(fn)) return { name: `asyncuv ${fn}`, group: 'write path' };
    if (/Read|Slab|OnAlloc/.test(fn)) return { name: `asyncuv ${fn}`, group: 'read path' };
    return { name: `asyncuv ${fn}`, group: 'asyncuv native, other' };
  },
  ({ sym }) => {
    if (
      /^node::(InternalCallbackScope|CallbackScope|AsyncHooks|AsyncWrap|async_context)/.test(sym)
    ) {
      return { name: sym.replace(/\(.*$/, ''), group: 'Node-API scopes' };
    }
    if (/^node::Environment::CheckImmediate/.test(sym))
      return { name: 'node::Environment::CheckImmediate', group: "Node's own phases" };
    if (/^node::/.test(sym))
      return { name: sym.replace(/\(.*$/, '').replace(/<.*$/, ''), group: "Node's own phases" };
    return undefined;
  },
  ({ sym }, { privateLoop, caller }) => {
    if (!/^uv_|^uv__/.test(sym)) return undefined;
    const fn = sym.replace(/\s.*$/, '');
    if (/try_write|uv__write|uv_write/.test(fn))
      return { name: `libuv ${fn}`, group: 'write path' };
    if (/uv__read|uv__stream_io/.test(fn)) return { name: `libuv ${fn}`, group: 'read path' };
    if (caller !== undefined && driverFns.test(caller)) {
      return { name: `libuv ${fn} <- ${caller}`, group: 'driver (native)' };
    }
    return privateLoop
      ? { name: `libuv ${fn} (private loop)`, group: 'uv_run (private loop)' }
      : { name: `libuv ${fn} (Node's loop)`, group: "Node's own phases" };
  },
  ({ sym }) => {
    if (
      /Heap::|Scavenge|MarkCompact|GCTracer|ConcurrentMarking|MinorMC|Sweeper|IncrementalMarking/.test(
        sym,
      )
    ) {
      return { name: 'V8 GC', group: 'GC' };
    }
    if (
      /Parser::|Scanner::|Compiler::|Compile|BytecodeGenerator|Maglev|turbofan|compiler::/.test(sym)
    ) {
      return { name: 'V8 compile', group: 'V8 compile' };
    }
    return undefined;
  },
];

interface Window {
  startUs: number;
  endUs: number;
}

/** The main thread's stacks, leaf first; with a window, only the samples in it. */
function parse(text: string, window: Window | undefined): Frame[][] {
  const samples: Frame[][] = [];
  let main: string | undefined;
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 0) continue;
    const [tid, time] = lines[0]!.trim().split(/\s+/) as [string, string];
    main ??= tid; // the first sample of a process is its main thread's
    if (tid !== main) continue;
    const us = Number.parseFloat(time) * 1e6;
    if (window !== undefined && (us < window.startUs || us > window.endUs)) continue;
    const frames: Frame[] = [];
    for (const line of lines.slice(1)) {
      const m = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/.exec(line);
      if (m !== null) frames.push({ sym: m[1]!.replace(/\+0x[0-9a-f]+$/, ''), dso: m[2]! });
    }
    samples.push(frames);
  }
  return samples;
}

function classify(frames: Frame[]): { line: Line; kernel: boolean } {
  const kernel = frames[0]?.dso === '[kernel.kallsyms]';
  // uv_run frames between a frame and the root: two mean the private loop.
  const uvRunsBelow: number[] = new Array(frames.length).fill(0);
  let runs = 0;
  for (let i = frames.length - 1; i >= 0; i--) {
    if (frames[i]!.sym === 'uv_run') runs++;
    uvRunsBelow[i] = runs;
  }
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    if (frame.dso === '[kernel.kallsyms]') continue;
    const caller = frames
      .slice(i + 1)
      .find((f) => f.sym.startsWith('asyncuv::'))
      ?.sym.replace(/^asyncuv::(\(anonymous namespace\)::)?/, '')
      .replace(/\(.*$/, '');
    const context = { privateLoop: uvRunsBelow[i]! >= 2 || caller !== undefined, caller };
    for (const rule of rules) {
      const line = rule(frame, context);
      if (line === undefined) continue;
      // A Node-API call is named with the asyncuv function that made it.
      if (frame.sym.startsWith('napi_') && caller !== undefined) line.name += ` <- ${caller}`;
      return { line, kernel };
    }
  }
  const leaf = frames.find((f) => f.dso !== '[kernel.kallsyms]')?.sym ?? '[kernel]';
  return { line: { name: `other: ${leaf}`, group: 'other' }, kernel };
}

function table(rows: Array<[string, number, number]>, total: number, limit: number): string {
  const out = rows
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(
      ([name, n, k]) =>
        `${((100 * n) / total).toFixed(1).padStart(5)}%  ${k > 0 ? `${((100 * k) / n).toFixed(0).padStart(3)}%` : '   -'}  ${name}`,
    );
  return ['share  kernel  what', ...out].join('\n');
}

const [file, runFile] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: perf-breakdown.js <perf script output> [run.json]');
  process.exit(2);
}
const window =
  runFile === undefined ? undefined : (JSON.parse(readFileSync(runFile, 'utf8')) as Window);
const samples = parse(readFileSync(file, 'utf8'), window);
const fine = new Map<string, [number, number]>();
const groups = new Map<string, [number, number]>();
for (const frames of samples) {
  const { line, kernel } = classify(frames);
  for (const [map, key] of [
    [fine, line.name],
    [groups, line.group],
  ] as const) {
    const entry = map.get(key) ?? [0, 0];
    entry[0]++;
    if (kernel) entry[1]++;
    map.set(key, entry);
  }
}
const total = samples.length;
const rows = (map: Map<string, [number, number]>): Array<[string, number, number]> =>
  [...map].map(([k, [n, kn]]) => [k, n, kn]);
console.log(
  `${total} main-thread samples${window === undefined ? '' : ' in the measured window'}\n\nBy layer:\n${table(rows(groups), total, 40)}\n\nBy function (top 40):\n${table(rows(fine), total, 40)}`,
);
