#!/usr/bin/env bash
# The profile of bench/PROFILE.md for one workload (bench/profile/workloads.ts):
#
#   bench/profile/profile.sh idle 500000
#   bench/profile/profile.sh callsoon 500000
#   bench/profile/profile.sh echo 4 50        # seconds, connections
#
# 1. perf record with DWARF call graphs (Node's own C++ has no frame
#    pointers, so frame-pointer stacks lose the callers of libuv and
#    Node-API functions) of node run with --perf-basic-prof and
#    --interpreted-frames-native-stack (names for JS frames), then
#    perf-breakdown.js: the main thread's samples by layer and function.
# 2. node --cpu-prof, then cpuprofile-breakdown.js: the JS side by function.
#
# Writes everything under ${PROFILE_OUT:-/tmp/asyncuv-profile}/<workload>/
# (echo-4-50 for `echo 4 50`) and prints both breakdowns. perf needs
# kernel.perf_event_paranoid <= 1, or root, to see kernel time.
# ASYNCUV_ADDON and PROFILE_DIST as in instructions.sh: they pick the build
# that runs the workload; the breakdowns always run from this checkout's dist/.
set -euo pipefail
cd "$(dirname "$0")/../.."
workload=${1:?usage: profile.sh <workload> [count] [args...]}
shift
dist=${PROFILE_DIST:-dist}
tag=$workload
for arg in "$@"; do tag=$tag-$arg; done
out=${PROFILE_OUT:-/tmp/asyncuv-profile}/$tag
rm -rf "$out"
mkdir -p "$out"

perf record -k CLOCK_MONOTONIC -e cpu-clock -F "${PROFILE_HZ:-1500}" --call-graph dwarf,16384 -o "$out/perf.data" -- \
  node --perf-basic-prof --interpreted-frames-native-stack \
  "$dist/bench/profile/workloads.js" "$workload" "$@" >"$out/perf-run.json" 2>"$out/perf-record.log"
# --no-inline: resolving inlined frames runs addr2line per address (minutes).
perf script --no-inline -i "$out/perf.data" -F tid,time,ip,sym,dso >"$out/perf.txt" 2>/dev/null
echo "== $workload: perf ($(cat "$out/perf-run.json"))"
node dist/bench/profile/perf-breakdown.js "$out/perf.txt" "$out/perf-run.json"

node --cpu-prof --cpu-prof-dir="$out/cpuprof" "$dist/bench/profile/workloads.js" "$workload" "$@" >"$out/cpuprof-run.json"
echo
echo "== $workload: --cpu-prof ($(cat "$out/cpuprof-run.json"))"
node dist/bench/profile/cpuprofile-breakdown.js "$out"/cpuprof/*.cpuprofile "$out/cpuprof-run.json"
