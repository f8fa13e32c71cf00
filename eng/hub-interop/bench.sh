#!/usr/bin/env bash
# Download throughput: a SIZE_MB file (default 1024) from the Hub emulator (302 to its CDN host), LoraBuild.Hub beside
# @huggingface/hub in the same run, then both with the connection cut every CUT_MB (default 100).
#   eng/hub-interop/bench.sh [SIZE_MB] [CUT_MB]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
(cd "$here" && [ -d node_modules ] || npm ci --no-audit --no-fund)
dotnet build "$root/tests/LoraBuild.HubEmulator" -c Release -v q -nologo >/dev/null
dotnet "$root/tests/LoraBuild.HubEmulator/bin/Release/net10.0/LoraBuild.HubEmulator.dll" bench \
  --size-mb "${1:-1024}" --cut-every-mb "${2:-100}" --interop "$here"
