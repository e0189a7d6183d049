// Every code block of README.md and docs/*.md (docs/api/ is generated) is
// checked as test/docs/README.md says: TypeScript blocks are type-checked
// under a user's strict settings and run, JavaScript blocks run, each as a
// program of its own in a child process that must exit 0 by itself, with
// nothing on stderr, before a deadline; shell blocks name npm scripts and
// files that exist.
import test, { type ExecutionContext } from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type ChildResult, runCommand, runScript } from '../helpers/child.js';
import { withPrograms } from '../helpers/tools.js';
import { type Diagnostic, root, tsc } from '../helpers/typescript.js';
import { type CodeBlock, codeBlocks, docFiles } from './code-blocks.js';

/** How long one example may run; they all finish in well under a second on a quiet machine. */
const DEADLINE_MS = 30_000;
/** Examples running at once (each is a node process; the machine may be loaded). */
const PARALLEL = 3;

const scratch = fileURLToPath(new URL(`./blocks-${process.pid}/`, import.meta.url));
const blocks = docFiles(root).flatMap((doc) => codeBlocks(root, doc));
const tsBlocks = blocks.filter((b) => b.kind === 'ts');
const where = (b: CodeBlock): string => `${b.doc}:${b.line}`;

// Every TypeScript block is one file of one project, compiled once.
let compiled: Promise<Map<string, Diagnostic[]>> | undefined;
function compileTs(): Promise<Map<string, Diagnostic[]>> {
  compiled ??= (async () => {
    await mkdir(scratch, { recursive: true });
    for (const b of tsBlocks) await writeFile(`${scratch}${b.slug}.ts`, b.source);
    await writeFile(`${scratch}tsconfig.json`, JSON.stringify({
      extends: `${root}test/types/tsconfig.user.json`,
      compilerOptions: {
        outDir: 'out',
        rootDir: '.',
        // Every block is a module of its own, even one without imports.
        moduleDetection: 'force',
        // The type test checks our declarations; here only the blocks matter.
        skipLibCheck: true,
      },
      files: tsBlocks.map((b) => `${b.slug}.ts`),
    }));
    const result = await tsc(`${scratch}tsconfig.json`);
    const byBlock = new Map<string, Diagnostic[]>();
    for (const d of result.diagnostics) {
      const slug = /([^/]+)\.ts$/.exec(d.file)?.[1] ?? d.file;
      byBlock.set(slug, [...(byBlock.get(slug) ?? []), d]);
    }
    return byBlock;
  })();
  return compiled;
}

// A few examples at a time: a slot is taken for the run only.
let running = 0;
const waiting: Array<() => void> = [];
async function inSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

async function runBlock(b: CodeBlock, file: string): Promise<ChildResult> {
  if (!b.options.has('tty')) return runScript(file, [], { cwd: scratch, timeoutMs: DEADLINE_MS });
  // On a pseudo-terminal, typing `keys` once the program has printed.
  const keys = b.options.get('keys') ?? '';
  const args = [`${root}test/docs/pty-keys.py`, keys, process.execPath, file];
  return runCommand('python3', args, { cwd: scratch, timeoutMs: DEADLINE_MS });
}

function assertExitsCleanly(t: ExecutionContext, b: CodeBlock, result: ChildResult): void {
  const output = `${where(b)}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
  t.false(result.timedOut, `still running after ${DEADLINE_MS} ms: ${output}`);
  t.is(result.signal, null, output);
  t.is(result.code, 0, output);
  t.is(result.stderr, '', output);
}

test.after.always(async () => {
  await rm(scratch, { recursive: true, force: true });
});

test('the docs have code blocks of every kind, and every block says its language', (t) => {
  t.true(tsBlocks.length >= 20, `${tsBlocks.length} TypeScript blocks`);
  t.true(blocks.some((b) => b.kind === 'js'));
  t.true(blocks.some((b) => b.kind === 'sh'));
  const unknown = blocks.filter((b) => b.kind === undefined).map((b) => `${where(b)} '${b.lang}'`);
  t.deepEqual(unknown, [], 'tag each block ts, js, sh or text (see test/docs/README.md)');
});

for (const b of blocks) {
  const title = `${where(b)} (${b.lang})`;
  // The pseudo-terminal of `tty` blocks is python3's.
  const testBlock = withPrograms(test, b.options.has('tty') ? ['python3'] : []);
  if (b.kind === 'ts') {
    testBlock(`${title} type-checks and runs to exit 0 by itself`, async (t) => {
      t.timeout(DEADLINE_MS + 180_000);
      const diagnostics = (await compileTs()).get(b.slug) ?? [];
      const errors = diagnostics.map((d) => `${b.doc}:${b.line + d.line} ${d.code} ${d.message}`);
      t.deepEqual(errors, [], 'type errors');
      const result = await inSlot(() => runBlock(b, `${scratch}out/${b.slug}.js`));
      assertExitsCleanly(t, b, result);
    });
  } else if (b.kind === 'js') {
    testBlock(`${title} runs to exit 0 by itself`, async (t) => {
      t.timeout(DEADLINE_MS + 120_000);
      await mkdir(scratch, { recursive: true });
      const file = `${scratch}${b.slug}.mjs`;
      await writeFile(file, b.source);
      assertExitsCleanly(t, b, await inSlot(() => runBlock(b, file)));
    });
  } else if (b.kind === 'sh') {
    test(`${title} names npm scripts and files that exist`, (t) => {
      t.deepEqual(missingInShell(b.source), [], where(b));
    });
  }
}

type PackageJson = { scripts: Record<string, string> };
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as PackageJson;
const scripts = Object.keys(pkg.scripts);

/**
 * Shell blocks are not run (they install, build, run the whole suite or a
 * benchmark). What can rot in them is checked: `npm run x` and `npm
 * test/start` name scripts of package.json, and paths into the repository
 * (dist/, test/, scripts/, ...) exist once the project is built.
 */
function missingInShell(source: string): string[] {
  const missing: string[] = [];
  const lines = source.replace(/\\\n/g, ' ').split('\n');
  const commands = lines.map((l) => l.replace(/(^|\s)#.*$/, '').trim()).filter(Boolean);
  for (const command of commands) {
    const words = command.split(/\s+/);
    if (words[0] === 'npm') {
      const script = words[1] === 'run' ? words[2] : words[1];
      const builtin = ['ci', 'install', 'pack'].includes(words[1] ?? '');
      const known = builtin || scripts.includes(script ?? '');
      if (!known) missing.push(`npm script ${script} in: ${command}`);
    }
    for (const word of words) {
      const path = word.includes('=') ? word.slice(word.indexOf('=') + 1) : word;
      const inRepo = /^(dist|test|scripts|examples|bench|docs|native)\/[\w./-]+$/.test(path);
      if (inRepo && !existsSync(`${root}${path}`)) missing.push(`${path} in: ${command}`);
    }
  }
  return missing;
}
