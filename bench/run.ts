// `npm run bench`: runs every bench/<topic>.bench.ts, side by side with
// Node's own modules, and prints one table of ratios. Arguments filter the
// case names (substring, any of them): `npm run bench -- echo udp`.
//
// A bench module exports `cases`; it may also export `details()`, text
// printed after the table (tcp-echo's server CPU per round trip).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable, runCase, type BenchCase, type BenchResult } from './harness.js';

interface BenchModule {
  cases: BenchCase[];
  details?: () => string;
}

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const wanted = (name: string) => filters.length === 0 || filters.some((f) => name.includes(f));

const results: BenchResult[] = [];
const details: string[] = [];
for (const file of readdirSync(here).filter((f) => f.endsWith('.bench.js')).sort()) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as BenchModule;
  const cases = mod.cases.filter((c) => wanted(c.name));
  if (cases.length === 0) continue;
  for (const c of cases) results.push(await runCase(c, (msg) => process.stderr.write(`${msg}\n`)));
  const text = mod.details?.();
  if (text) details.push(text);
}
console.log(formatTable(results));
for (const text of details) console.log(`\n${text}`);
