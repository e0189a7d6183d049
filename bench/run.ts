// `npm run bench [filter...]`: runs every case of every dist/bench/*.bench.js
// (or those whose file or case name contains one of the filters), shows one
// progress line on stderr, prints one table, and writes
// bench/results/latest.json. A bench module may also export `details()`:
// text printed after the table (tcp-echo's server CPU per round trip).
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BenchCase, type BenchResult, formatTable, runCase } from './harness.js';
import { ratioChart } from './chart.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const resultsDir = join(here, '..', '..', 'bench', 'results');
const filters = process.argv.slice(2);
// details() of the modules that ran, called after their cases.
const detailFns: Array<() => string> = [];

let shown = 0;
/** Rewrites the single progress line in place. */
function progress(message: string): void {
  const line = message.length > 100 ? `${message.slice(0, 97)}...` : message;
  process.stderr.write(`\r${line.padEnd(shown)}`);
  shown = line.length;
}

async function loadCases(): Promise<Array<{ file: string; c: BenchCase }>> {
  const files = (await readdir(here)).filter((f) => f.endsWith('.bench.js')).sort();
  const all: Array<{ file: string; c: BenchCase }> = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as {
      cases?: BenchCase[];
      details?: () => string;
    };
    const wanted = (mod.cases ?? []).filter(
      (c) => filters.length === 0 || filters.some((f) => file.includes(f) || c.name.includes(f)),
    );
    for (const c of wanted) all.push({ file, c });
    if (wanted.length > 0 && mod.details) detailFns.push(mod.details);
  }
  return all;
}

async function main(): Promise<void> {
  const cases = await loadCases();
  const results: Array<BenchResult & { file: string }> = [];
  for (const [i, { file, c }] of cases.entries()) {
    const result = await runCase(c, (msg) => progress(`[${i + 1}/${cases.length}] ${msg}`));
    results.push({ file, ...result });
  }
  progress('');
  process.stderr.write('\r');
  console.log(formatTable(results));
  for (const details of detailFns) {
    const text = details();
    if (text) console.log(`\n${text}`);
  }

  await mkdir(resultsDir, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    uv: process.versions.uv,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    note: 'Medians of alternating rounds; the machine is shared, so figures are noisy.',
    results,
  };
  // Written aside and renamed, so a crash never leaves half a file.
  const target = join(resultsDir, 'latest.json');
  await writeFile(`${target}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  await rename(`${target}.tmp`, target);
  console.log(`\nwrote ${target}`);
  // The chart the README shows: only a full run (no filter) replaces it. A
  // full run is also kept per Node major (node22.json), so the versions
  // users run can be compared without rerunning the others.
  if (filters.length === 0) {
    const major = process.versions.node.split('.')[0]!;
    const perVersion = join(resultsDir, `node${major}.json`);
    await writeFile(`${perVersion}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
    await rename(`${perVersion}.tmp`, perVersion);
    console.log(`wrote ${perVersion}`);
    const chart = join(here, '..', '..', 'docs', 'bench.svg');
    await writeFile(
      chart,
      ratioChart(
        results,
        `asyncuv vs Node ${process.version}, ${report.date.slice(0, 10)} (ours / theirs; above 1 is faster)`,
      ),
    );
    console.log(`wrote ${chart}`);
  }
}

await main();
