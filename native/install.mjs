// The install step of the asyncuv package (npm runs it at `npm install`).
// 1. A prebuilt binary for this platform that loads is kept: no compiler is
//    needed, nothing is built.
// 2. Otherwise the addon is built from source with cmake-js, which needs
//    cmake, a C++17 compiler and Node's own headers (for uv.h).
// 3. Otherwise the install fails with one message that names what is missing.
// ASYNCUV_BUILD_FROM_SOURCE=1 skips step 1.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The prebuilt binary for this platform if it exists and loads, with the reason if not. */
async function loadablePrebuild() {
  // The compiled library is in the package; a repository checkout installs
  // before it compiles its TypeScript, and has no prebuilt binaries anyway.
  const helper = join(root, 'dist', 'handles', 'addon-file.js');
  if (!existsSync(helper)) return { file: undefined, why: 'no compiled library yet' };
  const { prebuildFile, platformName } = await import(helper);
  const file = prebuildFile(root);
  if (!existsSync(file))
    return { file: undefined, why: `no prebuilt binary for ${platformName()}` };
  try {
    process.dlopen({ exports: {} }, file);
    return { file, why: '' };
  } catch (err) {
    return {
      file: undefined,
      why: `the prebuilt binary for ${platformName()} does not load: ${err.message}`,
    };
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** What a source build needs and this machine lacks, in words a user can act on. */
function missingForSourceBuild() {
  const missing = [];
  if (!onPath('cmake')) missing.push('cmake (3.15 or later) on PATH');
  const cxx = process.env.CXX;
  const compilers = cxx ? [cxx] : ['c++', 'g++', 'clang++'];
  if (!compilers.some((c) => (c.includes('/') ? existsSync(c) : onPath(c)))) {
    missing.push(`a C++17 compiler on PATH (${compilers.join(', ')})`);
  }
  const nodedir = process.env.npm_config_nodedir;
  const headers = [
    ...(nodedir ? [join(nodedir, 'include', 'node')] : []),
    resolve(dirname(process.execPath), '..', 'include', 'node'),
  ];
  if (!headers.some((dir) => existsSync(join(dir, 'uv.h')))) {
    missing.push(
      `Node's own headers with uv.h (looked in ${headers.join(', ')}; set npm_config_nodedir)`,
    );
  }
  for (const pkg of ['cmake-js/package.json', 'node-addon-api/package.json']) {
    try {
      require.resolve(pkg);
    } catch {
      missing.push(`the npm package ${dirname(pkg)}`);
    }
  }
  return missing;
}

const fromSource = process.env.ASYNCUV_BUILD_FROM_SOURCE === '1';
const prebuild = fromSource
  ? { file: undefined, why: 'a build from source was asked for (ASYNCUV_BUILD_FROM_SOURCE=1)' }
  : await loadablePrebuild();
if (prebuild.file !== undefined) process.exit(0);

const missing = missingForSourceBuild();
if (missing.length > 0) {
  console.error(
    `asyncuv: cannot install: ${prebuild.why}, and a build from source needs ` +
      `${missing.join('; ')}. Install what is missing and run npm rebuild asyncuv.`,
  );
  process.exit(1);
}
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const build = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error(
    `asyncuv: the build from source failed (${prebuild.why}); see the cmake-js output above.`,
  );
}
process.exit(build.status ?? 1);
