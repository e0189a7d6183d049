// UsageErrorCode is a closed set: every code a UsageError is made with in
// the sources is in USAGE_ERROR_CODES, and every code listed is thrown
// somewhere (a listed code nothing throws is a promise the API does not keep).
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isUsageErrorCode, USAGE_ERROR_CODES } from '../../errors/usage-error.js';
import { root } from '../helpers/typescript.js';

const productDirs = ['errors', 'handles', 'loop', 'sync', 'adapters'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Each `new UsageError(code, ...)` of the product sources: code -> files. */
function thrownCodes(): { literal: Map<string, string[]>; dynamic: string[] } {
  const literal = new Map<string, string[]>();
  const dynamic: string[] = [];
  for (const file of productDirs.flatMap((dir) => sources(join(root, dir)))) {
    const text = readFileSync(file, 'utf8');
    for (const [, first] of text.matchAll(/new UsageError\(\s*([^,]+),/g)) {
      const code = /^'([A-Z_]+)'$/.exec(first!.trim())?.[1];
      if (code === undefined) dynamic.push(`${file}: ${first}`);
      else literal.set(code, [...(literal.get(code) ?? []), file]);
    }
  }
  return { literal, dynamic };
}

test('every code a UsageError is thrown with is in USAGE_ERROR_CODES', (t) => {
  const { literal } = thrownCodes();
  t.true(literal.size >= USAGE_ERROR_CODES.length, 'the scan found the throw sites');
  const unlisted = [...literal.keys()].filter((code) => !isUsageErrorCode(code));
  t.deepEqual(unlisted, []);
});

test('every code in USAGE_ERROR_CODES is thrown somewhere', (t) => {
  const { literal } = thrownCodes();
  t.deepEqual(
    USAGE_ERROR_CODES.filter((code) => !literal.has(code)),
    [],
  );
});

test('the one UsageError made with a computed code checks it against the set', (t) => {
  // A UsageError revived from another thread (threaded-server-messages)
  // keeps its code only when isUsageErrorCode accepts it.
  const { dynamic } = thrownCodes();
  t.is(dynamic.length, 1, dynamic.join('\n'));
  t.regex(dynamic[0]!, /threaded-server-messages\.ts/);
  const text = readFileSync(join(root, 'adapters/threaded-server-messages.ts'), 'utf8');
  t.regex(text, /isUsageErrorCode\(e\.code\)/);
});

test('isUsageErrorCode accepts the listed codes only', (t) => {
  for (const code of USAGE_ERROR_CODES) t.true(isUsageErrorCode(code));
  for (const other of ['ERR_WHATEVER', '', undefined, 42, 'err_loop_closed']) {
    t.false(isUsageErrorCode(other));
  }
});
