#!/usr/bin/env bash
# The README's main job: pack the SDK, the dotnet new templates and the runtime, build (train + gate) and pack the example adapter, then run the consumer app.
# Works on a fresh clone with an empty NuGet cache. Everything the examples restore goes to artifacts/example-packages
# (examples/NuGet.config), so replacing the freshly built SDK and adapter packages there never touches the user's
# global NuGet cache or another clone.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# The repository's projects restore exactly what their committed packages.lock.json files pin (Directory.Build.props):
# a fresh machine gets the versions CI tested, never what a feed happens to serve that day. Exported, so the
# restores and packs the tests run inside inherit it.
export LoraBuildLockedRestore=true
feed="$root/artifacts/packages"
example_packages="$root/artifacts/example-packages"

echo "== pack LoraBuild.Sdk, LoraBuild.Templates and LoraBuild.Runtime (with LoraBuild.Modeling and LoraBuild.Contracts)"
dotnet pack sdk/LoraBuild.Sdk -c Release -o "$feed"
# The dotnet new templates (lora-adapter, lora-app): dotnet new install artifacts/packages/LoraBuild.Templates.1.0.0.nupkg
dotnet pack templates/LoraBuild.Templates -c Release -o "$feed"
for project in Contracts Hub Modeling Runtime; do dotnet pack "src/LoraBuild.$project" -c Release -o "$feed"; done
rm -rf "$example_packages"/{lorabuild.sdk,lorabuild.contracts,lorabuild.hub,lorabuild.modeling,lorabuild.runtime,helloadapter}

echo "== build examples/HelloAdapter (train, evaluate, gate)"
dotnet build examples/HelloAdapter -c Release
echo "== pack examples/HelloAdapter"
dotnet pack examples/HelloAdapter -c Release --no-build -o "$feed"
rm -rf "$example_packages/helloadapter"

echo "== run examples/HelloConsumer"
dotnet run --project examples/HelloConsumer -c Release -- "spell 4 0 7:" "spell 9 9 1 2:"
