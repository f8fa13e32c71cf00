using LoraBuild.Diagnostics;
using LoraBuild.Tokenization;
using LoraBuild.Training.Data;

namespace LoraBuild.Tests;

/// <summary>JSONL shapes, loss masks and the errors for malformed lines (file:line, reason), one per format.</summary>
public class DatasetTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();
    static readonly HfTokenizer Tokenizer = HfTokenizer.Load(TestPaths.Hf("llama"));

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(params string[] lines)
    {
        var path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    LoraBuildException ErrorAt(int line, params string[] lines)
    {
        var path = Write(lines);
        var e = Assert.Throws<LoraBuildException>(() => JsonlDataset.Read(path));
        Assert.Equal(path, e.File);
        Assert.Equal(line, e.Line);
        return e;
    }

    [Fact]
    public void Text_line_with_a_non_string_text() =>
        Assert.Contains("\"text\" must be a string", ErrorAt(2, "{\"text\": \"ok\"}", "{\"text\": 42}").Message);

    [Fact]
    public void Prompt_without_completion() =>
        Assert.Contains("missing \"completion\"", ErrorAt(1, "{\"prompt\": \"2+2=\"}").Message);

    [Fact]
    public void Alpaca_without_output() =>
        Assert.Contains("missing \"output\"", ErrorAt(3, "", "{\"instruction\": \"a\", \"output\": \"b\"}", "{\"instruction\": \"a\", \"input\": \"x\"}").Message);

    [Fact]
    public void Chat_with_an_unknown_role() =>
        Assert.Contains("role 'robot'", ErrorAt(1, "{\"messages\": [{\"role\": \"robot\", \"content\": \"hi\"}]}").Message);

    [Fact]
    public void Chat_without_an_assistant_turn() =>
        Assert.Contains("no assistant message", ErrorAt(1, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}").Message);

    [Fact]
    public void Line_that_is_not_json() =>
        Assert.Contains("not valid JSON", ErrorAt(2, "{\"text\": \"a\"}", "{\"text\": \"unterminated}").Message);

    [Fact]
    public void Line_of_an_unknown_shape() =>
        Assert.Contains("none of the supported shapes", ErrorAt(1, "{\"question\": \"a\", \"answer\": \"b\"}").Message);

    [Fact]
    public void Empty_dataset_is_an_error()
    {
        var path = Write("", "   ");
        Assert.Equal(ErrorCodes.DatasetEmpty, Assert.Throws<LoraBuildException>(() => JsonlDataset.Read(path)).Code);
    }

    [Fact]
    public void Only_completions_and_assistant_turns_are_learned()
    {
        var path = Write(
            "{\"prompt\": \"spell 3:\", \"completion\": \" three\"}",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}",
            "{\"text\": \"all of it\"}",
            "{\"instruction\": \"Add\", \"input\": \"1 2\", \"output\": \"3\"}");
        var raw = JsonlDataset.Read(path);
        Assert.Equal([ExampleFormat.PromptCompletion, ExampleFormat.Chat, ExampleFormat.Text, ExampleFormat.Alpaca], raw.Select(r => r.Format));
        var encoder = new ExampleEncoder(Tokenizer, ChatTemplate.ChatMl, 512);
        var (examples, report) = encoder.EncodeAll(raw);
        var eos = Tokenizer.EosTokenId!.Value;

        string Learned(TokenizedExample e) => Tokenizer.Decode(e.Labels.Where(l => l >= 0 && l != eos));
        Assert.Equal(" three", Learned(examples[0]));
        Assert.Equal("hello<|im_end|>\n", Learned(examples[1]));
        Assert.Equal("all of it", Learned(examples[2]));
        Assert.Equal("3", Learned(examples[3]));
        // Text and completions end with the learned EOS; a chat ends as its template ends it (no EOS appended, no BOS added).
        Assert.All(examples.Where((_, i) => i != 1), e => Assert.Equal(eos, e.Labels[^1]));
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n", Tokenizer.Decode(examples[1].InputIds, skipSpecialTokens: false));
        Assert.Equal("### Instruction:\nAdd\n\n### Input:\n1 2\n\n### Response:\n3", Tokenizer.Decode(examples[3].InputIds.Where(i => i != eos)));
        Assert.Equal(0, report.Truncated);
    }

    [Fact]
    public void Long_examples_are_truncated_and_counted()
    {
        var path = Write("{\"text\": \"" + string.Concat(Enumerable.Repeat("word ", 50)) + "\"}", "{\"text\": \"short\"}");
        var (examples, report) = new ExampleEncoder(Tokenizer, ChatTemplate.ChatMl, 16).EncodeAll(JsonlDataset.Read(path));
        Assert.Equal(1, report.Truncated);
        Assert.Equal(16, examples[0].Length);
        Assert.True(report.LongestTokens > 16);
        Assert.Equal(2, examples.Count);
    }

    [Fact]
    public void Packing_fills_sequences_and_keeps_masks()
    {
        var examples = Enumerable.Range(0, 10).Select(i => new TokenizedExample([i, i, i], [-100, i, i], $"x:{i}")).ToList();
        var packed = ExampleEncoder.Pack(examples, 8);
        Assert.Equal([8, 8, 8, 6], packed.Select(p => p.Length));
        Assert.Equal(examples.SelectMany(e => e.Labels), packed.SelectMany(p => p.Labels));
    }

    [Fact]
    public void Batch_plan_is_a_seeded_permutation_per_epoch()
    {
        var plan = new BatchPlan(10, 3, 2, seed: 7);
        var epoch = Enumerable.Range(0, 2).SelectMany(s => plan.MicroBatches(s)).SelectMany(b => b).ToList();
        Assert.Equal(Enumerable.Range(0, 10), epoch.Order());
        Assert.Equal(epoch, Enumerable.Range(0, 2).SelectMany(s => new BatchPlan(10, 3, 2, seed: 7).MicroBatches(s)).SelectMany(b => b));
        Assert.NotEqual(epoch, Enumerable.Range(0, 2).SelectMany(s => new BatchPlan(10, 3, 2, seed: 8).MicroBatches(s)).SelectMany(b => b));
    }
}
