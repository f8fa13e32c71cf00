using System.IO.Compression;
using System.Text.Json;
using LoraBuild.Tokenization;
using LoraBuild.Training.Data;

namespace LoraBuild.Tests;

/// <summary>
/// A chat example through a real tokenizer (Llama 3.1; Qwen3) and its own chat template: the ids are transformers.js' for the
/// rendered conversation (add_special_tokens=false, so the template's BOS is the only one), and the learned ids are
/// exactly the assistant turns' (tests/fixtures/chat-templates/NAME.json, tokens).
/// </summary>
public class ChatRealTokenizerTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A tokenizer folder from tests/fixtures/tokenizers/NAME (tokenizer.json is stored gzipped).</summary>
    public static string UnpackTokenizer(string name, string into)
    {
        var source = Path.Combine(TestPaths.Fixtures, "tokenizers", name);
        Directory.CreateDirectory(into);
        using (var gz = new GZipStream(File.OpenRead(Path.Combine(source, "tokenizer.json.gz")), CompressionMode.Decompress))
        using (var json = File.Create(Path.Combine(into, "tokenizer.json")))
            gz.CopyTo(json);
        File.Copy(Path.Combine(source, "tokenizer_config.json"), Path.Combine(into, "tokenizer_config.json"));
        return into;
    }

    /// <summary>
    /// (chat-template golden, tokenizer fixture, vocabulary size) pairs whose tokenizer is in tests/fixtures/tokenizers:
    /// Llama 3.1 always; Qwen3 where the tokenizer fixtures (and its NFC normalizer) are present.
    /// </summary>
    public static TheoryData<string, string, int> RealTokenizers()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var (template, tokenizer, vocabulary) in new[] { ("llama3", "llama3.1", 128256), ("qwen3", "qwen3", 151936) })
            if (tokenizer == "llama3.1" || File.Exists(Path.Combine(TestPaths.Fixtures, "tokenizers", tokenizer, "tokenizer.json.gz")))
                data.Add(template, tokenizer, vocabulary);
        return data;
    }

    [Theory]
    [MemberData(nameof(RealTokenizers))]
    public void Chat_ids_and_learned_ids_match_transformers_js(string template, string tokenizerName, int vocabulary)
    {
        var model = UnpackTokenizer(tokenizerName, Path.Combine(dir, tokenizerName));
        using var golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixtures, "chat-templates", template + ".json")));
        var tokens = golden.RootElement.GetProperty("tokens");
        var conversation = golden.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == tokens.GetProperty("conversation").GetString());
        var messages = conversation.GetProperty("messages").EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();

        var tokenizer = HfTokenizer.Load(model);
        var chat = ChatTemplate.Resolve("auto", model, "adapter.yaml");
        var example = new ExampleEncoder(tokenizer, chat, 4096).Encode(new RawExample("chat.jsonl", 1, ExampleFormat.Chat, Messages: messages));

        Assert.Equal(tokens.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()), example.InputIds);
        Assert.All(example.InputIds, id => Assert.InRange(id, 0, vocabulary - 1)); // the size `lorabuild init` gives the model
        if (tokenizerName == "llama3.1") Assert.Equal(1, example.InputIds.Count(id => id == 128000)); // <|begin_of_text|> once: the template's
        var assistantIds = tokens.GetProperty("assistant").EnumerateArray().SelectMany(s => s.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()));
        Assert.Equal(assistantIds, example.Labels.Where(l => l != TokenizedExample.Ignore));
        // Learned ids sit where those turns are: every learned position holds its own input id.
        Assert.All(Enumerable.Range(0, example.Length).Where(i => example.Labels[i] != TokenizedExample.Ignore), i => Assert.Equal(example.InputIds[i], example.Labels[i]));
    }
}
