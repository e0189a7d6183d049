// clang-format over the native sources (native/ and bench/native/), with the
// pinned binary of the clang-format npm package so that every machine formats
// alike. `--check` reports drift and exits 1; without it the files are
// rewritten. Where the package has no binary (it ships linux-x64, darwin-x64
// and win32), a clang-format on PATH is used, and without one the check says
// so and passes: it guards style, not behaviour.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');

function sources(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(c|cc|h)$/.test(e.name))
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

function binary() {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('clang-format/package.json'));
  const platform = `${process.platform}_${process.arch}`;
  const pinned = join(
    pkg,
    'bin',
    platform,
    process.platform === 'win32' ? 'clang-format.exe' : 'clang-format',
  );
  if (existsSync(pinned)) return pinned;
  const onPath = spawnSync('clang-format', ['--version'], { stdio: 'ignore' });
  return onPath.status === 0 ? 'clang-format' : undefined;
}

const files = [...sources(join(root, 'native')), ...sources(join(root, 'bench', 'native'))];
const exe = binary();
if (exe === undefined) {
  console.warn(
    `clang-format: no binary for ${process.platform}-${process.arch} and none on PATH; native/ not checked`,
  );
  process.exit(0);
}
const args = check
  ? ['--dry-run', '--Werror', '--style=file', ...files]
  : ['-i', '--style=file', ...files];
const result = spawnSync(exe, args, { stdio: 'inherit', cwd: root });
if (result.status !== 0 && check) {
  console.error('clang-format: native sources drift from .clang-format; run `npm run format`');
}
process.exit(result.status ?? 1);
