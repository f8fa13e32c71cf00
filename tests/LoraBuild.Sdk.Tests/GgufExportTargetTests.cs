using System.IO.Compression;

namespace LoraBuild.Sdk.Tests;

/// <summary>&lt;LoraAdapter Export="gguf" /&gt; with the fake worker: the export after training, what ships, incrementality, the worker's coded errors.</summary>
public class GgufExportTargetTests
{
    static string Adapter(string extra) => $"""
          <ItemGroup>
            <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" Rank="8" {extra} />
          </ItemGroup>
        """;

    [Fact]
    public void Export_gguf_runs_after_training_ships_adapter_gguf_and_modelfile_and_is_not_repeated()
    {
        var project = new AdapterProject(Adapter("Export=\"gguf\" ExportType=\"q8_0\""));
        var pack = project.Run("pack", "-o", "packages");
        Assert.True(pack.ExitCode == 0, pack.Output);
        var launches = File.ReadAllLines(project.WorkerLog);
        Assert.Equal(2, launches.Length);
        Assert.StartsWith("train ", launches[0]);
        var work = Path.Combine(project.Directory, "obj", "lorabuild", "speller");
        Assert.Equal($"export gguf --model {Path.Combine(project.Directory, "models", "base")} --adapter {Path.Combine(work, "run", "adapter")} "
                     + $"--out {Path.Combine(work, "gguf", "adapter.gguf")} --outtype q8_0 --modelfile {Path.Combine(work, "gguf", "Modelfile")}", launches[1]);
        var output = Path.Combine(project.Directory, "bin", "lora", "speller");
        Assert.Equal("GGUF"u8.ToArray(), File.ReadAllBytes(Path.Combine(output, "adapter.gguf"))[..4]);
        Assert.Equal("FROM ./base.gguf\nADAPTER ./adapter.gguf\n", File.ReadAllText(Path.Combine(output, "Modelfile")));

        using (var archive = ZipFile.OpenRead(Path.Combine(project.Directory, "packages", "Contoso.Adapters.2.1.0.nupkg")))
        {
            var files = archive.Entries.Select(e => e.FullName).Where(n => n.StartsWith("lora/speller/")).ToList();
            Assert.Contains("lora/speller/adapter.gguf", files);
            Assert.Contains("lora/speller/Modelfile", files);
            Assert.Contains("lora/speller/adapter_model.safetensors", files);
            using var reader = new StreamReader(archive.GetEntry("lora/speller/Modelfile")!.Open());
            Assert.Equal("ADAPTER ./adapter.gguf", reader.ReadToEnd().Split('\n')[1]);
        }

        // Nothing changed: neither training nor export runs again.
        var second = project.Run("build");
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Equal(2, project.WorkerLaunches);

        // The GGUF gone (and only it): the export alone runs again.
        File.Delete(Path.Combine(work, "gguf", "adapter.gguf"));
        Assert.Equal(0, project.Run("build").ExitCode);
        Assert.Equal(3, project.WorkerLaunches);
        Assert.StartsWith("export gguf ", File.ReadAllLines(project.WorkerLog)[^1]);

        // Retraining (a dataset byte) exports again after it.
        File.AppendAllText(Path.Combine(project.Directory, "data", "spell-train.jsonl"), " ");
        Assert.Equal(0, project.Run("build").ExitCode);
        Assert.Equal(["train", "export"], File.ReadAllLines(project.WorkerLog)[^2..].Select(l => l.Split(' ')[0]));
    }

    [Fact]
    public void Export_merged_writes_the_merged_gguf_to_the_output_but_not_into_the_package()
    {
        var project = new AdapterProject(Adapter("Export=\"gguf\" ExportMerged=\"true\""));
        var pack = project.Run("pack", "-o", "packages");
        Assert.True(pack.ExitCode == 0, pack.Output);
        var export = File.ReadAllLines(project.WorkerLog)[^1];
        Assert.Contains(" --merge ", export);
        Assert.Contains(Path.Combine("gguf", "merged.gguf"), export);
        var output = Path.Combine(project.Directory, "bin", "lora", "speller");
        Assert.Equal((byte)'M', File.ReadAllBytes(Path.Combine(output, "merged.gguf"))[^1]);
        Assert.Equal("FROM ./merged.gguf\n", File.ReadAllText(Path.Combine(output, "Modelfile")));
        using var archive = ZipFile.OpenRead(Path.Combine(project.Directory, "packages", "Contoso.Adapters.2.1.0.nupkg"));
        Assert.DoesNotContain(archive.Entries, e => e.FullName.EndsWith(".gguf") || e.FullName.EndsWith("Modelfile"));
    }

    [Fact]
    public void An_adapter_only_export_of_a_dora_adapter_is_the_workers_coded_error_at_the_item_line()
    {
        var project = new AdapterProject(Adapter("UseDora=\"true\" Export=\"gguf\""));
        var build = project.Run("build");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Matches($@"Adapters\.csproj\({project.LineOf("<LoraAdapter")}\): error LB0604: LoraAdapter 'speller': GGUF export: a DoRA adapter has no GGUF adapter form .*; export it merged: add --merge\. \(.*adapter_config\.json\) In the project: ExportMerged=""true""\.", build.Output);
        Assert.False(File.Exists(Path.Combine(project.Directory, "obj", "lorabuild", "speller", "gguf", "adapter.gguf")));
        Assert.False(File.Exists(Path.Combine(project.Directory, "bin", "lora", "speller", "Modelfile")));
    }

    [Fact]
    public void A_bad_export_type_is_a_metadata_error_at_the_item_line()
    {
        var project = new AdapterProject(Adapter("Export=\"gguf\" ExportType=\"q4_k\""));
        var build = project.Run("build");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains($"Adapters.csproj({project.LineOf("<LoraAdapter")}): error LB0201: LoraAdapter 'speller': ExportType=\"q4_k\" is not one of f32, f16, bf16, q8_0.", build.Output);
        Assert.Equal(0, project.WorkerLaunches);
    }
}
