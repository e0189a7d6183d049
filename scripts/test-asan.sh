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
# processes. The run fails if ava fails, on any ASan or UBSan error, and on
# any leak that involves the addon (see the judging step at the end).
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

# Sanitizer options. The common flags (log_path, exitcode...) are shared by
# the three tools and the last of ASAN_OPTIONS, LSAN_OPTIONS, UBSAN_OPTIONS to
# set one wins, so they are set in ASAN_OPTIONS only.
# - detect_leaks=1: LeakSanitizer runs at the exit of every process. Leaks of
#   Node and V8 themselves are suppressed (test/asan/lsan.supp, each entry
#   explained); the rest is written to the report files and judged below.
# - exitcode=0 with abort_on_error=1: an ASan or UBSan error (UBSan halts: the
#   addon is built with -fno-sanitize-recover=undefined, and halt_on_error)
#   aborts the process, which fails its test, while a leak report leaves the
#   exit status alone: leaks are found at exit, and V8's own leaks vary from
#   run to run, so a leak must not fail a test that checks a child's exit
#   code. Every leak report is still read below and fails the run if ours.
# - log_path + log_exe_name: one report file per process, named
#   report.<program>.<pid>, because ava and the tests capture the stderr of
#   child processes; the program name tells node processes (the only ones that
#   can load the addon) from the programs the tests spawn (sh, python3...),
#   which inherit LD_PRELOAD too.
# Only ava's process tree gets LD_PRELOAD, not this script's own commands.
export ASYNCUV_ADDON="$addon"

# Programs the tests spawn inherit LD_PRELOAD. curl (Debian 12's, glibc 2.36)
# deadlocks in setlocale() at startup under clang 14's ASan runtime, so the
# tests find a curl first on PATH that drops the preload; it is not our code.
shims="$root/build-asan/bin"
mkdir -p "$shims"
real_curl=$(command -v curl || true)
if [ -n "$real_curl" ]; then
  printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$@"\n' "$real_curl" >"$shims/curl"
  chmod +x "$shims/curl"
fi
export PATH="$shims:$PATH"
# The worker-terminate stress runs 60 workers here instead of 200: under ASan
# a worker costs 3-4 times as much (200 took 3 min and kept three threads
# busy beside the rest of the suite); 60 still reach every kind of activity,
# which the test checks. Set it to run more.
export ASYNCUV_TERMINATE_WORKERS="${ASYNCUV_TERMINATE_WORKERS:-60}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:exitcode=0:disable_coredump=1:log_path=$reports/report:log_exe_name=1:strip_path_prefix=$root/"
export LSAN_OPTIONS="suppressions=$root/test/asan/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"

# Preflight: a node process with the preload loads the sanitized addon (the
# suite's children and workers get the same environment).
LD_PRELOAD="$asan_rt" node --input-type=module -e "
  await import('$root/dist/index.js');
  const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
  if (!maps.includes('$addon')) {
    console.error('test-asan: node did not load $addon');
    process.exit(1);
  }"

start=$(date +%s)
set +e
LD_PRELOAD="$asan_rt" node node_modules/ava/entrypoints/cli.mjs "$@" 2>&1 | tee "$log"
ava_rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

# Judges the report files. Every ASan or UBSan error is ours to fail on (in
# any process). A leak is ours if a frame of its stack is in asyncuv.node or
# native/, or if it was allocated inside a Node-API call (napi_*): only an
# addon calls those (the tests also load bufferutil and utf-8-validate,
# through ws and websocket: their registration record is suppressed in
# lsan.supp, and any other leak of theirs in a napi_* call counts as ours
# here, to be read and suppressed by name if it is theirs). Other
# leaks (Node's and V8's not covered by lsan.supp, or a spawned program's)
# are counted and listed, not failed on.
judged=0
python3 - "$reports" <<'PY' || judged=$?
import glob, os, re, sys

errors, ours, foreign = [], [], []
for path in sorted(glob.glob(os.path.join(sys.argv[1], '*'))):
    text = open(path, errors='replace').read()
    name = os.path.basename(path)
    for m in re.finditer(r'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer)[^\n]*|[^\n]*runtime error:[^\n]*', text):
        errors.append((name, m.group(0).strip()))
    for block in re.split(r'\n(?=(?:Direct|Indirect) leak of)', text):
        if not re.match(r'(Direct|Indirect) leak of', block):
            continue
        frames = [l for l in block.splitlines() if re.match(r'\s+#\d+ ', l)]
        first = frames[1] if len(frames) > 1 else ''
        if any('asyncuv' in f or 'native/' in f for f in frames) or re.search(r' in napi_\w+', first):
            ours.append((name, block.strip()))
        else:
            foreign.append(name)
print(f'test-asan: {len(errors)} ASan/UBSan error(s), {len(ours)} leak(s) of ours, '
      f'{len(foreign)} leak(s) of Node, V8 or spawned programs (not ours) in '
      f'{len(set(foreign))} process(es)', file=sys.stderr)
for name, line in errors:
    print(f'==== {name}: {line}', file=sys.stderr)
for name, block in ours:
    print(f'==== {name}:\n{block}\n', file=sys.stderr)
sys.exit(1 if errors or ours else 0)
PY
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
  echo "test-asan: a sanitizer report reached the ava output ($log)" >&2
  judged=1
fi

echo "test-asan: ava exit $ava_rc, reports $([ $judged -eq 0 ] && echo clean || echo FOUND), ${elapsed}s" >&2
[ "$ava_rc" -eq 0 ] && [ "$judged" -eq 0 ]
