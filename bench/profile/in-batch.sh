#!/usr/bin/env bash
# Instructions per operation inside the embedded batches of our loops
# (LoopWrap::RunBatch and what it calls: the passes, the reads, the JS they
# run, the writes), counted by callgrind in one run, by class
# (callgrind-classes.ts):
#
#   bench/profile/in-batch.sh echo-rt 30000 50     # round trips, connections
#
# instructions.sh takes the difference of two runs of the whole process;
# for the echo that difference moved by 10-30% between repeats, because a
# major GC or a burst of compilation falls into one run and not the other.
# Counting only inside the batches, and setting compilation and the major
# GC apart, "restPerOp" repeated within 0.1% (two runs of each build).
# It includes the warm-up's share, so compare builds at the same count.
# ASYNCUV_ADDON and PROFILE_DIST as in instructions.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
workload=${1:?usage: in-batch.sh <workload> <count> [args...]}
count=${2:?count}
shift 2
dist=${PROFILE_DIST:-dist}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --toggle-collect='asyncuv::LoopWrap::RunBatch*' \
  --callgrind-out-file="$out/cg" \
  node ${PROFILE_NODE_FLAGS:---predictable} "$dist/bench/profile/workloads.js" "$workload" "$count" "$@" \
  >"$out/report" 2>"$out/log"
callgrind_annotate --inclusive=no --threshold=100 "$out/cg" >"$out/annotate" 2>/dev/null
ops=$(node -p "JSON.parse(require('fs').readFileSync('$out/report', 'utf8')).ops")
node dist/bench/profile/callgrind-classes.js "$out/annotate" "$ops"
