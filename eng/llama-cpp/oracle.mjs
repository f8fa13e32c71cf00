// llama.cpp (node-llama-cpp's prebuilt linux-x64 CPU build) as the oracle of LoraBuild's GGUF export.
// Usage: node oracle.mjs request.json  -> JSON on stdout, one reply per job.
// job:   { model, lora?, vocabOnly?, tokenize?: [text], prompts?: [[ids]], vocabularySize?, maxTokens?, stopIds?: [id], probabilities?: bool }
// reply: { tokens: {bos, eos, addBos}, tokenize: [[ids]], continuations: [[ids]], probabilities: [[p per vocab id]] }
import { readFileSync } from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const replies = [];
for (const job of request.jobs) replies.push(await run(job));
process.stdout.write(JSON.stringify(replies));
await llama.dispose();

async function run(job) {
  const model = await llama.loadModel({ modelPath: job.model, vocabOnly: !!job.vocabOnly, gpuLayers: 0 });
  const reply = {
    tokens: { bos: model.tokens.bos ?? null, eos: model.tokens.eos ?? null, addBos: model.tokens.shouldPrependBosToken },
  };
  // specialTokens=true: added/special tokens written in the text are matched, as transformers' encode does; no BOS is added.
  if (job.tokenize) reply.tokenize = job.tokenize.map(text => Array.from(model.tokenize(text, true)));
  if (job.prompts) {
    const context = await model.createContext({
      contextSize: 128, batchSize: 128, sequences: 1,
      // One thread: ggml's worker threads spin at barriers, which on a shared 2-core machine costs ~100x.
      threads: 1,
      // f32 end to end: llama.cpp's default f16 KV cache alone moves probabilities by ~1e-3.
      experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", flashAttention: false,
      lora: job.lora ? { adapters: [{ filePath: job.lora, scale: 1 }] } : undefined,
    });
    const stop = new Set(job.stopIds ?? []);
    reply.continuations = [];
    reply.probabilities = [];
    for (const prompt of job.prompts) {
      const sequence = context.getSequence();
      const generated = [];
      let first = true;
      // Greedy (temperature 0 = arg-max); end-of-generation tokens are yielded and the caller's stop ids decide.
      // The first step also returns the full next-token distribution.
      for await (const step of sequence.evaluateWithMetadata(prompt, { probabilities: !!job.probabilities }, { temperature: 0, yieldEogToken: true })) {
        if (first && job.probabilities) {
          const p = new Array(job.vocabularySize).fill(0);
          for (const [token, probability] of step.probabilities) p[token] = probability;
          reply.probabilities.push(p);
        }
        first = false;
        if (stop.has(step.token)) break;
        generated.push(step.token);
        if (generated.length >= (job.maxTokens ?? 16)) break;
      }
      reply.continuations.push(generated);
      sequence.dispose();
    }
    await context.dispose();
  }
  await model.dispose();
  return reply;
}
