using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LoraBuild.Tokenization;
using LoraBuild.Training.Data;
using LoraBuild.Training.Data.Readers;
using LoraBuild.Training.Data.Strategies;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace LoraBuild.Training.Benchmarks;

/// <summary>One format's throughput: rows read (reader + alpaca strategy) and rows read and tokenised, per second.</summary>
public sealed record DataBenchmarkResult(string Format, long Rows, long Bytes, double ReadSeconds, double ReadAndTokeniseSeconds, long Tokens)
{
    public double ReadRowsPerSecond => Rows / ReadSeconds;
    public double TokenisedRowsPerSecond => Rows / ReadAndTokeniseSeconds;
}

/// <summary>
/// The same alpaca rows as Parquet (row groups of 100,000) and as JSONL, each streamed through its reader and the
/// alpaca strategy, then again through the encoder with a real tokenizer: rows/s for reading alone and for reading and
/// tokenising. A benchmark, not a test (lorabuild bench-data).
/// </summary>
public static class DataBenchmark
{
    public static (string Parquet, string Jsonl) WriteFiles(string folder, int rows)
    {
        Directory.CreateDirectory(folder);
        var parquet = Path.Combine(folder, $"alpaca-{rows}.parquet");
        var jsonl = Path.Combine(folder, $"alpaca-{rows}.jsonl");
        static (string, string, string) Row(int i) =>
            ($"Write the number {i} in words, then say whether it is even.", i % 3 == 0 ? "" : $"Context {i % 97}: digits only", $"{i} is {(i % 2 == 0 ? "even" : "odd")}; café ✓ {i * 7 % 1000}");
        var schema = new ParquetSchema(new DataField<string>("instruction"), new DataField<string>("input"), new DataField<string>("output"));
        using (var stream = File.Create(parquet))
        {
            const int group = 100_000;
            for (var start = 0; start < rows; start += group)
            {
                var batch = Enumerable.Range(start, Math.Min(group, rows - start)).Select(i =>
                {
                    var (a, b, c) = Row(i);
                    return (IDictionary<string, object?>)new Dictionary<string, object?> { ["instruction"] = a, ["input"] = b, ["output"] = c };
                }).ToList();
                ParquetSerializer.SerializeUntypedAsync(batch, schema, stream, new ParquetOptions { Append = start > 0, RowGroupSize = group }).GetAwaiter().GetResult();
            }
        }
        using (var writer = new StreamWriter(jsonl, false, new UTF8Encoding(false)))
            for (var i = 0; i < rows; i++)
            {
                var (a, b, c) = Row(i);
                writer.WriteLine(JsonSerializer.Serialize(new { instruction = a, input = b, output = c }));
            }
        return (parquet, jsonl);
    }

    public static DataBenchmarkResult Measure(string file, HfTokenizer tokenizer, int limit = int.MaxValue)
    {
        var reader = DatasetFiles.ReaderFor(file, null, file, 0);
        var strategy = new AlpacaStrategy("instruct");
        var watch = Stopwatch.StartNew();
        long rows = 0;
        foreach (var row in reader.Read(file).Take(limit))
        {
            _ = strategy.ToExample(row);
            rows++;
        }
        var read = watch.Elapsed.TotalSeconds;
        var encoder = new ExampleEncoder(tokenizer, ChatTemplate.ChatMl, 1 << 20);
        long tokens = 0;
        watch.Restart();
        foreach (var row in reader.Read(file).Take(limit)) tokens += encoder.Encode(strategy.ToExample(row)).Length;
        return new DataBenchmarkResult(Path.GetExtension(file).TrimStart('.'), rows, new FileInfo(file).Length, read, watch.Elapsed.TotalSeconds, tokens);
    }

    /// <summary>
    /// A run's data preparation over one file, measured alone in its process: streamed into the tokenisation cache's store
    /// and read back once as an epoch would (<paramref name="inMemory"/>: today's other path, every example in a list).
    /// Peak resident memory says whether the data passed through or was held.
    /// </summary>
    public static string MeasurePreparation(string file, string tokenizerFolder, string cacheFolder, bool inMemory)
    {
        var config = new Training.TrainingConfig { BaseModel = tokenizerFolder, SequenceLen = 2048 };
        config.Datasets.Add(new DatasetSpec(file, "bench-data", 0) { Type = "alpaca" });
        var encoder = new ExampleEncoder(HfTokenizer.Load(tokenizerFolder), ChatTemplate.ChatMl, config.SequenceLen);
        var baseline = Diagnostics.HostMemory.ResetPeak();
        // The kernel keeps no peak of anonymous memory: sampled, every 20 ms.
        long peakAnonymous = Diagnostics.HostMemory.AnonymousBytes();
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                var now = Diagnostics.HostMemory.AnonymousBytes();
                if (now > Interlocked.Read(ref peakAnonymous)) Interlocked.Exchange(ref peakAnonymous, now);
                try { await Task.Delay(20, sampling.Token); } catch (OperationCanceledException) { }
            }
        });
        var watch = Stopwatch.StartNew();
        long tokens = 0;
        int examples;
        if (inMemory)
        {
            var (list, _) = encoder.EncodeAll(DatasetLoader.Load(config.Datasets, new LocalDatasetSource()));
            foreach (var e in list) tokens += e.Length;
            examples = list.Count;
        }
        else
        {
            if (Directory.Exists(cacheFolder)) Directory.Delete(cacheFolder, recursive: true);
            using var set = TrainingSet.Prepare(config, encoder, new LocalDatasetSource(), new TokenizationCache(cacheFolder), null, _ => { }, _ => { });
            foreach (var e in set.Examples) tokens += e.Length;
            examples = set.Examples.Count;
        }
        var seconds = watch.Elapsed.TotalSeconds;
        sampling.Cancel();
        sampler.Wait();
        var store = Directory.Exists(cacheFolder) && !inMemory ? Directory.GetFiles(cacheFolder).Sum(f => new FileInfo(f).Length) : 0;
        return string.Create(CultureInfo.InvariantCulture,
            $"{(inMemory ? "in memory" : "streamed"),-9} {Path.GetExtension(file).TrimStart('.'),-8} {examples,9} examples {tokens,11} tokens  {examples / seconds,8:0} rows/s  " +
            $"file {new FileInfo(file).Length / 1e6:0.0} MB  store {store / 1e6:0.0} MB  resident before {baseline / 1048576.0:0} MiB, peak {Diagnostics.HostMemory.PeakBytes() / 1048576.0:0} MiB " +
            $"(anonymous, without mapped file pages: peak {peakAnonymous / 1048576.0:0} MiB)");
    }

    public static string Describe(DataBenchmarkResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Format,-8} {r.Rows,9} rows {r.Bytes / 1e6,8:0.0} MB  read {r.ReadRowsPerSecond,10:0} rows/s  read+tokenise {r.TokenisedRowsPerSecond,10:0} rows/s ({r.Tokens / r.ReadAndTokeniseSeconds:0} tokens/s)");
}
