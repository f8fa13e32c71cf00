using LoraBuild.Diagnostics;
using LoraBuild.Tokenization;
using LoraBuild.Training;
using LoraBuild.Training.Data;

namespace LoraBuild.Tests;

/// <summary>
/// A run's training data streams from the files through the tokenizer onto disk (a memory-mapped store in the
/// tokenisation cache, keyed by content hash) and is read back example by example. Each test compares the store with
/// the in-memory path (DatasetLoader.Load + ExampleEncoder.EncodeAll, which the store must not change) on real files.
/// </summary>
public class TokenizationCacheTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();
    readonly string model = TestPaths.Hf("llama");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    TokenizationCache Cache => new(Path.Combine(dir, "cache"));

    ExampleEncoder Encoder(int sequenceLen = 64, bool trainOnInputs = false) =>
        new(HfTokenizer.Load(model), ChatTemplate.ChatMl, sequenceLen) { TrainOnInputs = trainOnInputs };

    TrainingConfig Config(string datasetsYaml, string extra = "")
    {
        var yaml = Path.Combine(dir, "config.yml");
        File.WriteAllText(yaml, $"base_model: {model}\noutput_dir: out\n{extra}datasets:\n{datasetsYaml}");
        return TrainingConfigLoader.Load(yaml);
    }

    string Write(string name, IEnumerable<string> lines)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    static IEnumerable<string> AlpacaLines(int count, int salt = 0) => Enumerable.Range(0, count).Select(i =>
        $"{{\"instruction\": \"Say {i + salt} in words\", \"input\": \"{(i % 3 == 0 ? "" : $"case {i % 7}")}\", \"output\": \"{i + salt} ünïcode ✓ {new string('x', i % 40)}\"}}");

    static void AssertSame(IReadOnlyList<TokenizedExample> expected, IReadOnlyList<TokenizedExample> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].InputIds, actual[i].InputIds);
            Assert.Equal(expected[i].Labels, actual[i].Labels);
            Assert.Equal(expected[i].Source, actual[i].Source);
        }
    }

    string[] CacheFiles() => Directory.Exists(Path.Combine(dir, "cache")) ? Directory.GetFiles(Path.Combine(dir, "cache")) : [];

    [Fact]
    public void A_streamed_store_holds_what_the_in_memory_encoder_makes_and_the_same_data_is_a_hit()
    {
        Write("a.jsonl", AlpacaLines(50));
        Write("b.jsonl", AlpacaLines(30, salt: 1000));
        // A completion text longer than sequence_len is cut into pieces: several examples from one row.
        Write("c.jsonl", Enumerable.Range(0, 5).Select(i => $"{{\"text\": \"{string.Join(' ', Enumerable.Repeat($"word{i}", 80))}\"}}"));
        var config = Config("  - path: a.jsonl\n    type: alpaca\n  - path: b.jsonl\n    type: alpaca\n    split: train[-20%:]\n  - path: c.jsonl\n    type: completion\n");
        var encoder = Encoder(sequenceLen: 48);
        var (expected, expectedReport) = encoder.EncodeAll(DatasetLoader.Load(config.Datasets, new LocalDatasetSource()));

        using (var first = TrainingSet.Prepare(config, encoder, new LocalDatasetSource(), Cache, null, _ => { }, _ => { }))
        {
            Assert.False(first.Cached);
            AssertSame(expected, first.Examples);
            Assert.Equal(expectedReport, first.Report);
            Assert.True(expected.Count > 50 + 6 + 5, "the completion rows are cut into several examples each");
        }
        using (var second = TrainingSet.Prepare(config, encoder, new LocalDatasetSource(), Cache, null, _ => { }, _ => { }))
        {
            Assert.True(second.Cached);
            AssertSame(expected, second.Examples);
        }
        Assert.Single(CacheFiles());

        // Changed data, or another encoder setting, is another key.
        Write("b.jsonl", AlpacaLines(30, salt: 2000));
        long learnedWithoutInputs;
        using (var changed = TrainingSet.Prepare(config, encoder, new LocalDatasetSource(), Cache, null, _ => { }, _ => { }))
        {
            Assert.False(changed.Cached);
            learnedWithoutInputs = changed.Report.TrainableTokens;
        }
        using (var onInputs = TrainingSet.Prepare(config, Encoder(48, trainOnInputs: true), new LocalDatasetSource(), Cache, null, _ => { }, _ => { }))
        {
            Assert.False(onInputs.Cached);
            Assert.True(onInputs.Report.TrainableTokens > learnedWithoutInputs);
        }
    }

    [Fact]
    public void Held_out_rows_and_packing_select_the_same_examples_as_the_in_memory_path()
    {
        Write("a.jsonl", AlpacaLines(40));
        var config = Config("  - path: a.jsonl\n    type: alpaca\n", "seed: 7\nsample_packing: true\nsequence_len: 64\n");
        var encoder = Encoder(64);
        var raw = DatasetLoader.Load(config.Datasets, new LocalDatasetSource());
        // datasets' train_test_split as the trainer draws it: a seeded shuffle of the row indices, the first 6 held out.
        var order = Enumerable.Range(0, raw.Count).ToArray();
        new Random(7).Shuffle(order);
        var held = order.Take(6).ToHashSet();
        var (expectedTrain, expectedReport) = encoder.EncodeAll(raw.Where((_, i) => !held.Contains(i)));
        var expectedPacked = ExampleEncoder.Pack(expectedTrain, 64);

        using var set = TrainingSet.Prepare(config, encoder, new LocalDatasetSource(), Cache, rows => 6, _ => { }, _ => { });
        Assert.Equal(expectedReport, set.Report);
        AssertSame(expectedPacked, set.Examples);
        Assert.Equal(held.Order().Select(i => raw[i].Line), set.HeldOut!.Select(e => e.Line));
        // Packed sequences are full except the last.
        Assert.All(set.Examples.SkipLast(1), e => Assert.Equal(64, e.Length));
    }

    [Fact]
    public void Bad_rows_are_all_reported_and_leave_nothing_in_the_cache()
    {
        var lines = AlpacaLines(30).ToList();
        lines[4] = "{\"instruction\": \"no output\"}";
        lines[25] = "{not json";
        Write("a.jsonl", lines);
        Write("b.jsonl", AlpacaLines(5));
        var config = Config("  - path: a.jsonl\n    type: alpaca\n  - path: b.jsonl\n    type: alpaca\n  - path: missing.jsonl\n    type: alpaca\n");
        var e = Assert.Throws<LoraBuildException>(() => TrainingSet.Prepare(config, Encoder(), new LocalDatasetSource(), Cache, null, _ => { }, _ => { }));
        Assert.Contains(e.Errors, x => x.File!.EndsWith("a.jsonl") && x.Line == 5);
        Assert.Contains(e.Errors, x => x.File!.EndsWith("a.jsonl") && x.Line == 26);
        Assert.Contains(e.Errors, x => x.Message.Contains("missing.jsonl"));

        // The missing entry removed: the bad rows fail the run after the stream wrote part of a store, which is deleted.
        config = Config("  - path: a.jsonl\n    type: alpaca\n  - path: b.jsonl\n    type: alpaca\n");
        e = Assert.Throws<LoraBuildException>(() => TrainingSet.Prepare(config, Encoder(), new LocalDatasetSource(), Cache, null, _ => { }, _ => { }));
        Assert.Equal(2, e.Errors.Count);
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public void A_store_cut_short_or_of_another_format_is_a_miss_not_an_error()
    {
        Write("a.jsonl", AlpacaLines(20));
        var config = Config("  - path: a.jsonl\n    type: alpaca\n");
        using (TrainingSet.Prepare(config, Encoder(), new LocalDatasetSource(), Cache, null, _ => { }, _ => { })) { }
        var entry = Assert.Single(CacheFiles());
        var bytes = File.ReadAllBytes(entry);
        File.WriteAllBytes(entry, bytes[..(bytes.Length - 10)]);
        Assert.Null(TokenizedStore.TryOpen(entry));
        using var again = TrainingSet.Prepare(config, Encoder(), new LocalDatasetSource(), Cache, null, _ => { }, _ => { });
        Assert.False(again.Cached);
        Assert.Equal(20, again.Examples.Count);
    }

    [Fact]
    public void A_writer_disposed_without_a_commit_leaves_no_file()
    {
        var target = Path.Combine(dir, "store", "x.tokens");
        using (var writer = new TokenizedStoreWriter(target))
            writer.Add(new TokenizedExample([1, 2, 3], [-100, 2, 3], "f:1"), 0, 3);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "store")));
        using (var writer = new TokenizedStoreWriter(target))
        {
            writer.Add(new TokenizedExample([1, 2, 3], [-100, 2, 3], "f:1"), 0, 5);
            writer.Add(new TokenizedExample([], [], "f:2"), 1, 0);
            writer.Commit(2);
        }
        using var store = TokenizedStore.TryOpen(target)!;
        Assert.Equal(2, store.Count);
        Assert.Equal(new EncodingReport(2, 1, 5, 3, 2), store.Report);
        Assert.Equal([1, 2, 3], store[0].InputIds);
        Assert.Equal("f:2", store[1].Source);
        Assert.Equal(1, store.RowOf(1));
    }
}
