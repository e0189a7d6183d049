// The published types under a user's strict settings (tsconfig.user.json:
// strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes), compiled
// against dist/*.d.ts through package.json's exports, as a user's project
// imports them:
// - fixtures/user-code.ts, typical code from the docs, compiles with no
//   error and no cast; so does fixtures/api-handles.ts, API.md's handles/
//   section call by call;
// - fixtures/must-not-compile.ts: every line after a
//   `// @ts-expect-error TSnnnn reason` fails with exactly that code once
//   the directives are removed, and no other line fails.
import test from 'ava';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { root, tsc } from '../helpers/typescript.js';

const scratch = fileURLToPath(new URL(`./negative-${process.pid}/`, import.meta.url));

test.after.always(async () => {
  await rm(scratch, { recursive: true, force: true });
});

// tsc checks @types/node and our declarations too: about 10 s on a quiet
// machine, over a minute on a loaded one.
const TSC_MS = 240_000;

test('typical user code compiles under strict settings with no casts', async (t) => {
  t.timeout(TSC_MS);
  const source = await readFile(`${root}test/types/fixtures/user-code.ts`, 'utf8');
  // No `as` outside import renames and comments (`!` after an index or a
  // lookup known to exist is what noUncheckedIndexedAccess asks for).
  const code = source.replace(/^import [\s\S]*?from '[^']+';$/gm, '').replace(/\/\/.*$/gm, '');
  t.notRegex(code, /\bas\s+(?!const\b)[\w{[(]/, 'no casts in the fixture');
  const result = await tsc('test/types/tsconfig.json', TSC_MS);
  t.deepEqual(result.diagnostics, [], result.output);
  t.is(result.code, 0, result.output);
});

test('misuses fail with the expected error on each marked line, and nowhere else', async (t) => {
  t.timeout(TSC_MS);
  const source = await readFile(`${root}test/types/fixtures/must-not-compile.ts`, 'utf8');
  const expected = new Map<number, string>();
  const lines = source.split('\n').map((line, i) => {
    const m = /\/\/ @ts-expect-error (TS\d+) /.exec(line);
    if (m === null) return line;
    expected.set(i + 2, m[1]!); // the next line, 1-based
    return '//';
  });
  t.true(expected.size >= 10, `${expected.size} negative cases`);
  await mkdir(scratch, { recursive: true });
  await writeFile(`${scratch}must-not-compile.ts`, lines.join('\n'));
  await writeFile(
    `${scratch}tsconfig.json`,
    JSON.stringify({
      extends: `${root}test/types/tsconfig.user.json`,
      compilerOptions: { noEmit: true },
      files: ['must-not-compile.ts'],
    }),
  );
  const result = await tsc(`${scratch}tsconfig.json`, TSC_MS);
  const got = new Map(result.diagnostics.map((d) => [d.line, d.code]));
  t.deepEqual(got, expected, result.output);
});
