#!/usr/bin/env bash
# The README's main job: pack the SDK, build (train + gate) and pack the example adapter, then run the consumer app.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dotnet pack sdk/LoraBuild.Sdk -c Release -o artifacts/packages
# A freshly packed SDK replaces any copy of the same version in the NuGet cache.
packages="$(dotnet nuget locals global-packages -l | sed 's/^global-packages: //')"
rm -rf "$packages/lorabuild.sdk/1.0.0" "$packages/helloadapter/1.0.0"
dotnet build examples/HelloAdapter -c Release
dotnet pack examples/HelloAdapter -c Release --no-build -o artifacts/packages
if [ -d examples/HelloConsumer ]; then
  dotnet run --project examples/HelloConsumer -c Release -- "spell 4 0 7:" "spell 9 9 1 2:"
fi
