#!/bin/sh
# Long fuzz run: many cases per property and a fresh random seed, printed
# first so that a failure can be replayed with the same FUZZ_SEED.
#
#   scripts/fuzz-long.sh              # 2000 cases per property, random seed
#   FUZZ_RUNS=500 FUZZ_SEED=123 scripts/fuzz-long.sh
#
# Builds first (tsc), runs dist/test/fuzz/ with a long ava timeout, and
# prints the total number of cases run.
set -eu
cd "$(dirname "$0")/.."
FUZZ_RUNS="${FUZZ_RUNS:-2000}"
FUZZ_SEED="${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
export FUZZ_RUNS FUZZ_SEED
echo "fuzz: FUZZ_RUNS=$FUZZ_RUNS FUZZ_SEED=$FUZZ_SEED (replay with these two variables)"
npx tsc -p tsconfig.json
log="${TMPDIR:-/tmp}/asyncuv-fuzz-$FUZZ_SEED.log"
status=0
npx ava --timeout "${FUZZ_TIMEOUT:-60m}" dist/test/fuzz/ "$@" 2>&1 | tee "$log" || status=$?
total=$(grep -o '\[fuzz-total\] [a-z-]*: [0-9]* cases' "$log" | awk '{ s += $3 } END { print s + 0 }')
echo "fuzz: $total cases run, FUZZ_RUNS=$FUZZ_RUNS FUZZ_SEED=$FUZZ_SEED, log $log"
exit "$status"
