// llama.cpp (node-llama-cpp's prebuilt CPU build) as the oracle of LoraBuild's GGUF export.
// Usage: node oracle.mjs request.json  -> JSON on stdout.
// request: { model, lora?, vocabOnly?, tokenize?: [text], prompts?: [[ids]], vocabularySize?, maxTokens?, stopIds?: [id], probabilities?: bool }
// reply:   { tokens: {bos, eos, addBos}, tokenize: [[ids]], continuations: [[ids]], probabilities: [[p per vocab id]] }
import { readFileSync } from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: request.model, vocabOnly: !!request.vocabOnly, gpuLayers: 0 });
const reply = {
  tokens: { bos: model.tokens.bos ?? null, eos: model.tokens.eos ?? null, addBos: model.tokens.shouldPrependBosToken },
};

// specialTokens=true: added/special tokens written in the text are matched, as transformers' encode does.
if (request.tokenize) reply.tokenize = request.tokenize.map(text => Array.from(model.tokenize(text, true)));

if (request.prompts) {
  const context = await model.createContext({
    contextSize: 128, batchSize: 128, threads: 2, sequences: 1,
    lora: request.lora ? { adapters: [{ filePath: request.lora, scale: 1 }] } : undefined,
  });
  const stop = new Set(request.stopIds ?? []);
  reply.continuations = [];
  reply.probabilities = [];
  for (const prompt of request.prompts) {
    const sequence = context.getSequence();
    const generated = [];
    let first = true;
    // Greedy: temperature 0 takes the arg-max token. The first step also returns the full next-token distribution.
    for await (const step of sequence.evaluateWithMetadata(prompt, { probabilities: !!request.probabilities }, { temperature: 0, yieldEogToken: true })) {
      if (first && request.probabilities) {
        const p = new Array(request.vocabularySize).fill(0);
        for (const [token, probability] of step.probabilities) p[token] = probability;
        reply.probabilities.push(p);
      }
      first = false;
      if (stop.has(step.token)) break;
      generated.push(step.token);
      if (generated.length >= (request.maxTokens ?? 16)) break;
    }
    reply.continuations.push(generated);
    sequence.dispose();
  }
  await context.dispose();
}
process.stdout.write(JSON.stringify(reply));
await model.dispose();
await llama.dispose();
