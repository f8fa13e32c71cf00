using System.Text.Json;
using LoraBuild.Diagnostics;
using LoraBuild.Evaluation;
using LoraBuild.Templating.Jinja;
using LoraBuild.Tokenization;
using LoraBuild.Training.Data;

namespace LoraBuild.Tests;

/// <summary>
/// Chat examples through real chat templates: the rendered conversation is tokenised whole and exactly the assistant
/// turns (as each template writes them, end-of-turn marker included) are learned; template loading and its errors.
/// </summary>
public class ChatMaskTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();
    static readonly HfTokenizer Tokenizer = HfTokenizer.Load(TestPaths.Hf("llama"));

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A model folder with the real tokenizer_config.json (chat template, special tokens) of a golden.</summary>
    string ModelWithTemplateOf(string model)
    {
        using var golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixtures, "chat-templates", model + ".json")));
        var modelDir = Path.Combine(dir, model);
        Directory.CreateDirectory(modelDir);
        File.WriteAllText(Path.Combine(modelDir, "tokenizer_config.json"), golden.RootElement.GetProperty("tokenizer_config").GetRawText());
        return modelDir;
    }

    static string Expected(string model, string conversation)
    {
        using var golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixtures, "chat-templates", model + ".json")));
        return golden.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == conversation).GetProperty("expected").GetString()!;
    }

    string WriteData(params string[] lines)
    {
        var path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    const string MultiTurn = "{\"messages\": [{\"role\": \"system\", \"content\": \"You are terse.\"}, {\"role\": \"user\", \"content\": \"Hi!\"}, " +
        "{\"role\": \"assistant\", \"content\": \"Hello.\"}, {\"role\": \"user\", \"content\": \"Name a prime.\"}, {\"role\": \"assistant\", \"content\": \"7\"}]}";

    static List<string> LearnedRuns(TokenizedExample example)
    {
        var runs = new List<string>();
        var run = new List<int>();
        for (var i = 0; i <= example.Length; i++)
        {
            if (i < example.Length && example.Labels[i] != TokenizedExample.Ignore)
            {
                Assert.Equal(example.InputIds[i], example.Labels[i]);
                run.Add(example.Labels[i]);
            }
            else if (run.Count > 0)
            {
                runs.Add(Tokenizer.Decode(run, skipSpecialTokens: false));
                run.Clear();
            }
        }
        return runs;
    }

    [Theory]
    [InlineData("qwen3", new[] { "Hello.<|im_end|>\n", "<think>\n\n</think>\n\n7<|im_end|>\n" })]
    [InlineData("llama3", new[] { "Hello.<|eot_id|>", "7<|eot_id|>" })]
    [InlineData("gemma3", new[] { "Hello.<end_of_turn>\n", "7<end_of_turn>\n" })]
    [InlineData("deepseek-v3", new[] { "Hello.<｜end▁of▁sentence｜>", "7<｜end▁of▁sentence｜>" })]
    [InlineData("llama2", new[] { " Hello. </s>", " 7 </s>" })]
    [InlineData("chatml-smollm", new[] { "Hello.<|im_end|>\n", "7<|im_end|>\n" })]
    [InlineData("gpt2", new[] { "Hello.<|endoftext|>", "7<|endoftext|>" })]
    public void Exactly_the_assistant_turns_are_learned(string model, string[] learned)
    {
        var chat = ChatTemplate.Resolve("auto", ModelWithTemplateOf(model), "adapter.yaml");
        var example = new ExampleEncoder(Tokenizer, chat, 4096).Encode(JsonlDataset.Read(WriteData(MultiTurn))[0]);
        // The whole conversation as the template renders it (golden from @huggingface/jinja), tokenised once, nothing added.
        Assert.Equal(Expected(model, "system-multi-turn"), Tokenizer.Decode(example.InputIds, skipSpecialTokens: false));
        Assert.Equal(learned, LearnedRuns(example));
    }

    [Fact]
    public void Qwen3_reasoning_of_an_earlier_turn_is_dropped_and_the_last_turn_keeps_its_think_block()
    {
        var chat = ChatTemplate.Resolve("auto", ModelWithTemplateOf("qwen3"), "adapter.yaml");
        var line = "{\"messages\": [{\"role\": \"user\", \"content\": \"2+3?\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nadd them\\n</think>\\n\\n5\"}, " +
                   "{\"role\": \"user\", \"content\": \"times 2?\"}, {\"role\": \"assistant\", \"content\": \"<think>\\ndouble\\n</think>\\n\\n10\"}]}";
        var example = new ExampleEncoder(Tokenizer, chat, 4096).Encode(JsonlDataset.Read(WriteData(line))[0]);
        Assert.Equal(Expected("qwen3", "reasoning-in-earlier-turn"), Tokenizer.Decode(example.InputIds, skipSpecialTokens: false));
        Assert.Equal(["5<|im_end|>\n", "<think>\ndouble\n</think>\n\n10<|im_end|>\n"], LearnedRuns(example));
    }

    [Fact]
    public void Reasoning_content_field_reaches_the_template()
    {
        var chat = ChatTemplate.Resolve("auto", ModelWithTemplateOf("qwen3"), "adapter.yaml");
        var line = "{\"messages\": [{\"role\": \"user\", \"content\": \"2+3?\"}, {\"role\": \"assistant\", \"content\": \"5\", \"reasoning_content\": \"add them\"}]}";
        var example = new ExampleEncoder(Tokenizer, chat, 4096).Encode(JsonlDataset.Read(WriteData(line))[0]);
        Assert.Equal(["<think>\nadd them\n</think>\n\n5<|im_end|>\n"], LearnedRuns(example));
    }

    [Fact]
    public void Generation_markers_decide_the_learned_text_where_the_template_has_them()
    {
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        File.WriteAllText(Path.Combine(dir, "chat_template.jinja"),
            "{% for m in messages %}\n{% if m.role == 'assistant' %}\nA: {% generation %}{{ m.content }}{{ eos_token }}{% endgeneration %}\n\n{% else %}\nU: {{ m.content }}\n\n{% endif %}\n{% endfor %}\n" +
            "{% if add_generation_prompt %}A: {% endif %}\n");
        var chat = ChatTemplate.Resolve("auto", dir, "adapter.yaml");
        var example = new ExampleEncoder(Tokenizer, chat, 4096).Encode(JsonlDataset.Read(WriteData(
            "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, {\"role\": \"user\", \"content\": \"c\"}, {\"role\": \"assistant\", \"content\": \"d\"}]}"))[0]);
        Assert.Equal("U: a\n\nA: b</s>\nU: c\n\nA: d</s>\n", Tokenizer.Decode(example.InputIds, skipSpecialTokens: false));
        // "A: b": byte-level BPE makes " b" one token, so the span starting at "b" starts inside it; that token is learned
        // (as transformers' assistant mask does: char_to_token of the span's first character).
        Assert.Equal([" b</s>", " d</s>"], LearnedRuns(example));
    }

    [Fact]
    public void A_generation_prompt_the_conversation_does_not_contain_still_places_the_turn()
    {
        // As DeepSeek-R1's template: the generation prompt opens a think block that rendered turns do not have.
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["chat_template"] = "{% for m in messages %}{% if m.role == 'user' %}<U>{{ m.content }}{% else %}<A>{{ m.content }}</s>{% endif %}{% endfor %}" +
                                "{% if add_generation_prompt %}<A><think>\n{% endif %}",
        }));
        var chat = ChatTemplate.Resolve("auto", dir, "adapter.yaml");
        var example = new ExampleEncoder(Tokenizer, chat, 4096).Encode(JsonlDataset.Read(WriteData(
            "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}, {\"role\": \"user\", \"content\": \"b\"}, {\"role\": \"assistant\", \"content\": \"Bye\"}]}"))[0]);
        Assert.Equal("<U>a<A>Hello</s><U>b<A>Bye</s>", Tokenizer.Decode(example.InputIds, skipSpecialTokens: false));
        Assert.Equal(["Hello</s>", "Bye</s>"], LearnedRuns(example));
    }

    [Fact]
    public void A_boundary_inside_a_merged_token_keeps_that_token_in_the_span()
    {
        // One id per word: a span ending in the middle of "world" still learns "world".
        IReadOnlyList<int> Words(string text) => text.Split(' ').Select(w => w.Length).ToList();
        var (ids, labels) = SpanLabels.Label("hello big world again", [new TextSpan(6, 12)], Words);
        Assert.Equal([5, 3, 5, 5], ids);
        Assert.Equal([-100, 3, 5, -100], labels);
    }

    [Fact]
    public void Align_places_a_turn_whose_last_rendering_differs()
    {
        Assert.Equal(4, ChatTemplate.Align("abcd", "abcdef"));
        // Rendered last, the turn had an extra think block; in the whole conversation it has not.
        Assert.Equal("u\na\nHello.</s>\n".Length, ChatTemplate.Align("u\na\n<think></think>Hello.</s>\n", "u\na\nHello.</s>\nu\nmore"));
        Assert.Null(ChatTemplate.Align("u\nX", "u\nY"));
    }

    [Fact]
    public void A_model_without_a_chat_template_is_an_error_at_the_first_chat_example()
    {
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        var chat = ChatTemplate.Resolve("auto", dir, "adapter.yaml");
        var data = WriteData("{\"text\": \"plain text trains without a template\"}", MultiTurn);
        var raw = JsonlDataset.Read(data);
        var encoder = new ExampleEncoder(Tokenizer, chat, 512);
        Assert.NotEmpty(encoder.Encode(raw[0]).InputIds);
        var e = Assert.Throws<LoraBuildException>(() => encoder.Encode(raw[1]));
        Assert.Equal(ErrorCodes.ChatTemplateMissing, e.Code);
        Assert.Equal((data, 2), (e.File, e.Line));
        Assert.Contains("chat_template: chatml", e.Message);
        // Choosing ChatML explicitly works.
        Assert.Equal(["Hello.<|im_end|>\n", "7<|im_end|>\n"], LearnedRuns(new ExampleEncoder(Tokenizer, ChatTemplate.Resolve("chatml", dir, "adapter.yaml"), 512).Encode(raw[1])));
    }

    [Fact]
    public void The_template_refusing_a_conversation_names_the_dataset_line()
    {
        var chat = ChatTemplate.Resolve("auto", ModelWithTemplateOf("gemma3"), "adapter.yaml");
        var data = WriteData(MultiTurn, "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}, {\"role\": \"assistant\", \"content\": \"c\"}]}");
        var raw = JsonlDataset.Read(data);
        var e = Assert.Throws<LoraBuildException>(() => new ExampleEncoder(Tokenizer, chat, 512).EncodeAll(raw));
        Assert.Equal(ErrorCodes.ChatTemplateRender, e.Code);
        Assert.Equal((data, 2), (e.File, e.Line));
        Assert.Contains("Conversation roles must alternate user/assistant/user/assistant/...", e.Message);
    }

    [Fact]
    public void Named_templates_jinja_file_and_syntax_errors()
    {
        var config = Path.Combine(dir, "tokenizer_config.json");
        File.WriteAllText(config, "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D{{ messages|length }}\"}]}");
        Assert.Equal("D1", ChatTemplate.Resolve("auto", dir, "a.yaml").Render([new ChatMessage("user", "x")], false));

        File.WriteAllText(config, "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}]}");
        var noDefault = Assert.Throws<LoraBuildException>(() => ChatTemplate.Resolve("auto", dir, "a.yaml"));
        Assert.Equal((ErrorCodes.ChatTemplateMissing, config), (noDefault.Code, noDefault.File));

        File.WriteAllText(config, "{\"chat_template\": \"ok\\n{% if x %}\\nnever closed\"}");
        var bad = Assert.Throws<LoraBuildException>(() => ChatTemplate.Resolve("auto", dir, "a.yaml"));
        Assert.Equal((ErrorCodes.ChatTemplateSyntax, config), (bad.Code, bad.File));
        Assert.Contains("chat template line 2", bad.Message);

        // chat_template.jinja beside the config wins (transformers 4.5x+ saves templates there); its errors carry the file line.
        var jinja = Path.Combine(dir, "chat_template.jinja");
        File.WriteAllText(jinja, "J{{ messages[0].content }}");
        Assert.Equal("Jx", ChatTemplate.Resolve("auto", dir, "a.yaml").Render([new ChatMessage("user", "x")], false));
        File.WriteAllText(jinja, "a\nb\n{{ messages[0] + }}\n");
        var badFile = Assert.Throws<LoraBuildException>(() => ChatTemplate.Resolve("auto", dir, "a.yaml"));
        Assert.Equal((ErrorCodes.ChatTemplateSyntax, jinja, 3), (badFile.Code, badFile.File, badFile.Line));
    }

    [Fact]
    public void Exact_match_expects_the_last_assistant_turn_as_rendered()
    {
        var chat = ChatTemplate.Resolve("auto", ModelWithTemplateOf("qwen3"), "adapter.yaml");
        var raw = JsonlDataset.Read(WriteData(MultiTurn));
        var (encoded, _) = new ExampleEncoder(Tokenizer, chat, 4096).EncodeAll(raw);
        var single = Assert.Single(Evaluator.Cases(raw, encoded, Tokenizer, 4096));
        Assert.Equal("<think>\n\n</think>\n\n7<|im_end|>\n", single.Expected);
        Assert.Equal(Expected("qwen3", "system-multi-turn")[..^"<think>\n\n</think>\n\n7<|im_end|>\n".Length], Tokenizer.Decode(single.PromptIds, skipSpecialTokens: false));
    }
}
