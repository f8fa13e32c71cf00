// The Hub protocol oracle for tests/LoraBuild.Hub.Tests (HubInteropTests) and the download benchmark:
// a real client, @huggingface/hub, talking to the LoraBuild Hub emulator and reading LoraBuild's cache.
//   node interop.mjs snapshot <hubUrl> <cacheDir> <type> <id> <revision>   -> {"folder": ...}
//   node interop.mjs file <hubUrl> <cacheDir> <type> <id> <revision> <path> -> {"path": ..., "seconds": ...}
//   node interop.mjs scan <cacheDir>                                       -> the repos scanCacheDir found, as JSON
import { snapshotDownload, downloadFileToCacheDir, scanCacheDir } from "@huggingface/hub";

const [command, ...args] = process.argv.slice(2);
// The library logs each download on console.debug; stdout carries only the JSON answer.
console.debug = () => {};
console.info = () => {};

if (command === "snapshot") {
  const [hubUrl, cacheDir, type, name, revision] = args;
  const folder = await snapshotDownload({ repo: { type, name }, hubUrl, cacheDir, revision });
  console.log(JSON.stringify({ folder }));
} else if (command === "file") {
  const [hubUrl, cacheDir, type, name, revision, path] = args;
  const start = process.hrtime.bigint();
  const file = await downloadFileToCacheDir({ repo: { type, name }, hubUrl, cacheDir, revision, path });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ path: file, seconds }));
} else if (command === "scan") {
  const result = await scanCacheDir(args[0]);
  console.log(JSON.stringify({
    warnings: result.warnings.map((w) => String(w)),
    repos: result.repos.map((r) => ({
      type: r.id.type,
      name: r.id.name,
      size: r.size,
      revisions: r.revisions.map((v) => ({
        commit: v.commitOid,
        refs: v.refs,
        files: v.files.map((f) => ({ path: f.path, blob: f.blob.path, size: f.blob.size })),
      })),
    })),
  }));
} else {
  console.error("usage: interop.mjs snapshot|file|scan ...");
  process.exit(2);
}
