// Runs every ```js example of a page of docs/ as an ES module inside this
// package (so `import 'asyncuv'` resolves to the build): each must exit by
// itself with code 0, print what it shows, and write nothing to stderr.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function run(
  file: string,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A test per ```js example of `page` ('handles.md'...), which must have `min` or more. */
export async function testDocExamples(
  page: string,
  min: number,
  timeoutMs = 10_000,
): Promise<void> {
  const scratch = fileURLToPath(
    new URL(`./examples-tmp/${page.replace(/\.md$/, '')}/`, import.meta.url),
  );
  const markdown = await readFile(`${root}docs/${page}`, 'utf8');
  const examples = [...markdown.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);

  test.before(async () => {
    await mkdir(scratch, { recursive: true });
  });

  test.after.always(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  test(`docs/${page} has examples`, (t) => {
    t.true(examples.length >= min, `${examples.length} examples`);
  });

  for (const [i, source] of examples.entries()) {
    const title = source.split('\n').find((l) => !l.startsWith('import') && l.trim() !== '') ?? '';
    const name = `docs/${page} example ${i + 1} runs and exits by itself: ${title.slice(0, 50)}`;
    test(name, async (t) => {
      const file = `${scratch}example-${i + 1}.mjs`;
      await writeFile(file, source);
      const result = await run(file, timeoutMs);
      t.is(result.stderr, '');
      t.is(result.code, 0);
      t.not(result.stdout, '', 'every example prints what it shows');
    });
  }
}
