#!/usr/bin/env bash
# On the GPU machine: our bench and the peer (PEFT) bench in one call, plus a bf16 CUDA training run of the digits task.
set -u
source .gpu/device-env.sh >/dev/null
dotnet .gpu/app/lorabuild.dll bench --device cuda --methods ${METHODS:-lora,qlora,dora} --targets ${TARGETS:-qv,all} --gradient-checkpointing ${GC:-off} --out $OUT/lorabuild-bench.json 2>&1 | grep -v "^LoraBuild:" | cut -c1-400
[ -n "${PEER:-}" ] && OUT=$OUT python3 .gpu/peft_bench.py 2>&1 | grep -E "^(llama|tinyllama)"
[ -n "${TRAIN:-}" ] && dotnet .gpu/app/lorabuild.dll train --config examples/digits/spell-lora.yaml --device cuda --set dtype=bfloat16 --set save_steps=0 --out $OUT/digits-cuda 2>&1 | grep -E "model:|step (100|400|800)/|eval:|done"
true
