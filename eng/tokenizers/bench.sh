#!/usr/bin/env bash
# Tokenizer throughput, LoraBuild beside transformers.js, on one corpus (default 50 MB) on this machine.
#   eng/tokenizers/bench.sh [MB] [model...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mb="${1:-50}"; shift || true
models=("$@"); [ ${#models[@]} -eq 0 ] && models=(llama2 llama3.1 qwen3 gemma3 gpt35turbo gpt4o deepseek-v3 phi3-style)
work="${TMPDIR:-/tmp}/lorabuild-tokenizer-bench"; mkdir -p "$work"
(cd "$here" && [ -d node_modules ] || npm ci --no-audit --no-fund)
node "$here/make-corpus.mjs" --out "$work/corpus.txt" --mb "$mb"
dotnet build "$root/src/LoraBuild.Cli" -c Release -v q -nologo >/dev/null
folders=(); for m in "${models[@]}"; do folders+=("$root/tests/fixtures/tokenizers/$m"); done
echo "== LoraBuild"; dotnet "$root/src/LoraBuild.Cli/bin/Release/net10.0/lorabuild.dll" bench-tokenizers --corpus "$work/corpus.txt" --out "$work/lorabuild.json" --tokenizer "${folders[@]}"
echo "== transformers.js"; node --max-old-space-size=8192 "$here/bench.mjs" --corpus "$work/corpus.txt" --out "$work/transformersjs.json" "${models[@]}"
