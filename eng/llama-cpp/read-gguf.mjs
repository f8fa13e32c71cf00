// @huggingface/gguf (huggingface.js's GGUF reader) as an independent check of the files LoraBuild writes.
// Usage: node read-gguf.mjs file.gguf  -> JSON { version, metadata (arrays summarised), tensorInfos: [{name, shape, dtype}] }
import { gguf } from "@huggingface/gguf";

const { metadata, tensorInfos } = await gguf(process.argv[2], { allowLocalFile: true });
const plain = value =>
  typeof value === "bigint" ? Number(value)
  : Array.isArray(value) ? { length: value.length, first: value.slice(0, 3).map(plain) }
  : value;
const entries = Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, plain(value)]));
process.stdout.write(JSON.stringify({
  version: plain(metadata.version),
  metadata: entries,
  tensorInfos: tensorInfos.map(t => ({ name: t.name, shape: t.shape.map(Number), dtype: t.dtype, offset: Number(t.offset) })),
}));
