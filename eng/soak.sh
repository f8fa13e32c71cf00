#!/usr/bin/env bash
# GC-torture soak (docs/native.md): training, logits and generation runs of the lorabuild worker under
# LORABUILD_GC_TORTURE=1, two processes at a time, each compared byte for byte with the same run without torture.
#   bash eng/soak.sh            # 30 training runs (llama, qwen3, gemma2, gemma3 x LoRA, QLoRA, DoRA, QDoRA) + 30 logits/generate runs
#   bash eng/soak.sh --short    # 4 + 4 runs, a few minutes (CI)
# Ends with one line: "soak: N runs, N crashes, N differing" and exit 1 unless both counts are 0.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/artifacts/soak"
trainings=30 inferences=30 steps=6
if [ "${1:-}" = "--short" ]; then trainings=4 inferences=4 steps=3; fi
rm -rf "$work" && mkdir -p "$work"
dotnet build "$root/src/LoraBuild.Cli" -c Release -o "$work/worker" -nologo -v:q >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
worker=(dotnet "$work/worker/lorabuild.dll")
fixtures="$root/tests/fixtures/hf"
printf '%s\n' '{"prompt":"red:","completion":" apple"}' '{"prompt":"blue:","completion":" sky"}' \
  '{"prompt":"green:","completion":" grass"}' '{"prompt":"white:","completion":" snow"}' > "$work/facts.jsonl"

families=(llama qwen3 gemma2 gemma3)
methods=(lora qlora dora qdora)
jobs=()
for ((i = 0; i < trainings; i++)); do jobs+=("train ${families[i % 4]} ${methods[(i / 4 + i) % 4]} $i"); done
for ((i = 0; i < inferences; i++)); do jobs+=("$([ $((i % 2)) = 0 ] && echo logits || echo generate) ${families[i % 4]} - $i"); done

# One job: the run without torture, then under torture; prints "ok", "crash" or "differ" with its name.
run_job() {
  local kind=$1 family=$2 method=$3 index=$4 dir="$work/job-$4"
  mkdir -p "$dir"
  local args=()
  case $kind in
    train)
      args=(train --model "$fixtures/$family" --dataset "$work/facts.jsonl" --rank 4 --alpha 8 --steps "$steps" --lr 1e-2 --seed "$index"
            --set micro_batch_size=4 --set save_steps=0 --set logging_steps=1)
      case $method in qlora) args+=(--quantization nf4) ;; dora) args+=(--set use_dora=true) ;; qdora) args+=(--quantization nf4 --set use_dora=true) ;; esac ;;
    logits) args=(logits --model "$fixtures/$family" --adapter "$fixtures/$family/adapter-lora" --input-ids "$fixtures/$family/golden.safetensors") ;;
    generate) args=(generate --model "$fixtures/$family" --adapter "$fixtures/$family/adapter-dora" --prompt "Hello" --prompt "red:" --max-new-tokens 8 --json) ;;
  esac
  for mode in plain torture; do
    local out="$dir/$mode" torture=0
    [ $mode = torture ] && torture=1
    case $kind in
      train) LORABUILD_GC_TORTURE=$torture "${worker[@]}" "${args[@]}" --out "$out" >"$out.log" 2>&1 ;;
      logits) LORABUILD_GC_TORTURE=$torture "${worker[@]}" "${args[@]}" --out "$out.safetensors" >"$out.log" 2>&1 ;;
      generate) LORABUILD_GC_TORTURE=$torture "${worker[@]}" "${args[@]}" >"$out.json" 2>"$out.log" ;;
    esac
    local status=$?
    if [ $status -ne 0 ]; then echo "crash $kind $family $method #$index ($mode, exit $status; $out.log)"; return; fi
  done
  local a b
  case $kind in
    train) a="$dir/plain/adapter/adapter_model.safetensors" b="$dir/torture/adapter/adapter_model.safetensors" ;;
    logits) a="$dir/plain.safetensors" b="$dir/torture.safetensors" ;;
    generate) a="$dir/plain.json" b="$dir/torture.json" ;;
  esac
  if cmp -s "$a" "$b"; then echo "ok $kind $family $method #$index"; else echo "differ $kind $family $method #$index ($a vs $b)"; fi
}
export -f run_job
export work fixtures steps
export WORKER_DLL="$work/worker/lorabuild.dll"
worker_decl="$(declare -p worker)"
export worker_decl

start=$SECONDS
printf '%s\n' "${jobs[@]}" | xargs -P 2 -I{} bash -c 'eval "$worker_decl"; run_job {}' | tee "$work/results.txt"
total=$(wc -l < "$work/results.txt")
crashes=$(grep -c '^crash' "$work/results.txt")
differing=$(grep -c '^differ' "$work/results.txt")
echo "soak: $total runs, $crashes crashes, $differing differing ($((SECONDS - start)) s, under LORABUILD_GC_TORTURE=1, 2 at a time)"
[ "$crashes" -eq 0 ] && [ "$differing" -eq 0 ] && [ "$total" -eq "${#jobs[@]}" ]
