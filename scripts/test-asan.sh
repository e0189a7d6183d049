#!/usr/bin/env bash
# npm run test:asan: the whole ava suite against an addon built with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer.
#
# The sanitized addon goes to build-asan/ so build/Release (what `npm test`
# and the benchmarks load) is untouched. Node itself is not instrumented, so
# the ASan runtime must be the first library in every process that loads the
# addon: it is LD_PRELOADed, and the environment (LD_PRELOAD, ASYNCUV_ADDON,
# the sanitizer options) is inherited by ava's worker processes, by the node
# children the tests spawn and by worker_threads.
#
# Every sanitizer report goes to a file under build-asan/reports/ (log_path),
# one per process, because ava and the tests capture the stderr of child
# processes. The run fails if ava fails, or if any report file or the
# captured output contains a report.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# (a) Toolchain: clang and its sanitizer runtimes (Debian: libclang-rt-14-dev).
rt_ok() {
  command -v clang >/dev/null 2>&1 && [ -f "$(clang -print-file-name=libclang_rt.asan-x86_64.so)" ]
}
if ! rt_ok; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev
fi
asan_rt=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
symbolizer=$(command -v llvm-symbolizer || true)

# (b) The sanitized addon, and the compiled tests.
npx cmake-js compile --out build-asan --CDASYNCUV_SANITIZE=ON --cc clang --cxx clang++
addon="$root/build-asan/Release/asyncuv.node"
[ -f "$addon" ] || { echo "test-asan: $addon was not built" >&2; exit 1; }
npx tsc -p tsconfig.json

reports="$root/build-asan/reports"
rm -rf "$reports"
mkdir -p "$reports"
log="$root/build-asan/ava.log"

# detect_leaks=1: LeakSanitizer runs at the exit of every process; the leaks
# Node and V8 leave behind by design are in test/asan/lsan.supp.
# halt_on_error + print_stacktrace: a UBSan report ends the process (the addon
# is also built with -fno-sanitize-recover=undefined) with its stack.
export LD_PRELOAD="$asan_rt"
export ASYNCUV_ADDON="$addon"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86:log_path=$reports/asan:strip_path_prefix=$root/"
export LSAN_OPTIONS="suppressions=$root/test/asan/lsan.supp:print_suppressions=1:exitcode=87"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan:strip_path_prefix=$root/"
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"

start=$(date +%s)
set +e
node node_modules/ava/entrypoints/cli.mjs "$@" 2>&1 | tee "$log"
ava_rc=${PIPESTATUS[0]}
set -e
unset LD_PRELOAD
elapsed=$(( $(date +%s) - start ))

# A report names the process it came from (log_path adds the pid); print each
# one in full, then fail.
found=0
for f in "$reports"/*; do
  [ -e "$f" ] || continue
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer' "$f"; then
    found=$((found + 1))
    echo "==== sanitizer report: $f" >&2
    cat "$f" >&2
  fi
done
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
  found=$((found + 1))
  echo "test-asan: a sanitizer report reached the ava output ($log)" >&2
fi

echo "test-asan: ava exit $ava_rc, $found sanitizer report(s), ${elapsed}s" >&2
[ "$ava_rc" -eq 0 ] && [ "$found" -eq 0 ]
