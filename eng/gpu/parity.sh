#!/usr/bin/env bash
# On the GPU machine: bf16 CUDA logits for every fixture family, base / LoRA / DoRA / merged.
set -u
source .gpu/device-env.sh
F=tests/fixtures/hf
for fam in llama llama3-rope-tied mistral qwen2 phi3; do
  dotnet .gpu/app/lorabuild.dll logits --device cuda --dtype bfloat16 --model $F/$fam --input-ids $F/$fam/golden.safetensors --out $OUT/$fam-base.safetensors 2>&1 | tail -1
  for k in lora dora; do
    dotnet .gpu/app/lorabuild.dll logits --device cuda --dtype bfloat16 --model $F/$fam --adapter $F/$fam/adapter-$k --input-ids $F/$fam/golden.safetensors --out $OUT/$fam-$k.safetensors 2>&1 | tail -1
    dotnet .gpu/app/lorabuild.dll logits --device cuda --dtype bfloat16 --model $F/$fam --adapter $F/$fam/adapter-$k --merge --input-ids $F/$fam/golden.safetensors --out $OUT/$fam-$k-merged.safetensors 2>&1 | tail -1
  done
done
dotnet .gpu/app/lorabuild.dll logits --device cuda --dtype float32 --model $F/llama --adapter $F/llama/adapter-dora --input-ids $F/llama/golden.safetensors --out $OUT/llama-dora-fp32.safetensors 2>&1 | tail -3
python3 eng/gpu/compare.py $OUT tests/fixtures/hf > $OUT/bf16-parity.json; cat $OUT/bf16-parity.json | head -5
