using LoraBuild.Adapters;
using LoraBuild.Runtime;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// The qwen3 fixture with a ChatML chat template beside it (the fixtures have none) and PEFT's LoRA and DoRA adapters
/// of it, loaded once per test class.
/// </summary>
public sealed class ChatModelFixture : IDisposable
{
    public const string ChatMl =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    public ChatModelFixture()
    {
        TestPaths.EnsureTorch();
        Root = TestPaths.TempDirectory();
        ModelDirectory = Path.Combine(Root, "model");
        Directory.CreateDirectory(ModelDirectory);
        foreach (var file in Directory.GetFiles(TestPaths.Hf("qwen3"))) File.Copy(file, Path.Combine(ModelDirectory, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(ModelDirectory, "chat_template.jinja"), ChatMl);
        Adapters = [new("lora", TestPaths.Hf("qwen3", "adapter-lora")), new("dora", TestPaths.Hf("qwen3", "adapter-dora"))];
        Host = AdapterHost.Load(ModelDirectory, Adapters, Options);
    }

    public static readonly HostOptions Options = new(Device: "cpu", AcceptAdapterWithoutProvenance: true);
    public string Root { get; }
    public string ModelDirectory { get; }
    public IReadOnlyList<AdapterSource> Adapters { get; }
    public AdapterHost Host { get; }

    /// <summary>What the model continues "user: text" with, by the one-request generator over the ChatML text written out
    /// by hand (the oracle for the chat client and the server).</summary>
    public string Expected(string adapter, string userText, int maxTokens)
    {
        var prompt = $"<|im_start|>user\n{userText}<|im_end|>\n<|im_start|>assistant\n";
        var ids = Host.GenerateIds(adapter, Host.Tokenizer.Encode(prompt, addSpecialTokens: false), new(MaxNewTokens: maxTokens));
        return Host.Tokenizer.Decode(ids);
    }

    public int PromptTokens(string userText) =>
        Host.Tokenizer.Encode($"<|im_start|>user\n{userText}<|im_end|>\n<|im_start|>assistant\n", addSpecialTokens: false).Count;

    public void Dispose()
    {
        Host.Dispose();
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }
}
