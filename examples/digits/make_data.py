#!/usr/bin/env python3
"""Deterministic data for the digits example (run from this folder; output is committed).

corpus.jsonl      text the tiny base model is pre-trained on (method: full): digit facts and counting, no task format.
spell-*.jsonl     the adapter task: "spell 3 7 1:" -> " three seven one" (2-4 digits); eval sequences never occur in train.
"""
import json, random

WORDS = "zero one two three four five six seven eight nine".split()
rng = random.Random(20261122)

def write(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")

corpus = []
for _ in range(3000):
    kind = rng.random()
    if kind < 0.5:
        ds = [rng.randrange(10) for _ in range(rng.randint(3, 6))]
        corpus.append({"text": " ".join(f"{d} is {WORDS[d]}." for d in ds)})
    elif kind < 0.8:
        start = rng.randrange(10)
        corpus.append({"text": " ".join(WORDS[(start + i) % 10] for i in range(rng.randint(4, 10)))})
    else:
        ds = [rng.randrange(10) for _ in range(rng.randint(3, 6))]
        corpus.append({"text": " ".join(str(d) for d in ds) + " . " + " ".join(str(d) for d in ds)})
write("corpus.jsonl", corpus)

seen, train, eval_rows = set(), [], []
while len(eval_rows) < 100:
    ds = tuple(rng.randrange(10) for _ in range(rng.randint(2, 4)))
    if ds in seen: continue
    seen.add(ds)
    eval_rows.append({"prompt": "spell " + " ".join(map(str, ds)) + ":", "completion": " " + " ".join(WORDS[d] for d in ds)})
while len(train) < 4000:
    ds = tuple(rng.randrange(10) for _ in range(rng.randint(2, 4)))
    if ds in seen: continue
    seen.add(ds)
    train.append({"prompt": "spell " + " ".join(map(str, ds)) + ":", "completion": " " + " ".join(WORDS[d] for d in ds)})
write("spell-train.jsonl", train)
write("spell-eval.jsonl", eval_rows)
