# One training step of HF transformers + PEFT LoRA (all linear layers, r=16) on the tinyllama-1.1b shape at batch 1 and
# sequence length T, with gradient checkpointing, bf16, sdpa attention, AdamW: prints one JSON line with the peak
# memory (torch.cuda.max_memory_allocated) or "oom". Optional cap in GiB: set_per_process_memory_fraction.
# PEFT's QLoRA needs bitsandbytes, which the GPU machine lacks, so the peer here is LoRA over a bf16 base.
import json, sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model

T = int(sys.argv[1])
cap = float(sys.argv[2]) if len(sys.argv) > 2 else None
if cap:
    torch.cuda.set_per_process_memory_fraction(cap * 2**30 / torch.cuda.get_device_properties(0).total_memory)
torch.manual_seed(0)
kw = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4)
cfg = LlamaConfig(max_position_embeddings=max(2048, T), rope_theta=10000.0, tie_word_embeddings=False, **kw)
cfg._attn_implementation = "sdpa"
model = LlamaForCausalLM(cfg).to(torch.bfloat16).cuda()
model.gradient_checkpointing_enable()
model.enable_input_require_grads()
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"))
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
ids = torch.randint(0, kw["vocab_size"], (1, T), device="cuda")
torch.cuda.synchronize()
torch.cuda.reset_peak_memory_stats()
row = dict(who="peft-lora-gc", seq=T, cap_gib=cap)
try:
    t = time.perf_counter()
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    row.update(ok=True, step_s=round(time.perf_counter() - t, 2), peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 3),
               reserved_gib=round(torch.cuda.max_memory_reserved() / 2**30, 3), loss=float(out.loss))
except torch.OutOfMemoryError:
    row.update(ok=False, peak_gib=None)
print(json.dumps(row), flush=True)
