# HF transformers + PEFT in bf16 on CUDA against their own fp32 goldens: the noise floor bf16 itself sets.
import json, sys, torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
from peft import PeftModel
fixtures = sys.argv[1]
rows = []
for fam in ["llama", "llama3-rope-tied", "mistral", "qwen2", "phi3"]:
    golden = load_file(f"{fixtures}/{fam}/golden.safetensors")
    ids = golden["input_ids"].cuda()
    for variant, key in [("base", "logits"), ("lora", "lora_logits"), ("dora", "dora_logits"), ("lora-merged", "lora_merged_logits"), ("dora-merged", "dora_merged_logits")]:
        model = AutoModelForCausalLM.from_pretrained(f"{fixtures}/{fam}", dtype=torch.bfloat16, attn_implementation="sdpa").cuda().eval()
        if variant != "base":
            model = PeftModel.from_pretrained(model, f"{fixtures}/{fam}/adapter-{variant.split('-')[0]}").eval()
            if variant.endswith("merged"): model = model.merge_and_unload()
        with torch.no_grad():
            logits = model(ids).logits.float().cpu()
        ref = golden[key]
        d = (logits - ref).abs().max().item()
        rows.append({"family": fam, "variant": variant, "max_abs": d, "relative": d / ref.abs().max().item()})
print(json.dumps({"worst_relative_bf16": max(r["relative"] for r in rows), "rows": rows}, indent=1))
