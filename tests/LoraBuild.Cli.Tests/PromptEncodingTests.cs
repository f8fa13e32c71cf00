using System.Text.Json;
using System.Text.Json.Nodes;
using LoraBuild.Evaluation;
using LoraBuild.Runtime;
using LoraBuild.Tests;
using LoraBuild.Tokenization;
using LoraBuild.Training.Data;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// The ids a model is given for a prompt, everywhere a prompt becomes ids — `lorabuild generate`, the runtime, evaluation's
/// exact-match prompts and training — agree with transformers: raw text gets the tokenizer's special tokens
/// (transformers.js's tokenizer(prompt) ids, the fixtures' ids_special), a rendered chat template gets none. Over tiny
/// random models carrying the real Llama 3.1, Gemma 3 and Qwen3 tokenizers.
/// </summary>
public class PromptEncodingTests
{
    public static TheoryData<string, string> Tokenizers() => new()
    {
        { "llama3.1", "llama" },
        { "gemma3", "gemma3" },
        { "qwen3", "qwen3" },
    };

    /// <summary>A tiny random model of <paramref name="family"/>'s shape whose vocabulary fits the real tokenizer.</summary>
    static string TinyModel(string tokenizer, string family)
    {
        var folder = TestPaths.TempDirectory();
        var tokenizerFolder = Path.Combine(TestPaths.Fixtures, "tokenizers", tokenizer);
        var config = JsonNode.Parse(File.ReadAllText(TestPaths.Hf(family, "config.json")))!.AsObject();
        config["vocab_size"] = HfTokenizer.Load(tokenizerFolder).VocabularySize;
        var configPath = Path.Combine(folder, "config.json");
        File.WriteAllText(configPath, config.ToJsonString());
        var model = Path.Combine(folder, "model");
        var init = Worker.Run("init", "--config", configPath, "--tokenizer", tokenizerFolder, "--out", model, "--dtype", "bfloat16");
        Assert.True(init.ExitCode == 0, init.StdErr + init.StdOut);
        return model;
    }

    /// <summary>Raw-text cases of the transformers.js goldens: text and tokenizer(text) ids.</summary>
    static List<(string Text, int[] Ids)> Goldens(string tokenizer)
    {
        using var golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixtures, "tokenizers", tokenizer, "golden.json")));
        return golden.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (Text: c.GetProperty("text").GetString()!, Ids: c.GetProperty("ids_special").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
            .Where(c => c.Text.Trim().Length is > 0 and < 80)
            .Take(6).ToList();
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Generate_runtime_evaluation_and_training_feed_a_raw_prompt_as_transformers_does(string tokenizerName, string family)
    {
        var model = TinyModel(tokenizerName, family);
        var goldens = Goldens(tokenizerName);
        Assert.True(goldens.Count >= 4);
        var tokenizer = HfTokenizer.Load(model);
        // Llama 3.1 and Gemma 3 put BOS first (the case this guards); Qwen3 adds nothing, and must not get anything.
        Assert.Equal(tokenizerName != "qwen3", tokenizer.PrefixSpecialIds.Count > 0);

        // lorabuild generate: the ids it gave the model, from --json.
        var args = new List<string> { "generate", "--model", model, "--max-new-tokens", "3", "--json" };
        foreach (var (text, _) in goldens) args.AddRange(["--prompt", text]);
        var generate = Worker.Run([.. args]);
        Assert.True(generate.ExitCode == 0, generate.StdErr + generate.StdOut);
        var lines = generate.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).ToList();
        Assert.Equal(goldens.Count, lines.Count);
        var texts = new List<string>();
        for (var i = 0; i < goldens.Count; i++)
        {
            using var line = JsonDocument.Parse(lines[i]);
            Assert.Equal(goldens[i].Ids, line.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
            texts.Add(line.RootElement.GetProperty("text").GetString()!);
        }

        // The runtime: the same ids, so the same greedy continuation as the worker.
        TestPaths.EnsureTorch();
        using (var host = AdapterHost.Load(model, [], new HostOptions(Device: "cpu")))
            for (var i = 0; i < goldens.Count; i++)
            {
                Assert.Equal(goldens[i].Ids, host.Tokenizer.EncodePrompt(goldens[i].Text).ToArray());
                Assert.Equal(texts[i], host.Generate(AdapterHost.BaseOnly, goldens[i].Text, new Generation.GenerationOptions(3)));
            }

        // Training and evaluation of a prompt/completion example: the prompt part is the same ids, and evaluation's
        // exact-match case gives the model exactly those.
        var raw = goldens.Select((g, i) => new RawExample("data.jsonl", i + 1, ExampleFormat.PromptCompletion, Prompt: g.Text, Completion: " yes")).ToList();
        var encoder = new ExampleEncoder(tokenizer, ChatTemplate.ChatMl, 512);
        var (encoded, _) = encoder.EncodeAll(raw);
        var cases = Evaluator.Cases(raw, encoded, tokenizer, 512);
        Assert.Equal(goldens.Count, cases.Count);
        for (var i = 0; i < goldens.Count; i++)
        {
            Assert.Equal(goldens[i].Ids, cases[i].PromptIds);
            Assert.Equal(goldens[i].Ids, encoded[i].InputIds[..goldens[i].Ids.Length]);
        }
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void A_rendered_chat_is_encoded_without_added_special_tokens(string tokenizerName, string family)
    {
        var model = TinyModel(tokenizerName, family);
        var tokenizer = HfTokenizer.Load(model);
        var chat = ChatTemplate.Resolve("auto", model, "test");
        Assert.True(chat.IsAvailable, $"{tokenizerName} ships a chat template");
        var messages = new List<ChatMessage> { new("user", "spell 4 0 7"), new("assistant", "four zero seven") };
        var rendered = chat.Render(messages, addGenerationPrompt: false);
        var (encoded, _) = new ExampleEncoder(tokenizer, chat, 512).EncodeAll([new RawExample("chat.jsonl", 1, ExampleFormat.Chat, Messages: messages)]);
        // The template wrote its own markers: the ids are the rendering's, with no BOS added in front of them.
        Assert.Equal(tokenizer.Encode(rendered).ToArray(), encoded[0].InputIds);
        var bos = tokenizer.BosTokenId;
        if (bos is { } b) Assert.True(encoded[0].InputIds.Count(id => id == b) <= 1, "BOS twice: special tokens added to a rendered template");
        var cases = Evaluator.Cases([new RawExample("chat.jsonl", 1, ExampleFormat.Chat, Messages: messages)], encoded, tokenizer, 512);
        Assert.Single(cases);
        Assert.Equal(encoded[0].InputIds[..cases[0].PromptIds.Length], cases[0].PromptIds);
        Assert.StartsWith(tokenizer.Decode(cases[0].PromptIds, skipSpecialTokens: false), rendered);
    }
}
