using System.CommandLine;
using LoraBuild.Tokenization;
using LoraBuild.Training.Benchmarks;

namespace LoraBuild.Cli.Commands;

/// <summary>
/// <c>lorabuild bench-data</c>: rows/s read and tokenised from the same alpaca rows as Parquet and as JSONL (a benchmark,
/// not a test). Writes the two files into --folder (kept, so a second run measures without writing them again).
/// </summary>
public static class BenchDataCommand
{
    public static Command Create()
    {
        var rows = new Option<int>("--rows") { Description = "Rows in each file.", DefaultValueFactory = _ => 1_000_000 };
        var folder = new Option<string>("--folder") { Description = "Where the Parquet and JSONL files are written.", Required = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "Tokenizer folder (tokenizer.json, tokenizer_config.json).", Required = true };
        var prepare = new Option<string?>("--prepare")
        {
            Description = "Measure a run's data preparation of one format (parquet or jsonl) alone: streamed through the tokenisation cache, peak memory.",
        };
        var inMemory = new Option<bool>("--in-memory") { Description = "With --prepare: every example held in a list instead (the comparison)." };
        var command = new Command("bench-data", "Benchmark dataset reading and tokenisation: Parquet vs JSONL (rows/s).") { rows, folder, tokenizer, prepare, inMemory };
        command.SetAction(parse =>
        {
            var count = parse.GetValue(rows);
            var dir = parse.GetValue(folder)!;
            var parquet = Path.Combine(dir, $"alpaca-{count}.parquet");
            var jsonl = Path.Combine(dir, $"alpaca-{count}.jsonl");
            if (!File.Exists(parquet) || !File.Exists(jsonl)) (parquet, jsonl) = DataBenchmark.WriteFiles(dir, count);
            if (parse.GetValue(prepare) is { } format)
            {
                var file = format switch
                {
                    "parquet" => parquet,
                    "jsonl" => jsonl,
                    _ => throw new LoraBuild.Diagnostics.LoraBuildException(LoraBuild.Diagnostics.ErrorCodes.ConfigValueInvalid, $"--prepare {format}: expected parquet or jsonl."),
                };
                Console.WriteLine(DataBenchmark.MeasurePreparation(file, parse.GetValue(tokenizer)!, Path.Combine(dir, "tokenized-cache"), parse.GetValue(inMemory)));
                return 0;
            }
            var tok = HfTokenizer.Load(parse.GetValue(tokenizer)!);
            // A first round warms the JIT and the tokenizer's word cache for both formats alike; the second is reported.
            foreach (var file in new[] { parquet, jsonl }) DataBenchmark.Measure(file, tok, limit: 50_000);
            foreach (var file in new[] { parquet, jsonl }) Console.WriteLine(DataBenchmark.Describe(DataBenchmark.Measure(file, tok)));
            return 0;
        });
        return command;
    }
}
