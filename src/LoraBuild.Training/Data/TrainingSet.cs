using System.Globalization;
using System.Text.Json;
using LoraBuild.Diagnostics;

namespace LoraBuild.Training.Data;

/// <summary>
/// A run's training examples, prepared without holding the data in memory: the datasets' rows stream through their
/// readers and types into the tokenizer and onto disk (a <see cref="TokenizedStore"/> in the tokenisation cache, keyed
/// by content hash), which the trainer then reads example by example. val_set_size holds rows out by index (their raw
/// examples are read again for evaluation); sample packing writes its sequences to a store of its own.
/// </summary>
public sealed class TrainingSet : IDisposable
{
    readonly List<IDisposable> stores = [];

    public required IReadOnlyList<TokenizedExample> Examples { get; init; }
    public required EncodingReport Report { get; init; }
    /// <summary>The tokens came from the cache (an earlier run read the same data with the same tokenizer and settings).</summary>
    public bool Cached { get; init; }
    /// <summary>The examples val_set_size held out, for evaluation; null without val_set_size.</summary>
    public IReadOnlyList<RawExample>? HeldOut { get; init; }

    /// <param name="heldOutCount">From the row count, how many rows val_set_size holds out (throws when it cannot).</param>
    /// <param name="say">A line worth keeping (holding out, packing, the cache).</param>
    /// <param name="progress">A transient state (rows tokenised so far).</param>
    public static TrainingSet Prepare(TrainingConfig config, ExampleEncoder encoder, IDatasetSource source, TokenizationCache cache,
        Func<int, int>? heldOutCount, Action<string> say, Action<string> progress)
    {
        var specs = config.TrainSpecs;
        var (examples, data, files) = Stream(specs, source);
        var key = cache.Key(data, files, config.BaseModel!, encoder.Settings);
        var (store, cached) = cache.GetOrAdd(key, writer => encoder.EncodeInto(examples(), writer,
            rows => progress(string.Create(CultureInfo.InvariantCulture, $"tokenising: {rows:N0} rows, {writer.Count:N0} examples"))));
        var owned = new List<IDisposable> { store };
        try
        {
            IReadOnlyList<TokenizedExample> train = store;
            var report = store.Report;
            List<RawExample>? heldOut = null;
            var selection = "all";
            if (heldOutCount is not null)
            {
                var count = heldOutCount(store.RowCount);
                var order = Enumerable.Range(0, store.RowCount).ToArray();
                new Random(config.Seed).Shuffle(order);
                var held = order.Take(count).ToHashSet();
                var keep = Enumerable.Range(0, store.Count).Where(i => !held.Contains(store.RowOf(i))).ToArray();
                train = new ExampleSelection(store, keep);
                report = store.ReportOf(keep);
                // The held-out rows in their dataset order, read again (only these are kept in memory).
                heldOut = examples().Where((_, row) => held.Contains(row)).ToList();
                selection = $"held out {count} seed {config.Seed}";
                say($"val_set_size: {count} of {store.RowCount} training examples held out for evaluation (seed {config.Seed})");
            }
            if (config.SamplePacking)
            {
                var packKey = cache.Key([key, $"packed|{config.SequenceLen}|{selection}"], [], config.BaseModel!, encoder.Settings);
                var (packed, _) = cache.GetOrAdd(packKey, writer =>
                {
                    var sequences = 0;
                    foreach (var sequence in ExampleEncoder.PackStream(train, config.SequenceLen)) writer.Add(sequence, sequences++, sequence.Length);
                    return sequences;
                });
                owned.Add(packed);
                say($"packing: {report.Examples} examples into {packed.Count} sequences of up to {config.SequenceLen} tokens");
                train = packed;
            }
            var set = new TrainingSet { Examples = train, Report = report, Cached = cached, HeldOut = heldOut };
            set.stores.AddRange(owned);
            return set;
        }
        catch
        {
            foreach (var s in owned) s.Dispose();
            throw;
        }
    }

    /// <summary>
    /// How the training rows are read (<see cref="DatasetLoader.OwnJsonl"/>): a fresh lazy pass each call, what decides
    /// its rows (for the cache key) and the files it reads.
    /// </summary>
    static (Func<IEnumerable<RawExample>> Examples, List<string> Data, List<string> Files) Stream(IReadOnlyList<DatasetSpec> specs, IDatasetSource source)
    {
        if (DatasetLoader.OwnJsonl(specs) is { } jsonl)
            return (() => JsonlDataset.Stream(jsonl), ["lorabuild-jsonl"], [jsonl]);
        var files = new List<string>();
        try
        {
            foreach (var spec in specs) files.AddRange(source.Files(spec));
        }
        catch (LoraBuildException)
        {
            // Every problem at once: the full pass collects them all (missing files of other entries, bad rows).
            foreach (var _ in DatasetLoader.Stream(specs, source)) { }
            throw;
        }
        // How each entry reads its rows, without where the config wrote it (moving a line in the config changes no token).
        var data = specs.Select(s => JsonSerializer.Serialize(s with { Source = "", Line = 0, Column = 0 })).ToList();
        return (() => DatasetLoader.Stream(specs, source), data, files);
    }

    public void Dispose()
    {
        foreach (var store in stores) store.Dispose();
    }
}
