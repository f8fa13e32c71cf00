#!/usr/bin/env python3
"""Load test of `lorabuild serve` (issue 21): N requests from C concurrent clients against a server this script starts
on the qwen3 fixture (a ChatML template added, PEFT's LoRA and DoRA adapters). A tenth of the requests are streamed and
cancelled after the first event (the client closes the connection), a tenth are malformed (bad JSON, wrong types, out of
range values, unknown model). Checks: every well-formed request answered 200 with a complete body, every malformed one
a 4xx with OpenAI's error JSON, no 5xx, the server alive and its resident memory flat (after a warm-up round vs after
the run). Standard library only.

  python3 eng/serve-load/load_test.py [--requests 2000] [--clients 32] [--lorabuild path/to/lorabuild.dll]
"""
import argparse, http.client, json, os, random, re, shutil, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
MODELS = ["base", "lora", "dora"]
MALFORMED = [
    (b'{"model": "lora", "messages": [', "bad json"),
    (b'[1, 2, 3]', "not an object"),
    (b'{"model": "lora"}', "no messages"),
    (b'{"model": "lora", "messages": [{"role": "user", "content": 5}]}', "content type"),
    (b'{"model": "lora", "messages": [{"role": "user", "content": "x"}], "max_tokens": 100000}', "max_tokens"),
    (b'{"model": "lora", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', "temperature"),
    (b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', "unknown model"),
    (b'{"model": "lora", "messages": [], "stream": true}', "empty messages"),
    (b'\xff\xfe garbage', "not utf-8"),
]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def post(port, path, body, stream=False, cancel=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        if cancel and response.status == 200:
            response.readline()  # the first event line, then hang up mid-stream
            conn.sock.close()
            return response.status, None
        return response.status, response.read()
    finally:
        conn.close()


def one(port, i, rng):
    kind = rng.random()
    model = MODELS[i % len(MODELS)]
    tokens = rng.randint(1, 24)
    if kind < 0.1:
        body, what = MALFORMED[i % len(MALFORMED)]
        status, data = post(port, "/v1/chat/completions", body)
        error = json.loads(data)["error"] if data else None
        return ("malformed", status, 400 <= status < 500 and error is not None and bool(error.get("message")), what)
    if kind < 0.2:
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": f"cancel me {i}"}], "max_tokens": 200, "stream": True}).encode()
        status, _ = post(port, "/v1/chat/completions", body, cancel=True)
        return ("cancelled", status, status == 200, "")
    stream = kind < 0.5
    if kind < 0.85:
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": f"request {i}"}], "max_tokens": tokens,
                           "temperature": rng.choice([0, 0.7]), "stream": stream}).encode()
        status, data = post(port, "/v1/chat/completions", body)
    else:
        body = json.dumps({"model": model, "prompt": f"prompt {i}", "max_tokens": tokens, "temperature": 0, "stream": stream}).encode()
        status, data = post(port, "/v1/completions", body)
    ok = status == 200
    if ok and stream:
        ok = data.rstrip().endswith(b"data: [DONE]")
    elif ok:
        answer = json.loads(data)
        ok = answer["choices"][0]["finish_reason"] in ("stop", "length") and answer["usage"]["completion_tokens"] <= tokens
    return ("well-formed", status, ok, "stream" if stream else "")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="libtorch threads of the server (1 on a shared machine)")
    parser.add_argument("--lorabuild", default=os.path.join(ROOT, "src/LoraBuild.Cli/bin/Release/net10.0/lorabuild.dll"))
    args = parser.parse_args()
    fixture = os.path.join(ROOT, "tests/fixtures/hf/qwen3")
    work = tempfile.mkdtemp(prefix="lorabuild-load-")
    model_dir = os.path.join(work, "model")
    shutil.copytree(fixture, model_dir, ignore=shutil.ignore_patterns("adapter-*", "merged-*", "golden*"))
    with open(os.path.join(model_dir, "chat_template.jinja"), "w") as f:
        f.write(CHATML)
    server = subprocess.Popen(["dotnet", args.lorabuild, "serve", "--model", model_dir, "--port", "0", "--device", "cpu",
                               "--adapter", "lora=" + os.path.join(fixture, "adapter-lora"), "--adapter", "dora=" + os.path.join(fixture, "adapter-dora"),
                               "--accept-adapter-without-provenance", "--max-tokens", "256", "--threads", str(args.threads)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for line in server.stdout:
            m = re.search(r"listening on http://[0-9.]+:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit("server did not start")
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()

        rng = random.Random(21)
        warm = min(200, max(10, args.requests // 10))
        print(f"server on port {port}; warm-up: {warm} requests", flush=True)
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda i: one(port, i, random.Random(i)), range(warm)))
        time.sleep(1)
        rss_before = rss_kib(server.pid)
        print(f"warm; resident {rss_before / 1024:.0f} MiB; {args.requests} requests from {args.clients} clients", flush=True)
        start = time.time()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(lambda i: one(port, i, random.Random(1000 + i)), range(args.requests)))
        seconds = time.time() - start
        time.sleep(2)
        rss_after = rss_kib(server.pid)
        health = post(port, "/v1/completions", json.dumps({"model": "base", "prompt": "still alive", "max_tokens": 2}).encode())[0]
        counts = {}
        for kind, status, ok, _ in results:
            c = counts.setdefault(kind, {"total": 0, "ok": 0})
            c["total"] += 1
            c["ok"] += ok
        server_errors = sum(1 for _, status, _, _ in results if status >= 500)
        bad = [(k, s, w) for k, s, ok, w in results if not ok]
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        summary = {
            "requests": args.requests, "clients": args.clients, "seconds": round(seconds, 1),
            "requests_per_second": round(args.requests / seconds, 1), "by_kind": counts, "server_errors": server_errors,
            "failures": bad[:10], "rss_mib_after_warmup": round(rss_before / 1024, 1), "rss_mib_after_run": round(rss_after / 1024, 1),
            "alive_after": health == 200,
            "engine_cancelled": sum(int(float(l.split()[-1])) for l in metrics.splitlines() if l.startswith("lorabuild:request_cancelled_total")),
            "load_average": os.getloadavg(),
        }
        print(json.dumps(summary, indent=2))
        passed = server_errors == 0 and not bad and health == 200 and rss_after <= rss_before * 1.10 + 16 * 1024
        print("PASS" if passed else "FAIL")
        return 0 if passed else 1
    finally:
        server.terminate()
        server.wait(60)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
