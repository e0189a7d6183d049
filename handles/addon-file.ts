// Finds the native addon file. The order, first match wins:
// 1. ASYNCUV_ADDON, a path set by hand (the sanitizer run uses it);
// 2. a source build in build/Release or build/Debug (a repository checkout,
//    or an install whose prebuilt binary did not fit and that built one);
// 3. the prebuilt binary for this platform, in the prebuildify layout that
//    node-gyp-build also reads: prebuilds/<platform>-<arch>/node.napi.<libc>.node
//    (the libc tag only on Linux). One Node-API binary serves every Node
//    version from 20 on.
// This module must not load the binding: native/install.mjs imports it to
// decide whether a source build is needed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** 'glibc' or 'musl' on Linux; undefined elsewhere. */
export function linuxLibc(): 'glibc' | 'musl' | undefined {
  if (process.platform !== 'linux') return undefined;
  // The dynamic loader mapped into this process names the C library; a
  // process with no /proc to read is taken to be on glibc, the common case.
  try {
    return readFileSync('/proc/self/maps', 'latin1').includes('/ld-musl-') ? 'musl' : 'glibc';
  } catch {
    return 'glibc';
  }
}

/** Where the prebuilt binary for this platform would be, whether it exists or not. */
export function prebuildFile(root: string): string {
  const libc = linuxLibc();
  const name = libc === undefined ? 'node.napi.node' : `node.napi.${libc}.node`;
  return join(root, 'prebuilds', `${process.platform}-${process.arch}`, name);
}

/** The platform as a user reads it: linux-x64 (glibc). */
export function platformName(): string {
  const libc = linuxLibc();
  return `${process.platform}-${process.arch}${libc === undefined ? '' : ` (${libc})`}`;
}

/** The addon file to load for the package at `root`, or an Error that says what is missing. */
export function findAddonFile(root: string): string | Error {
  const candidates = [
    process.env['ASYNCUV_ADDON'],
    join(root, 'build', 'Release', 'asyncuv.node'),
    join(root, 'build', 'Debug', 'asyncuv.node'),
    prebuildFile(root),
  ];
  const found = candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
  if (found !== undefined) return found;
  return new Error(
    `asyncuv: no native addon for ${platformName()}: there is no prebuilt binary at ` +
      `${prebuildFile(root)} and no source build in ${join(root, 'build')}. ` +
      'Build it from source with cmake (3.15 or later) and a C++17 compiler on PATH: ' +
      'npm rebuild asyncuv',
  );
}
