# On the GPU machine: the longest sequence one training step fits at batch 1 on the tinyllama-1.1b shape, ours (QLoRA
# and LoRA, gradient checkpointing) and PEFT's (LoRA, gradient checkpointing), under a 16 GiB cap and on the whole card.
# Peak memory is linear in T here (flash attention, checkpointed layers, chunked loss), so: probe a few T, fit
# peak = a + b*T, then run the predicted largest T for each cap and step down until it fits. One process per run.
# Usage: python3 eng/gpu/long_context.py OUT_JSON DEADLINE_SECONDS [systems] [probe Ts] [caps]
import json, os, subprocess, sys, time

out_path, deadline = sys.argv[1], time.time() + float(sys.argv[2])
systems = (sys.argv[3] if len(sys.argv) > 3 else "ours-qlora,ours-lora,peft-lora").split(",")
probes = [int(t) for t in (sys.argv[4] if len(sys.argv) > 4 else "4096,16384,32768").split(",")]
caps = [float(c) for c in (sys.argv[5] if len(sys.argv) > 5 else "16,78").split(",") if c != "-"]
here = os.path.dirname(os.path.abspath(__file__))
card_gib = 78.0  # what the H100 80GB gives a process after the CUDA context
rows = []


def run(system, seq, cap):
    if system.startswith("ours"):
        method = system.split("-")[1]
        tmp = f"/tmp/lc-{system}-{seq}.json"
        cmd = ["dotnet", ".gpu/app/lorabuild.dll", "bench", "--device", "cuda", "--shapes", "tinyllama-1.1b", "--methods", method,
               "--targets", "all", "--gradient-checkpointing", "on", "--batch", "1", "--seq", str(seq), "--warmup", "0",
               "--steps", "1", "--phase-steps", "0", "--out", tmp]
        start = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True)
        row = dict(who=f"{system}-gc", seq=seq, cap_gib=cap)
        if p.returncode == 0 and os.path.exists(tmp):
            r = next(iter(json.load(open(tmp)).values()))
            row.update(ok=r["PeakGiB"] <= (cap or card_gib), step_s=round(r["StepMilliseconds"] / 1000, 2), peak_gib=round(r["PeakGiB"], 3),
                       loss=r["Loss"], process_s=round(time.time() - start, 1))
        else:
            tail = (p.stdout + p.stderr)[-300:].replace("\n", " ")
            row.update(ok=False, peak_gib=None, error=tail)
    else:
        args = ["python3", os.path.join(here, "peft_long_context.py"), str(seq)] + ([str(cap)] if cap else [])
        p = subprocess.run(args, capture_output=True, text=True)
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        row = json.loads(lines[-1]) if lines else dict(who="peft-lora-gc", seq=seq, cap_gib=cap, ok=False, error=p.stderr[-300:])
    print(json.dumps(row), flush=True)
    rows.append(row)
    json.dump(rows, open(out_path, "w"), indent=1)
    return row


fits = {}
for system in systems:
    points = [(t, r["peak_gib"]) for t in probes if (r := run(system, t, None)).get("peak_gib")]
    if len(points) >= 2:
        n = len(points); mt = sum(t for t, _ in points) / n; mp = sum(p for _, p in points) / n
        b = sum((t - mt) * (p - mp) for t, p in points) / sum((t - mt) ** 2 for t, _ in points)
        fits[system] = (mp - b * mt, b)
        rows.append(dict(who=system, fit_gib_at_0=round(mp - b * mt, 3), fit_kib_per_token=round(b * 2**20, 1)))

for cap in caps:
    for system in systems:
        if system not in fits:
            continue
        a, b = fits[system]
        seq = int((cap - a) / b) // 1024 * 1024
        rows.append(dict(who=system, cap_gib=cap, predicted_max_seq=seq))
        for attempt in range(4):
            if time.time() > deadline or seq <= 0:
                break
            r = run(system, seq, cap if cap < card_gib else None)
            if r.get("ok"):
                rows.append(dict(who=system, cap_gib=cap, max_seq_fits=seq))
                break
            seq = int(seq * 0.95) // 1024 * 1024
json.dump(rows, open(out_path, "w"), indent=1)
