using LoraBuild.Tokenization;
using LoraBuild.Training.Data;

namespace LoraBuild.Tests;

/// <summary>Tokenised examples are cached by content hash: the same data is a hit with the same tokens; changed data is a miss.</summary>
public class TokenizationCacheTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Same_content_hits_changed_content_misses()
    {
        var model = TestPaths.Hf("llama");
        var encoder = new ExampleEncoder(HfTokenizer.Load(model), ChatTemplate.ChatMl, 64);
        var cache = new TokenizationCache(Path.Combine(dir, "cache"));
        RawExample Example(string completion) => new("d.jsonl", 1, ExampleFormat.PromptCompletion, Prompt: "2+2=", Completion: completion);

        var (first, report, cachedFirst) = encoder.EncodeAll([Example(" four")], cache, model);
        var (second, _, cachedSecond) = encoder.EncodeAll([Example(" four")], cache, model);
        Assert.False(cachedFirst);
        Assert.True(cachedSecond);
        Assert.Equal(first[0].InputIds, second[0].InputIds);
        Assert.Equal(first[0].Labels, second[0].Labels);
        Assert.Equal(encoder.Encode(Example(" four")).InputIds, second[0].InputIds);
        Assert.Equal(report.TrainableTokens, first[0].TrainableTokens);

        Assert.False(encoder.EncodeAll([Example(" five")], cache, model).Cached);
        // A different encoder setting (train_on_inputs) is a different key too.
        var onInputs = new ExampleEncoder(HfTokenizer.Load(model), ChatTemplate.ChatMl, 64) { TrainOnInputs = true };
        var (all, _, cachedInputs) = onInputs.EncodeAll([Example(" four")], cache, model);
        Assert.False(cachedInputs);
        Assert.DoesNotContain(TokenizedExample.Ignore, all[0].Labels.Skip(1));
    }
}
