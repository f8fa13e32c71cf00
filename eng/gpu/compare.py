# Compares bf16 CUDA logits written by lorabuild with the fp32 HF/PEFT goldens; prints one JSON table.
import json, sys, os
import torch
from safetensors.torch import load_file
out, fixtures = sys.argv[1], sys.argv[2]
rows = []
for fam in ["llama", "llama3-rope-tied", "mistral", "qwen2", "phi3"]:
    golden = load_file(f"{fixtures}/{fam}/golden.safetensors")
    for variant, key in [("base", "logits"), ("lora", "lora_logits"), ("dora", "dora_logits"),
                         ("lora-merged", "lora_merged_logits"), ("dora-merged", "dora_merged_logits")]:
        ours = load_file(f"{out}/{fam}-{variant}.safetensors")["logits"]
        ref = golden[key]
        diff = (ours - ref).abs().max().item()
        rows.append({"family": fam, "variant": variant, "max_abs": diff, "relative": diff / ref.abs().max().item()})
fp32 = load_file(f"{out}/llama-dora-fp32.safetensors")["logits"]
rows.append({"family": "llama", "variant": "dora fp32 cuda", "max_abs": (fp32 - load_file(f"{fixtures}/llama/golden.safetensors")["dora_logits"]).abs().max().item()})
print(json.dumps({"worst_relative_bf16": max(r.get("relative", 0) for r in rows[:-1]), "rows": rows}, indent=1))
