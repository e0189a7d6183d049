// Every ```js example of docs/handles.md runs, as an ES module inside this
// package (so `import 'asyncuv'` resolves to the build), and exits by itself
// with code 0 and nothing on stderr.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const scratch = fileURLToPath(new URL('./examples-tmp/', import.meta.url));
const markdown = await readFile(`${root}docs/handles.md`, 'utf8');
const examples = [...markdown.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A hang bound, not a speed: seven examples start at once, and under
    // ASan on the loaded machine each took 7.5-14 s to start and exit.
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

test.before(async () => {
  await mkdir(scratch, { recursive: true });
});

test.after.always(async () => {
  await rm(scratch, { recursive: true, force: true });
});

test('docs/handles.md has examples', (t) => {
  t.true(examples.length >= 6, `${examples.length} examples`);
});

for (const [i, source] of examples.entries()) {
  const title = source.split('\n').find((l) => !l.startsWith('import') && l.trim() !== '') ?? '';
  test(`docs example ${i + 1} runs and exits by itself: ${title.slice(0, 50)}`, async (t) => {
    const file = `${scratch}example-${i + 1}.mjs`;
    await writeFile(file, source);
    const result = await run(file);
    t.is(result.stderr, '');
    t.is(result.code, 0);
    t.not(result.stdout, '', 'every example prints what it shows');
  });
}
