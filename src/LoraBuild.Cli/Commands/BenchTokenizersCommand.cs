using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LoraBuild.Tokenization;

namespace LoraBuild.Cli.Commands;

/// <summary>
/// <c>lorabuild bench-tokenizers</c>: encoding throughput (MB of UTF-8 text per second, one thread) of each tokenizer
/// folder over a corpus split into documents at blank lines, as a training set is encoded. eng/tokenizers/bench.sh runs
/// it beside transformers.js on the same corpus.
/// </summary>
public static class BenchTokenizersCommand
{
    public static Command Create()
    {
        var corpus = new Option<string>("--corpus") { Description = "UTF-8 text file; documents are separated by blank lines.", Required = true };
        var tokenizers = new Option<string[]>("--tokenizer") { Description = "Tokenizer folder (repeatable); tokenizer.json may be gzipped.", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string?>("--out") { Description = "JSON file for the results." };
        var command = new Command("bench-tokenizers", "Benchmark tokenizer encoding throughput (MB/s).") { corpus, tokenizers, output };
        command.SetAction(parse =>
        {
            var text = File.ReadAllText(parse.GetValue(corpus)!);
            var documents = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
            var megabytes = Encoding.UTF8.GetByteCount(text) / 1e6;
            var results = new List<object>();
            foreach (var folder in parse.GetValue(tokenizers)!)
            {
                var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
                var load = Stopwatch.StartNew();
                var tokenizer = HfTokenizer.Load(folder);
                var loadSeconds = load.Elapsed.TotalSeconds;
                var watch = Stopwatch.StartNew();
                long tokens = 0;
                uint idsHash = 0;
                foreach (var document in documents)
                {
                    var ids = tokenizer.Encode(document, addSpecialTokens: false);
                    tokens += ids.Count;
                    // Order-sensitive hash of every id, compared with bench.mjs's to show the two encodings are equal.
                    foreach (var id in ids) idsHash = unchecked(idsHash * 31 + (uint)id + 1);
                }
                var seconds = watch.Elapsed.TotalSeconds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-14} {megabytes / seconds,8:0.00} MB/s  {tokens / seconds / 1e6,6:0.00} M tokens/s  {tokens,12:N0} tokens  {seconds,7:0.0} s  (load {loadSeconds:0.0} s)  ids hash {idsHash:x8}"));
                results.Add(new { tokenizer = name, megabytes, seconds, tokens, mb_per_second = megabytes / seconds, load_seconds = loadSeconds, ids_hash = idsHash.ToString("x8") });
            }
            if (parse.GetValue(output) is { } path)
                File.WriteAllText(path, JsonSerializer.Serialize(new { implementation = "LoraBuild", documents = documents.Length, results }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }
}
