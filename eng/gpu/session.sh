#!/usr/bin/env bash
# On the GPU machine, one call: our bench beside PEFT's (LoRA, QLoRA, DoRA; all linear layers; both shapes; fused and
# plain loss; libtorch's floor), PEFT's DoRA / checkpointing / full fine-tuning peers, the checkpointing memory cases,
# bf16 parity, and the long-context search. Needs .gpu/ (see README.md) with peft_bench.py and peft_bench_more.py copied
# from ../shared/bench. LONG=probe (default) measures the long-context slope only; LONG=full also runs the predicted
# largest sequence per cap (minutes per run at the 80 GB end). At most 8 files come back from $OUT: parity's per-fixture
# logits stay in /tmp.
set -u
exec > >(tee $OUT/session.log) 2>&1
source .gpu/device-env.sh
export PYTHONUNBUFFERED=1
t0=$(date +%s); stamp() { echo "== $1 at $(( $(date +%s) - t0 )) s"; }
stamp bench
LOSS=both FLOOR=1 METHODS=lora,qlora,dora TARGETS=all timeout 280 bash eng/gpu/bench.sh
stamp peft
timeout 100 python3 .gpu/peft_bench.py 2>&1 | grep -E '^(llama|tinyllama)'
stamp peft-more
timeout 100 python3 .gpu/peft_bench_more.py 2>&1 | grep -E '^tinyllama'
stamp gc
mkdir -p /tmp/gc; OUT=/tmp/gc GC=on METHODS=lora,qlora TARGETS=all SHAPES=tinyllama-1.1b timeout 60 bash eng/gpu/bench.sh
cp /tmp/gc/lorabuild-bench.json $OUT/lorabuild-bench-gc.json
stamp parity
mkdir -p /tmp/par; OUT=/tmp/par timeout 100 bash eng/gpu/parity.sh > /tmp/par/log 2>&1
cp /tmp/par/bf16-parity.json $OUT/; head -3 $OUT/bf16-parity.json
stamp long-context
left=$(( ${BUDGET_S:-560} - ($(date +%s) - t0) ))
if [ "${LONG:-probe}" = full ]; then caps=16,78; else caps=-; fi
[ $left -gt 40 ] && timeout $left python3 eng/gpu/long_context.py $OUT/long-context.json $(( left - 30 )) ours-qlora,peft-lora,ours-lora 4096,16384 $caps
stamp end
