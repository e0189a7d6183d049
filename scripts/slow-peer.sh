#!/usr/bin/env bash
# The long slow-peer run (docs/reliability-load.md): memory of our writer
# against a slow reader and of our slow reader against a fast writer.
# Extra arguments go to dist/scripts/slow-peer-main.js.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/Release/asyncuv-echo-client ] || npm run build:native
npm run build:ts >/dev/null
exec node --expose-gc dist/scripts/slow-peer-main.js "$@"
