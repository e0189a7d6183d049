#!/usr/bin/env bash
# The echo server's critical path at one connection, from the main thread's
# wake-up in epoll to its write(2) (bench/profile/wake-to-write.c), for our
# Protocol echo, node:net and the C++-only echo, one after another:
#
#   bench/profile/wake-to-write.sh [seconds] [rounds]
#
# PROFILE_DIST and ASYNCUV_ADDON pick another build, as for profile.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-3}
rounds=${2:-1}
dist=${PROFILE_DIST:-dist}
shim=/tmp/wake-to-write.so
gcc -O2 -Wall -shared -fPIC -o "$shim" bench/profile/wake-to-write.c -ldl
for ((r = 0; r < rounds; r++)); do
  for w in echo echo-node echo-cxx; do
    WAKE_TO_WRITE_LABEL=$w LD_PRELOAD=$shim node "$dist/bench/profile/workloads.js" "$w" "$seconds" 1 >/dev/null
  done
done
