using Microsoft.Extensions.AI;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Runtime;
using LoraBuild.Tests;

namespace LoraBuild.Cli.Tests;

/// <summary>What a consuming app sees: adapters over one base, switched per request, and a refused base mismatch.</summary>
public class RuntimeTests
{
    static readonly Lazy<string> Trained = new(() =>
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "speller");
        var (result, _) = Examples.Train("spell-lora.yaml", output, "max_steps=400", "save_steps=0", "eval_dataset=");
        Assert.True(result.ExitCode == 0, result.StdErr + result.StdOut);
        return Path.Combine(output, "adapter");
    });

    [Fact]
    public void Adapters_switch_per_request_over_one_base()
    {
        var app = TestPaths.TempDirectory();
        CopyDirectory(Trained.Value, Path.Combine(app, "lora", "speller"));
        // A folder without adapter_config.json is not an adapter.
        Directory.CreateDirectory(Path.Combine(app, "lora", "notes"));

        var discovered = AdapterHost.DiscoverAdapters(app);
        Assert.Equal(["speller"], discovered.Select(a => a.Name));
        using var host = AdapterHost.Load(Examples.Digits("base"), [.. discovered, new AdapterSource("again", Trained.Value)]);
        Assert.Equal(" four zero seven", host.Generate("speller", "spell 4 0 7:"));
        Assert.NotEqual(" four zero seven", host.Generate(AdapterHost.BaseOnly, "spell 4 0 7:", new(MaxNewTokens: 8)));
        Assert.Equal(" four zero seven", host.Generate("again", "spell 4 0 7:"));
        Assert.Equal("LB0301", Assert.Throws<LoraBuildException>(() => host.Generate("nope", "x")).Code);
    }

    /// <summary>What examples/HelloConsumer does: the IChatClient with raw prompts (the speller learned no chat template),
    /// base and adapter requests batched together, gives what the one-request Generate gives.</summary>
    [Fact]
    public async Task The_chat_client_with_raw_prompts_spells_as_Generate_does_with_requests_batched()
    {
        using var host = AdapterHost.Load(Examples.Digits("base"), [new AdapterSource("speller", Trained.Value)]);
        using Microsoft.Extensions.AI.IChatClient chat = new LoraBuild.Runtime.Chat.LoraBuildChatClient(host,
            new() { PromptFormat = LoraBuild.Runtime.Chat.PromptFormat.Raw, DefaultModelId = "speller" });
        string[] prompts = ["spell 4 0 7:", "spell 9 9 1 2:", "spell 3 1:"];
        var spelled = prompts.Select(p => chat.GetResponseAsync(p, new Microsoft.Extensions.AI.ChatOptions { MaxOutputTokens = 64 })).ToList();
        var based = prompts.Select(p => chat.GetResponseAsync(p, new Microsoft.Extensions.AI.ChatOptions { ModelId = AdapterHost.BaseOnly, MaxOutputTokens = 12 })).ToList();
        Assert.Equal(" four zero seven", (await spelled[0]).Text); // (this 400-step speller still misspells 9 9 1 2; the main job's 800-step one does not)
        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(host.Generate("speller", prompts[i]), (await spelled[i]).Text);
            Assert.Equal(host.Generate(AdapterHost.BaseOnly, prompts[i], new(MaxNewTokens: 12)), (await based[i]).Text);
        }
    }

    [Fact]
    public void An_adapter_for_another_base_is_refused_unless_told_otherwise()
    {
        var otherBase = TestPaths.Hf("llama");
        var e = Assert.Throws<LoraBuildException>(() => AdapterHost.Load(otherBase, [new AdapterSource("speller", Trained.Value)]));
        Assert.Equal("LB0300", e.Code);
        Assert.Contains("was trained on a base model with sha256", e.Message);
        // Told to ignore the hash, loading goes on and fails on the shapes instead: the hash check came first.
        var shapes = Assert.Throws<LoraBuildException>(() =>
            AdapterHost.Load(otherBase, [new AdapterSource("speller", Trained.Value)], new HostOptions(IgnoreBaseModelMismatch: true)));
        Assert.Equal(ErrorCodes.AdapterShapeMismatch, shapes.Code);
    }

    /// <summary>A few steps only: the provenance and hash checks need a real adapter folder, not a good one.</summary>
    static readonly Lazy<string> QuickAdapter = new(() =>
    {
        var output = Path.Combine(TestPaths.TempDirectory(), "quick");
        var (result, _) = Examples.Train("spell-lora.yaml", output, "max_steps=4", "save_steps=0", "eval_dataset=");
        Assert.True(result.ExitCode == 0, result.StdErr + result.StdOut);
        return Path.Combine(output, "adapter");
    });

    [Fact]
    public void An_adapter_without_provenance_is_refused_unless_the_caller_accepts_it()
    {
        var adapter = Path.Combine(TestPaths.TempDirectory(), "speller");
        CopyDirectory(QuickAdapter.Value, adapter);
        var manifest = Path.Combine(adapter, "lorabuild.json");
        File.Delete(manifest);
        var e = Assert.Throws<LoraBuildException>(() => AdapterHost.Load(Examples.Digits("base"), [new AdapterSource("speller", adapter)]));
        Assert.Equal(ErrorCodes.AdapterWithoutProvenance, e.Code);
        Assert.Equal(manifest, e.File);
        using (var host = AdapterHost.Load(Examples.Digits("base"), [new AdapterSource("speller", adapter)], new HostOptions(AcceptAdapterWithoutProvenance: true)))
            Assert.Equal(["speller"], host.Adapters);

        File.WriteAllText(manifest, "null");
        Assert.Equal(ErrorCodes.AdapterManifestInvalid,
            Assert.Throws<LoraBuildException>(() => AdapterHost.Load(Examples.Digits("base"), [new AdapterSource("speller", adapter)])).Code);
    }

    [Fact]
    public void Verifying_the_base_by_content_catches_a_same_size_rewrite_that_kept_its_mtime()
    {
        var baseCopy = Path.Combine(TestPaths.TempDirectory(), "base");
        CopyDirectory(Examples.Digits("base"), baseCopy);
        var source = new AdapterSource("speller", QuickAdapter.Value);
        using (AdapterHost.Load(baseCopy, [source])) { } // hashes the copy into the size+mtime cache
        using (AdapterHost.Load(baseCopy, [source], new HostOptions(VerifyBaseByContent: true))) { }

        // The last weight byte changed, size and modification time kept: the size+mtime cache cannot see it.
        var weights = Path.Combine(baseCopy, "model.safetensors");
        var mtime = File.GetLastWriteTimeUtc(weights);
        using (var stream = new FileStream(weights, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Seek(-1, SeekOrigin.End);
            var last = stream.ReadByte();
            stream.Seek(-1, SeekOrigin.End);
            stream.WriteByte((byte)(last ^ 0x01)); // the lowest exponent bit: the weight stays finite (a NaN is refused while loading, LB0022)
        }
        File.SetLastWriteTimeUtc(weights, mtime);
        using (AdapterHost.Load(baseCopy, [source])) { } // the fast path trusts the cache, by design
        var e = Assert.Throws<LoraBuildException>(() => AdapterHost.Load(baseCopy, [source], new HostOptions(VerifyBaseByContent: true)));
        Assert.Equal("LB0300", e.Code);
    }

    [Fact]
    public void Loading_from_a_missing_folder_is_a_coded_error()
    {
        var nowhere = Path.Combine(TestPaths.TempDirectory(), "nowhere");
        Assert.Equal(ErrorCodes.ConfigMissing, Assert.Throws<LoraBuildException>(() => AdapterHost.Load(nowhere, [])).Code);
        Assert.Equal(ErrorCodes.AdapterConfigMissing,
            Assert.Throws<LoraBuildException>(() => AdapterHost.Load(Examples.Digits("base"), [new AdapterSource("x", nowhere)])).Code);
    }

    static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
    }
}
