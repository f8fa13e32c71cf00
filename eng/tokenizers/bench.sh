#!/usr/bin/env bash
# Tokenizer throughput on this machine: LoraBuild on a MB-sized corpus (default 50), and LoraBuild beside transformers.js
# on its first JS_MB megabytes (default 5: transformers.js runs at 0.05-0.5 MB/s here, so 50 MB would take hours).
#   eng/tokenizers/bench.sh [MB] [JS_MB] [model...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mb="${1:-50}"; shift || true
js_mb="${1:-5}"; shift || true
models=("$@"); [ ${#models[@]} -eq 0 ] && models=(mistral-v0.1 llama3.1 qwen3 gemma3 gpt35turbo gpt4o deepseek-v3 phi3-style)
work="${TMPDIR:-/tmp}/lorabuild-tokenizer-bench"; mkdir -p "$work"
(cd "$here" && [ -d node_modules ] || npm ci --no-audit --no-fund)
node "$here/make-corpus.mjs" --out "$work/corpus.txt" --mb "$mb"
# The prefix ends at a document boundary so both sides see the same documents.
node -e 'const fs=require("fs");const t=fs.readFileSync(process.argv[1],"utf8");const cut=t.lastIndexOf("\n\n",Number(process.argv[3])*1e6);fs.writeFileSync(process.argv[2],t.slice(0,cut>0?cut:t.length))' "$work/corpus.txt" "$work/corpus-small.txt" "$js_mb"
dotnet build "$root/src/LoraBuild.Cli" -c Release -v q -nologo >/dev/null
folders=(); for m in "${models[@]}"; do folders+=("$root/tests/fixtures/tokenizers/$m"); done
lorabuild=(dotnet "$root/src/LoraBuild.Cli/bin/Release/net10.0/lorabuild.dll" bench-tokenizers)
echo "== LoraBuild, $mb MB"; "${lorabuild[@]}" --corpus "$work/corpus.txt" --out "$work/lorabuild.json" --tokenizer "${folders[@]}"
echo "== LoraBuild, first $js_mb MB"; "${lorabuild[@]}" --corpus "$work/corpus-small.txt" --out "$work/lorabuild-small.json" --tokenizer "${folders[@]}"
echo "== transformers.js, first $js_mb MB"; node --max-old-space-size=8192 "$here/bench.mjs" --corpus "$work/corpus-small.txt" --out "$work/transformersjs-small.json" "${models[@]}"
