# Loads adapters written by LoraBuild with HF transformers + PEFT and compares PEFT's logits with ours (fp32).
import json, sys, torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM
from peft import PeftModel
base, ours = sys.argv[1], sys.argv[2]
rows = {}
for kind in ["lora", "dora"]:
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation="eager").eval()
    model = PeftModel.from_pretrained(model, f"{ours}/{kind}").eval()
    ids = load_file(f"{ours}/{kind}-probe.safetensors")["input_ids"]
    with torch.no_grad():
        peft_logits = model(ids).logits
    our_logits = load_file(f"{ours}/{kind}-logits.safetensors")["logits"]
    rows[kind] = {"max_abs_diff": (peft_logits - our_logits).abs().max().item(), "use_dora": model.peft_config["default"].use_dora,
                  "trainable_in_peft": sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)}
print(json.dumps(rows, indent=1))
