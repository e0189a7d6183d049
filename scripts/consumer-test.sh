#!/usr/bin/env bash
# The package as its users get it. `npm pack` (which builds the library and
# the prebuilt binaries), then, for each node binary given (default: the one
# on PATH), a fresh project in a temporary directory installs the tarball
# with no cmake and no compiler on PATH, and runs test/package/smoke-esm.mjs
# (import) and smoke-cjs.cjs (require) from there: an echo on UvEventLoop and
# on NodeEventLoop, and a Mutex shared with a worker. Fails on a tarball that
# holds tests, benches or scripts, on an install that built from source, and
# on any smoke failure. Prints the tarball's size and file count and each
# install's time.
#   bash scripts/consumer-test.sh [/path/to/node ...]
#   ASYNCUV_TARBALL=path skips the pack and uses that tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d /tmp/asyncuv-consumer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if [ -n "${ASYNCUV_TARBALL:-}" ]; then
  tarball=$(realpath "$ASYNCUV_TARBALL")
else
  name=$(npm pack --silent --pack-destination "$tmp" | tail -n 1)
  tarball="$tmp/$name"
fi
files=$(tar tzf "$tarball")
count=$(printf '%s\n' "$files" | grep -vc '/$')
echo "consumer-test: $(basename "$tarball"): $(stat -c %s "$tarball") bytes, $count files"
junk=$(printf '%s\n' "$files" | grep -E '^package/(.*/)?(test|tests|bench|scripts|fixtures)/' || true)
if [ -n "$junk" ]; then
  echo "consumer-test: the tarball ships files users must not get:" >&2
  printf '%s\n' "$junk" | head -20 >&2
  exit 1
fi
for need in package/dist/index.js package/dist/index.d.ts package/LICENSE package/README.md \
  package/native/install.mjs package/prebuilds/linux-x64/node.napi.glibc.node; do
  printf '%s\n' "$files" | grep -qx "$need" || { echo "consumer-test: $need is missing" >&2; exit 1; }
done

npm_cli=$(readlink -f "$(command -v npm)")
build_tools='^(cmake|ccmake|cpack|ctest|make|gmake|ninja|cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|ld|node|npm|npx|corepack)([-.0-9].*)?$|^(gcc|g\+\+|cpp|c\+\+|clang|ld)-|-(gcc|g\+\+|c\+\+|cpp|ld|clang|clang\+\+)(-[0-9.]+)?$'
nodes=("$@")
[ ${#nodes[@]} -gt 0 ] || nodes=("$(command -v node)")
for node in "${nodes[@]}"; do
  node=$(realpath "$node")
  version=$("$node" --version)
  # PATH is this machine's minus every build tool (as on a slim image), with
  # this node and npm.
  bin="$tmp/bin-$version"
  mkdir -p "$bin"
  for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    [ -d "$dir" ] || continue
    for tool in "$dir"/*; do
      base=${tool##*/}
      [[ "$base" =~ $build_tools ]] && continue
      [ -e "$bin/$base" ] || ln -s "$tool" "$bin/$base"
    done
  done
  ln -sf "$node" "$bin/node"
  ln -sf "$npm_cli" "$bin/npm"
  for tool in cmake c++ g++ gcc cc clang++; do
    if PATH="$bin" command -v "$tool" >/dev/null 2>&1; then
      echo "consumer-test: $tool is on the restricted PATH" >&2
      exit 1
    fi
  done
  project="$tmp/project-$version"
  mkdir -p "$project"
  cp test/package/*.mjs test/package/*.cjs "$project/"
  (
    cd "$project"
    export PATH="$bin"
    unset npm_config_nodedir ASYNCUV_ADDON
    printf '{ "name": "consumer", "version": "1.0.0", "private": true }\n' >package.json
    start=$EPOCHREALTIME
    npm install --no-audit --no-fund --loglevel=error "$tarball" >install.log 2>&1 ||
      { cat install.log >&2; echo "consumer-test: npm install failed on node $version" >&2; exit 1; }
    end=$EPOCHREALTIME
    ms=$(((${end/./} - ${start/./}) / 1000))
    if [ -e node_modules/asyncuv/build ]; then
      echo "consumer-test: node $version built from source instead of using the prebuilt binary" >&2
      exit 1
    fi
    echo "consumer-test: node $version: installed in ${ms} ms"
    timeout 120 node smoke-esm.mjs
    timeout 120 node smoke-cjs.cjs
  )
done
# Where no prebuilt binary fits (forced here): with no toolchain, one message
# that names what is missing; with one, a build from source that works.
node=$(realpath "${nodes[0]}")
version=$("$node" --version)
project="$tmp/no-toolchain"
mkdir -p "$project"
(
  cd "$project"
  export PATH="$tmp/bin-$version" ASYNCUV_BUILD_FROM_SOURCE=1
  unset npm_config_nodedir ASYNCUV_ADDON
  printf '{ "name": "consumer", "version": "1.0.0", "private": true }\n' >package.json
  if npm install --no-audit --no-fund --loglevel=error "$tarball" >install.log 2>&1; then
    echo "consumer-test: an install with no prebuilt binary and no toolchain succeeded" >&2
    exit 1
  fi
  for word in 'cannot install' 'cmake (3.15 or later) on PATH' 'a C++17 compiler on PATH'; do
    grep -qF "$word" install.log ||
      { cat install.log >&2; echo "consumer-test: the failed install does not say '$word'" >&2; exit 1; }
  done
  echo "consumer-test: no prebuilt binary, no toolchain: $(grep -F 'cannot install' install.log)"
)
project="$tmp/from-source"
mkdir -p "$project"
cp test/package/*.mjs test/package/*.cjs "$project/"
(
  cd "$project"
  export ASYNCUV_BUILD_FROM_SOURCE=1 PATH="$(dirname "$node"):$PATH"
  unset npm_config_nodedir ASYNCUV_ADDON
  printf '{ "name": "consumer", "version": "1.0.0", "private": true }\n' >package.json
  start=$EPOCHREALTIME
  npm install --no-audit --no-fund --loglevel=error "$tarball" >install.log 2>&1 ||
    { cat install.log >&2; echo "consumer-test: the build from source failed" >&2; exit 1; }
  end=$EPOCHREALTIME
  [ -f node_modules/asyncuv/build/Release/asyncuv.node ] ||
    { echo "consumer-test: the build from source left no addon" >&2; exit 1; }
  echo "consumer-test: node $version: built from source in $(((${end/./} - ${start/./}) / 1000)) ms"
  timeout 120 node smoke-esm.mjs
)
echo "consumer-test: ok on ${#nodes[@]} Node version(s)"
