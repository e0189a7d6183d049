import { loadavg } from 'node:os';

// The benchmark harness: each case measures ours and Node's counterpart (or
// a reference implementation) in the same process run, alternating rounds so
// that warm-up and machine noise hit both sides alike, and reports medians.

export interface Side {
  /** What this side is, e.g. 'asyncuv Timer' or 'setTimeout'. */
  label: string;
  /** Runs one round and returns its throughput in `unit` per second. */
  run(): Promise<number>;
}

export interface BenchCase {
  name: string;
  unit: string;
  ours: Side;
  theirs: Side;
  /** Rounds per side; default 5. */
  rounds?: number;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

export interface BenchResult {
  name: string;
  unit: string;
  ours: { label: string; median: number; samples: number[] };
  theirs: { label: string; median: number; samples: number[] };
  /** ours / theirs: above 1 means we are faster. */
  ratio: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs a throughput loop: `op(i)` for `count` items, returns items/s. */
export async function perSecond(count: number, body: () => Promise<void> | void): Promise<number> {
  const start = process.hrtime.bigint();
  await body();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return count / seconds;
}

export async function runCase(
  c: BenchCase,
  progress?: (msg: string) => void,
): Promise<BenchResult> {
  const rounds = c.rounds ?? 5;
  await c.setup?.();
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      // Alternate which side goes first.
      const order =
        i % 2 === 0
          ? ([c.ours, ours, c.theirs, theirs] as const)
          : ([c.theirs, theirs, c.ours, ours] as const);
      progress?.(`${c.name}: round ${i + 1}/${rounds}`);
      order[1].push(await order[0].run());
      order[3].push(await order[2].run());
    }
  } finally {
    await c.teardown?.();
  }
  const o = median(ours);
  const t = median(theirs);
  return {
    name: c.name,
    unit: c.unit,
    ours: { label: c.ours.label, median: o, samples: ours },
    theirs: { label: c.theirs.label, median: t, samples: theirs },
    ratio: o / t,
  };
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(1);
}

export function formatTable(results: BenchResult[]): string {
  const rows = [['case', 'ours', 'theirs', 'ratio']];
  for (const r of results) {
    rows.push([
      r.name,
      `${fmt(r.ours.median)} ${r.unit}/s (${r.ours.label})`,
      `${fmt(r.theirs.median)} ${r.unit}/s (${r.theirs.label})`,
      `${r.ratio.toFixed(2)}x`,
    ]);
  }
  return formatRows(rows);
}

/** Rows of cells as text columns, each as wide as its widest cell. */
export function formatRows(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
}

/**
 * Runs `cases` when a bench file is run by itself (`node dist/bench/x.bench.js`):
 * those whose name contains `filter`, each round's samples on stderr, then
 * the table and `details()`.
 */
export async function runStandalone(
  cases: BenchCase[],
  filter: string | undefined,
  details?: () => string,
): Promise<void> {
  const results = [];
  for (const c of cases.filter((k) => filter === undefined || k.name.includes(filter))) {
    const result = await runCase(c, (msg) => process.stderr.write(`${msg}\n`));
    const samples = (side: BenchResult['ours']): string =>
      `${side.label}: ${side.samples.map((s) => s.toFixed(0)).join(', ')}`;
    process.stderr.write(`  ${samples(result.ours)}; ${samples(result.theirs)}\n`);
    results.push(result);
  }
  console.log(formatTable(results));
  console.log(
    `(load average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})`,
  );
  const text = details?.();
  if (text) console.log(`\n${text}`);
}
