using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraBuild.Export.Gguf;
using LoraBuild.Tokenization;

namespace LoraBuild.Tests;

/// <summary>
/// The vocabulary metadata of our GGUF judged by llama.cpp's own tokenizer: node-llama-cpp loads a vocabulary-only GGUF
/// made from a real tokenizer.json and must give LoraBuild's ids on every golden string (50+ per tokenizer), for
/// byte-level BPE (llama.cpp's gpt2 model with the matching pre-tokenizer) and SentencePiece-style (llama model).
/// </summary>
public class GgufTokenizerTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("qwen2.5", "gpt2", "qwen2")]
    [InlineData("llama3.1", "gpt2", "llama-bpe")]
    [InlineData("gpt2", "gpt2", "gpt-2")]
    [InlineData("mistral-v0.1", "llama", "default")]
    public void Llama_cpp_tokenizes_as_lorabuild_with_our_vocabulary(string name, string ggufModel, string pre)
    {
        var source = Path.Combine(TestPaths.Fixtures, "tokenizers", name);
        var model = Path.Combine(dir, name);
        Directory.CreateDirectory(model);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            if (File.Exists(Path.Combine(source, file))) File.Copy(Path.Combine(source, file), Path.Combine(model, file));
            else
            {
                using var gzip = new GZipStream(File.OpenRead(Path.Combine(source, file + ".gz")), CompressionMode.Decompress);
                using var output = File.Create(Path.Combine(model, file));
                gzip.CopyTo(output);
            }
        }
        var tokenizer = HfTokenizer.Load(model);
        // Any small llama-architecture config: a vocabulary-only load reads the hyperparameters but no tensors.
        var config = JsonNode.Parse(File.ReadAllText(TestPaths.Hf("llama", "config.json")))!;
        config["vocab_size"] = tokenizer.Vocabulary.Values.Max() + 1;
        File.WriteAllText(Path.Combine(model, "config.json"), config.ToJsonString());
        var gguf = Path.Combine(dir, name + ".gguf");
        GgufModelExporter.ExportVocabulary(model, gguf);

        using var golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(source, "golden.json")));
        // Two llama.cpp behaviours no metadata changes, set aside: it marks vocabulary entries spelled "</s>" or "<unk>"
        // special by their text (llama-vocab.cpp's auto-detection), and it implements no normalizer, so an NFC
        // tokenizer's input is given to it already NFC-normalised.
        var heuristicSpecials = new[] { "</s>", "<unk>" }.Where(t => !tokenizer.SpecialTokens.ContainsKey(t)).ToList();
        var texts = golden.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("text").GetString()!)
            .Where(t => !heuristicSpecials.Any(t.Contains)).ToList();
        Assert.True(texts.Count >= 50, $"{texts.Count} strings");
        var nfc = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "tokenizer.json")))!["normalizer"]?["type"]?.GetValue<string>() == "NFC";
        var inputs = texts.Select(t => nfc ? t.Normalize(System.Text.NormalizationForm.FormC) : t).ToList();
        var reply = LlamaCppOracle.Llama([new { model = gguf, vocabOnly = true, tokenize = inputs }])[0];

        var info = LlamaCppOracle.ReadGguf(gguf).GetProperty("metadata");
        Assert.Equal(ggufModel, info.GetProperty("tokenizer.ggml.model").GetString());
        Assert.Equal(pre, info.GetProperty("tokenizer.ggml.pre").GetString());
        Assert.Equal(tokenizer.AddBosToken, reply.GetProperty("tokens").GetProperty("addBos").GetBoolean());
        var theirs = reply.GetProperty("tokenize").EnumerateArray().Select(ids => ids.EnumerateArray().Select(i => i.GetInt32()).ToArray()).ToList();
        var mismatches = new List<string>();
        for (var i = 0; i < texts.Count; i++)
        {
            var ours = tokenizer.Encode(texts[i]).ToArray();
            if (!ours.SequenceEqual(theirs[i]))
                mismatches.Add($"{JsonSerializer.Serialize(texts[i])}: ours [{string.Join(",", ours)}] llama.cpp [{string.Join(",", theirs[i])}]");
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count}/{texts.Count} strings differ:\n" + string.Join("\n", mismatches.Take(10)));
    }
}
