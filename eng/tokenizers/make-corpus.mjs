// Writes a benchmark corpus of about --mb megabytes: the repository's Markdown and C# sources (English prose and code)
// and the golden strings (CJK, Arabic, Hindi, emoji...), as documents separated by blank lines, repeated in a seeded
// shuffled order until the size is reached.
//   node make-corpus.mjs --out corpus.txt [--mb 50]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const args = process.argv.slice(2);
const arg = (flag, fallback) => { const i = args.indexOf(flag); return i < 0 ? fallback : args[i + 1]; };
const out = arg("--out", "corpus.txt");
const target = Number(arg("--mb", "50")) * 1e6;

const documents = [];
function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || entry.name === "node_modules" || entry.name === "bin" || entry.name === "obj") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (/\.(md|cs)$/.test(entry.name)) documents.push(...fs.readFileSync(full, "utf8").split("\n\n").filter(d => d.trim()));
  }
}
walk(path.join(root, "src"));
walk(path.join(root, "docs"));
const golden = JSON.parse(fs.readFileSync(path.join(root, "tests/fixtures/tokenizers/qwen3/golden.json"), "utf8"));
for (const c of golden.cases) if (c.text.trim()) documents.push(c.text.replaceAll("\n\n", "\n"));

let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const parts = [];
let size = 0;
while (size < target) {
  const d = documents[Math.floor(random() * documents.length)];
  parts.push(d);
  size += Buffer.byteLength(d, "utf8") + 2;
}
fs.writeFileSync(out, parts.join("\n\n"));
console.log(`${out}: ${(size / 1e6).toFixed(1)} MB, ${parts.length} documents from ${documents.length} distinct`);
