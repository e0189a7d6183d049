#!/usr/bin/env bash
# Instructions per operation of a workload (bench/profile/workloads.ts),
# counted by valgrind's callgrind, which a loaded, shared machine does not
# disturb the way it disturbs time. Two runs of different sizes; the
# difference of their instruction counts over the difference of their
# operations cancels Node's startup and the workload's setup:
#
#   bench/profile/instructions.sh idle 20000 60000
#   bench/profile/instructions.sh echo 2 6        # seconds of echo; ops are round trips
#
# V8 runs --predictable (one thread, no timing-driven GC or compilation):
# the counts then repeat from run to run within 0.2%, where the Timer handle
# case varied by 30% without it. PROFILE_NODE_FLAGS replaces the flag.
# Counts include every thread.
#
# ASYNCUV_ADDON picks the addon (as everywhere); PROFILE_DIST the compiled
# tree to run (default: this checkout's dist/), so two builds compare side
# by side. Prints one JSON line.
set -euo pipefail
cd "$(dirname "$0")/../.."
workload=${1:?usage: instructions.sh <workload> <small> <large> [args...]}
small=${2:?small count}
large=${3:?large count}
shift 3
dist=${PROFILE_DIST:-dist}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Prints "<instructions> <ops>" for one run.
count() {
  local n=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$n" \
    node ${PROFILE_NODE_FLAGS:---predictable} "$dist/bench/profile/workloads.js" "$workload" "$n" "$@" >"$out/report.$n" 2>"$out/log.$n"
  local ir ops
  ir=$(grep -o 'Collected : [0-9]*' "$out/log.$n" | grep -o '[0-9]*$')
  ops=$(node -p "JSON.parse(require('fs').readFileSync('$out/report.$n', 'utf8')).ops")
  echo "$ir $ops"
}

read -r ir1 ops1 < <(count "$small" "$@")
read -r ir2 ops2 < <(count "$large" "$@")
node -e "
const [ir1, ops1, ir2, ops2] = process.argv.slice(1).map(Number);
console.log(JSON.stringify({ workload: '$workload', instructionsPerOp: Math.round((ir2 - ir1) / (ops2 - ops1)),
  runs: [{ ops: ops1, instructions: ir1 }, { ops: ops2, instructions: ir2 }] }));
" "$ir1" "$ops1" "$ir2" "$ops2"
