#!/usr/bin/env bash
# The long load run (docs/reliability-load.md): 10,000 concurrent loopback
# connections on one UvEventLoop server, 1 GiB echoed, per-connection
# checksums. Extra arguments go to dist/scripts/load-10k.js
# (--conns N --bytes B --seconds S).
set -euo pipefail
cd "$(dirname "$0")/.."
# Both processes need ~10,000 fds; the script raises the soft limit of each.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 11000 ]; then
  echo "load-10k: the hard fd limit is $hard; 10,000 connections need about 11,000" >&2
  exit 2
fi
[ -x build/Release/asyncuv-echo-client ] || npm run build:native
npm run build:ts >/dev/null
exec node dist/scripts/load-10k.js "$@"
