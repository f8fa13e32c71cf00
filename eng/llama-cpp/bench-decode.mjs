// Single-stream decode speed of llama.cpp (node-llama-cpp's prebuilt CPU build) on a GGUF: the bar LoraBuild's runtime
// is measured against (docs/performance.md).
// Usage: node bench-decode.mjs model.gguf [promptTokens=32] [newTokens=64] [threads=2]  -> JSON on stdout.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { loadavg } from "node:os";

const [path, promptTokens = "32", newTokens = "64", threads = "2"] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const loadStart = performance.now();
const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
const loadSeconds = (performance.now() - loadStart) / 1000;
const context = await model.createContext({ contextSize: 512, batchSize: 512, threads: Number(threads), sequences: 1 });
const sequence = context.getSequence();
const prompt = Array.from(model.tokenize("The quick brown fox jumps over the lazy dog. ".repeat(64))).slice(0, Number(promptTokens));
let generated = 0;
let prefillEnd = 0;
const start = performance.now();
// Greedy; every generated token is decoded one at a time (single stream). End-of-generation tokens do not stop it.
for await (const token of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
  if (generated === 0) prefillEnd = performance.now();
  if (++generated >= Number(newTokens) + 1) break;
}
const end = performance.now();
process.stdout.write(JSON.stringify({
  model: path, threads: Number(threads), promptTokens: Number(promptTokens), newTokens: Number(newTokens), loadSeconds,
  prefillSeconds: (prefillEnd - start) / 1000,
  decodeTokensPerSecond: Number(newTokens) / ((end - prefillEnd) / 1000),
  loadAverage: loadavg(),
}) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
