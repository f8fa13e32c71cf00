#!/usr/bin/env bash
# On the GPU machine: our bench and the peer (PEFT) bench in one call, plus a bf16 CUDA training run of the digits task.
# Env: METHODS, TARGETS, SHAPES, GC=off|on|both, LOSS=fused|plain|both (A/B of the chunked head + cross-entropy),
# FLOOR=1 (also time libtorch's own GEMMs and attention for each step), PEER=1 (peft_bench.py), TRAIN=1 (digits on CUDA).
set -u
source .gpu/device-env.sh >/dev/null
dotnet .gpu/app/lorabuild.dll bench --device cuda --methods ${METHODS:-lora,qlora,dora} --targets ${TARGETS:-qv,all} --gradient-checkpointing ${GC:-off} --loss ${LOSS:-fused} ${FLOOR:+--floor} ${SHAPES:+--shapes $SHAPES} --out $OUT/lorabuild-bench.json 2>&1 | grep -v "^LoraBuild:" | cut -c1-400
[ -n "${PEER:-}" ] && OUT=$OUT python3 .gpu/peft_bench.py 2>&1 | grep -E "^(llama|tinyllama)"
[ -n "${TRAIN:-}" ] && dotnet .gpu/app/lorabuild.dll train --config examples/digits/spell-lora.yaml --device cuda --set dtype=bfloat16 --set save_steps=0 --out $OUT/digits-cuda 2>&1 | grep -E "model:|step (100|400|800)/|eval:|done"
true
