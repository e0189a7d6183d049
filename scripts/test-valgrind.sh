#!/usr/bin/env bash
# npm run test:valgrind: a memcheck smoke run. ava under valgrind is far too
# slow for the whole suite, so test/valgrind/smoke.ts uses every handle type,
# the fs and dns requests, the asyncio layer and the cross-thread primitives
# once (with a worker thread), against the normal build in build/Release.
#
# --error-exitcode=1 with --errors-for-leak-kinds=definite: any memory error,
# and any definite leak, fails the run. test/valgrind/node.supp holds Node's,
# V8's and the C library's own noise, each entry explained; no entry may match
# a stack that involves asyncuv.node. The log is checked for asyncuv frames
# once more, in case an error slipped under a suppression.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

command -v valgrind >/dev/null 2>&1 || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
}

npx cmake-js compile
npx tsc -p tsconfig.json

mkdir -p build
log="$root/build/valgrind.log"
start=$(date +%s)
set +e
# --jitless: V8 generates no code at run time, so memcheck has no
# self-modifying code to track and runs several times faster; it changes
# nothing in the addon's code paths.
# --trace-children=no: the child programs of the smoke (sh, true) are not ours.
valgrind --tool=memcheck --trace-children=no --error-exitcode=1 \
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --num-callers=40 --suppressions="$root/test/valgrind/node.supp" --gen-suppressions=all \
  --log-file="$log" \
  node --jitless dist/test/valgrind/smoke.js
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))

grep -E 'ERROR SUMMARY|definitely lost|suppressed:' "$log" >&2 || true
# An error record is one paragraph once the "==pid==" prefixes are gone; any
# record (or generated suppression) that names the addon is ours, whatever the
# exit code says.
ours=$(sed -E 's/^==[0-9]+== ?//' "$log" | awk -v RS= '/asyncuv\.node|native\/[a-z_]+\.cc/ { n++ } END { print n + 0 }')
echo "test-valgrind: valgrind exit $rc, $ours error block(s) naming asyncuv.node, ${elapsed}s (log: $log)" >&2
[ "$rc" -eq 0 ] && [ "$ours" -eq 0 ]
