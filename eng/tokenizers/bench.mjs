// transformers.js side of the tokenizer benchmark: the same corpus, split into documents at blank lines, encoded without
// special tokens by each model's reference tokenizer; prints MB/s like `lorabuild bench-tokenizers`.
//   node bench.mjs --corpus FILE [--out results.json] model...
import fs from "node:fs";
import { referenceTokenizer } from "./generate-goldens.mjs";

const args = process.argv.slice(2);
const take = flag => { const i = args.indexOf(flag); if (i < 0) return null; const v = args[i + 1]; args.splice(i, 2); return v; };
const corpusPath = take("--corpus");
const out = take("--out");
const text = fs.readFileSync(corpusPath, "utf8");
const documents = text.split("\n\n").filter(d => d.length > 0);
const megabytes = Buffer.byteLength(text, "utf8") / 1e6;
const results = [];
for (const name of args) {
  const loadStart = performance.now();
  const { tokenizer } = referenceTokenizer(name);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const start = performance.now();
  let tokens = 0;
  let idsHash = 0;
  for (const d of documents) {
    const ids = tokenizer.encode(d, { add_special_tokens: false });
    tokens += ids.length;
    // Same order-sensitive hash as `lorabuild bench-tokenizers` (uint32 h = h * 31 + id + 1).
    for (const id of ids) idsHash = (Math.imul(idsHash, 31) + id + 1) >>> 0;
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(`${name.padEnd(14)} ${(megabytes / seconds).toFixed(2).padStart(8)} MB/s  ${(tokens / seconds / 1e6).toFixed(2).padStart(6)} M tokens/s  ${tokens} tokens  ${seconds.toFixed(1)} s  (load ${loadSeconds.toFixed(1)} s)  ids hash ${idsHash.toString(16).padStart(8, "0")}`);
  results.push({ tokenizer: name, megabytes, seconds, tokens, mb_per_second: megabytes / seconds, load_seconds: loadSeconds, ids_hash: idsHash.toString(16).padStart(8, "0") });
}
if (out) fs.writeFileSync(out, JSON.stringify({ implementation: "transformers.js (@lenml/tokenizers 3.7.2)", node: process.version, documents: documents.length, results }, null, 2));
