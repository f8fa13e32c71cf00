using LoraBuild.Training;

namespace LoraBuild.Tests;

/// <summary>The facts LoraBuild.Contracts writes once must agree with the layers that act on them.</summary>
public class ContractsTests
{
    [Fact]
    public void Every_adapter_item_setting_is_a_key_the_worker_knows()
    {
        var keys = TrainingConfig.Keys.Select(k => k.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = AdapterItemSettings.All.Where(s => !keys.Contains(s.WorkerKey)).Select(s => $"{s.Metadata} -> {s.WorkerKey}").ToList();
        Assert.Empty(unknown);
        Assert.Equal(AdapterItemSettings.All.Count, AdapterItemSettings.All.Select(s => s.Metadata).Distinct().Count());
    }

    [Fact]
    public void Choice_settings_offer_what_the_worker_accepts()
    {
        foreach (var setting in AdapterItemSettings.All.Where(s => s.Kind == AdapterItemSettings.Kind.Choice))
            foreach (var choice in setting.Choices)
            {
                var config = new TrainingConfig();
                var key = TrainingConfig.Keys.Single(k => k.Name == setting.WorkerKey);
                key.Set(config, new TrainingConfig.Value(choice, null, null, "test", 0));
                Assert.Equal(choice, key.Get(config)?.ToString());
            }
    }

    [Fact]
    public void Package_versions_are_the_ones_restored()
    {
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(TestPaths.RepoRoot, "Directory.Packages.props"));
        string Property(string name) => props.Descendants(name).Single().Value;
        Assert.Equal(Property("TorchSharpVersion"), PackageVersions.TorchSharp);
        Assert.Equal(Property("LibTorchVersion"), PackageVersions.LibTorch);
        Assert.Equal(PackageVersions.TorchSharp, typeof(TorchSharp.torch).Assembly.GetName().Version!.ToString(3));
    }

    [Fact]
    public void Export_settings_offer_what_export_gguf_accepts()
    {
        var outType = AdapterItemSettings.Export.Single(s => s.Metadata == "ExportType");
        Assert.Equal(LoraBuild.Export.Gguf.GgufOutTypes.Names, outType.Choices);
        // Export settings are not training keys: they must never reach train's --set (nor the fingerprint).
        var keys = TrainingConfig.Keys.Select(k => k.Name).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(AdapterItemSettings.Export, s => keys.Contains(s.WorkerKey));
        Assert.Empty(AdapterItemSettings.Export.Select(s => s.Metadata).Intersect(AdapterItemSettings.All.Select(s => s.Metadata)));
    }
}
