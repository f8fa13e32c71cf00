using System.Text.Json;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// `lorabuild train` on chat data with a real tokenizer and chat template (Llama 3.1; Qwen3 where its tokenizer fixture is
/// present), over a tiny random model of that vocabulary (`lorabuild init`): it runs, learns, and the learned tokens are
/// the assistant turns' (counts from the transformers.js goldens in tests/fixtures/chat-templates/NAME.json).
/// </summary>
public class ChatTrainingTests
{
    [Theory]
    [MemberData(nameof(ChatRealTokenizerTests.RealTokenizers), MemberType = typeof(ChatRealTokenizerTests))]
    public void Chat_trains_on_exactly_the_assistant_tokens(string template, string tokenizerName, int vocabulary)
    {
        var dir = TestPaths.TempDirectory();
        var tokenizer = ChatRealTokenizerTests.UnpackTokenizer(tokenizerName, Path.Combine(dir, "tokenizer"));
        var config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": VOCAB, "hidden_size": 32, "intermediate_size": 64,
             "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "hidden_act": "silu",
             "max_position_embeddings": 256, "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": false,
             "bos_token_id": 128000, "eos_token_id": 128009, "torch_dtype": "float32"}
            """.Replace("VOCAB", vocabulary.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var model = Path.Combine(dir, "model");
        var init = Worker.Run("init", "--config", config, "--tokenizer", tokenizer, "--out", model, "--seed", "1");
        Assert.True(init.ExitCode == 0, init.StdErr + init.StdOut);

        using var golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixtures, "chat-templates", template + ".json")));
        var tokens = golden.RootElement.GetProperty("tokens");
        var conversation = golden.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == tokens.GetProperty("conversation").GetString());
        var line = JsonSerializer.Serialize(new { messages = conversation.GetProperty("messages") });
        var data = Path.Combine(dir, "chat.jsonl");
        File.WriteAllLines(data, Enumerable.Repeat(line, 4));

        var output = Path.Combine(dir, "out");
        var train = Worker.Run("train", "--model", model, "--dataset", data, "--eval-dataset", data, "--out", output, "--steps", "12", "--rank", "4", "--alpha", "8",
            "--lr", "0.01", "--device", "cpu", "--set", "micro_batch_size=4", "--set", "save_steps=0", "--set", "sequence_len=64", "--set", "logging_steps=1",
            "--set", "eval_max_new_tokens=4");
        Assert.True(train.ExitCode == 0, train.StdErr + train.StdOut);

        var total = tokens.GetProperty("ids").GetArrayLength();
        var learned = tokens.GetProperty("assistant").EnumerateArray().Sum(s => s.GetProperty("ids").GetArrayLength());
        Assert.Contains($"train data: 4 examples, {4 * total} tokens ({4 * learned} learned)", train.StdOut);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        var curve = metrics.RootElement.GetProperty("loss_curve").EnumerateArray().Select(p => p.ValueKind == JsonValueKind.Number ? p.GetDouble() : p.GetProperty("loss").GetDouble()).ToList();
        Assert.True(curve[^1] < curve[0], $"loss did not fall: {string.Join(", ", curve)}");
        // Exact match runs on chat examples: one case each, the last assistant turn as the template renders it.
        Assert.Equal(4, metrics.RootElement.GetProperty("eval").GetProperty("exact_match_examples").GetInt32());
        Directory.Delete(dir, recursive: true);
    }
}
