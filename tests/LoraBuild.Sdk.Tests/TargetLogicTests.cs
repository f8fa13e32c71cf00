using System.IO.Compression;

namespace LoraBuild.Sdk.Tests;

/// <summary>The SDK's targets with the fake worker: incrementality, gates, bad metadata, packing.</summary>
public class TargetLogicTests
{
    const string Adapter = """
          <ItemGroup>
            <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" EvalDataset="data/spell-eval.jsonl" Rank="8" Alpha="16" />
          </ItemGroup>
        """;

    [Fact]
    public void Unchanged_inputs_skip_the_worker_and_a_dataset_byte_retrains()
    {
        var project = new AdapterProject(Adapter);
        var first = project.Run("build");
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Equal(1, project.WorkerLaunches);
        Assert.Contains("speller: step 2/2 loss", first.Output);
        Assert.True(File.Exists(Path.Combine(project.Directory, "bin", "lora", "speller", "adapter_model.safetensors")));

        var second = project.Run("build");
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Equal(1, project.WorkerLaunches);
        Assert.Contains("LoraAdapter 'speller' is up to date", second.Output);

        // An unrelated file: still up to date.
        File.WriteAllText(Path.Combine(project.Directory, "data", "notes.txt"), "unrelated");
        Assert.Equal(0, project.Run("build").ExitCode);
        Assert.Equal(1, project.WorkerLaunches);

        // One byte of the dataset: retrain.
        File.AppendAllText(Path.Combine(project.Directory, "data", "spell-train.jsonl"), " ");
        Assert.Equal(0, project.Run("build").ExitCode);
        Assert.Equal(2, project.WorkerLaunches);

        // A hyperparameter: retrain.
        File.WriteAllText(project.ProjectFile, File.ReadAllText(project.ProjectFile).Replace("Rank=\"8\"", "Rank=\"16\""));
        Assert.Equal(0, project.Run("build").ExitCode);
        Assert.Equal(3, project.WorkerLaunches);
        Assert.Contains("--set r=16", File.ReadAllLines(project.WorkerLog)[^1]);

        // Clean removes the outputs; the next build trains again.
        Assert.Equal(0, project.Run("clean").ExitCode);
        Assert.False(Directory.Exists(Path.Combine(project.Directory, "bin", "lora")));
        Assert.False(Directory.Exists(Path.Combine(project.Directory, "obj", "lorabuild")));
    }

    [Fact]
    public void Failed_gate_fails_the_build_and_produces_no_package()
    {
        var project = new AdapterProject(Adapter + """
              <ItemGroup>
                <LoraEvalGate Include="speller" Metric="exact_match" Min="0.9" />
                <LoraEvalGate Include="speller" Metric="eval_loss" MinImprovementOverBase="1.0" />
              </ItemGroup>
            """);
        project.Environment["FAKE_WORKER_EXACT_MATCH"] = "0.5";
        var pack = project.Run("pack", "-o", "packages");
        Assert.NotEqual(0, pack.ExitCode);
        Assert.Matches(@"Adapters\.csproj\(\d+\): error LB0210: Evaluation gate failed: adapter 'speller' exact_match = 0\.5 \(base model 0\): below Min 0\.9", pack.Output);
        Assert.Contains("gate speller eval_loss = 0.5 (base 3), improvement over base >= 1: passed", pack.Output);
        Assert.False(Directory.Exists(Path.Combine(project.Directory, "packages")) && Directory.GetFiles(Path.Combine(project.Directory, "packages"), "*.nupkg").Length > 0);
    }

    [Theory]
    [InlineData("Rank=\"abc\"", "Rank=\"abc\" is not a non-negative integer")]
    [InlineData("Quantization=\"nf5\"", "Quantization=\"nf5\" is not one of none, nf4, int8")]
    [InlineData("UseDora=\"maybe\"", "UseDora=\"maybe\" is not true or false")]
    public void Bad_metadata_names_item_metadata_and_line(string metadata, string message)
    {
        var project = new AdapterProject($"""
              <ItemGroup>
                <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" {metadata} />
              </ItemGroup>
            """);
        var build = project.Run("build");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains($"Adapters.csproj({project.LineOf("<LoraAdapter")}): error LB0201: LoraAdapter 'speller': {message}", build.Output);
        Assert.Equal(0, project.WorkerLaunches);
    }

    [Theory]
    [InlineData("BaseModel=\"models/base\"", "needs Dataset")]
    [InlineData("Dataset=\"data/spell-train.jsonl\"", "needs BaseModel")]
    public void Missing_base_model_or_dataset_is_an_error(string metadata, string message)
    {
        var project = new AdapterProject($"""
              <ItemGroup>
                <LoraAdapter Include="speller" {metadata} />
              </ItemGroup>
            """);
        var build = project.Run("build");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains($"Adapters.csproj({project.LineOf("<LoraAdapter")}): error LB0202: LoraAdapter 'speller' {message}", build.Output);
    }

    [Fact]
    public void Worker_errors_become_coded_build_errors_with_the_dataset_line()
    {
        var project = new AdapterProject(Adapter);
        project.Environment["FAKE_WORKER_FAIL"] = "/data/train.jsonl(17): error LB0101: not valid JSON.";
        var build = project.Run("build");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("/data/train.jsonl(17): error LB0101: not valid JSON.", build.Output);
        Assert.False(File.Exists(Path.Combine(project.Directory, "obj", "lorabuild", "speller", "lorabuild.fingerprint")));
    }

    [Fact]
    public void Pack_ships_the_adapter_model_card_and_consumer_props()
    {
        var project = new AdapterProject(Adapter);
        var pack = project.Run("pack", "-o", "packages");
        Assert.True(pack.ExitCode == 0, pack.Output);
        var nupkg = Path.Combine(project.Directory, "packages", "Contoso.Adapters.2.1.0.nupkg");
        using var archive = ZipFile.OpenRead(nupkg);
        var files = archive.Entries.Select(e => e.FullName).Where(n => !n.StartsWith("package/") && !n.StartsWith("_rels/") && n != "[Content_Types].xml").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(
        [
            "Contoso.Adapters.nuspec",
            "README.md",
            "buildTransitive/Contoso.Adapters.props",
            "lora/speller/adapter_config.json",
            "lora/speller/adapter_model.safetensors",
            "lora/speller/lorabuild.fingerprint",
            "lora/speller/lorabuild.json",
            "lora/speller/loss_curve.png",
            "lora/speller/loss_curve.svg",
            "lora/speller/metrics.json",
        ], files);
        string Read(string name) { using var reader = new StreamReader(archive.GetEntry(name)!.Open()); return reader.ReadToEnd(); }
        var card = Read("README.md");
        Assert.Contains("## Adapter `speller`", card);
        Assert.Contains("| base model sha256 | `fakebasehash` |", card);
        Assert.Contains("| exact_match | 0.95 | 0 |", card);
        // nuget.org shows no relative image: without LoraBuildCardImageBaseUrl the card has the curve as a table.
        Assert.DoesNotContain("![", card);
        Assert.Contains("| step | training loss | eval loss |", card);
        Assert.Contains("| 2 | 1 |", card);
        Assert.Contains("`lora/speller/loss_curve.png`", card);
        var props = Read("buildTransitive/Contoso.Adapters.props");
        Assert.Contains("<LoraAdapterReference Include=\"speller\"", props);
        Assert.Contains("BaseModelSha256=\"fakebasehash\"", props);
        var nuspec = Read("Contoso.Adapters.nuspec");
        Assert.Contains("<readme>README.md</readme>", nuspec);
        Assert.DoesNotContain("<dependencies>", nuspec);
    }

    [Fact]
    public void A_package_in_the_cache_feed_with_the_same_fingerprint_replaces_training_and_pushes_skip_duplicates()
    {
        var feed = Path.Combine(Path.GetTempPath(), "lorabuild-sdk-tests", "feed-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(feed);
        var producer = new AdapterProject(Adapter, properties: $"<LoraBuildPushFeed>{feed}</LoraBuildPushFeed>");
        var pack = producer.Run("pack", "-o", "packages");
        Assert.True(pack.ExitCode == 0, pack.Output);
        Assert.Contains("Pushed Contoso.Adapters.2.1.0.nupkg", pack.Output);
        Assert.Equal(1, producer.WorkerLaunches);
        // Pushing the same version again is skipped, not an error.
        var again = producer.Run("pack", "-o", "packages");
        Assert.True(again.ExitCode == 0, again.Output);

        // Same inputs in another checkout: restored from the cache feed, the worker never runs.
        var consumer = new AdapterProject(Adapter, properties: $"<LoraBuildCacheFeed>{feed}</LoraBuildCacheFeed>");
        var build = consumer.Run("build");
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.Contains("LoraAdapter 'speller' restored from cache: Contoso.Adapters 2.1.0", build.Output);
        Assert.Equal(0, consumer.WorkerLaunches);
        Assert.True(File.Exists(Path.Combine(consumer.Directory, "bin", "lora", "speller", "adapter_model.safetensors")));
        // And it is now up to date locally.
        Assert.Contains("is up to date", consumer.Run("build").Output);

        // Different inputs: the cached package does not match, training runs.
        var changed = new AdapterProject(Adapter.Replace("Rank=\"8\"", "Rank=\"4\""), properties: $"<LoraBuildCacheFeed>{feed}</LoraBuildCacheFeed>");
        Assert.Equal(0, changed.Run("build").ExitCode);
        Assert.Equal(1, changed.WorkerLaunches);
    }

    [Fact]
    public void A_cache_feed_restore_never_replaces_a_run_folder_another_build_is_writing()
    {
        var feed = Path.Combine(Path.GetTempPath(), "lorabuild-sdk-tests", "feed-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(feed);
        var producer = new AdapterProject(Adapter, properties: $"<LoraBuildPushFeed>{feed}</LoraBuildPushFeed>");
        Assert.Equal(0, producer.Run("pack", "-o", "packages").ExitCode);

        // Another build is training this adapter in the consumer's checkout: it holds the run folder's lock.
        var consumer = new AdapterProject(Adapter, properties: $"<LoraBuildCacheFeed>{feed}</LoraBuildCacheFeed>");
        var run = Path.Combine(consumer.Directory, "obj", "lorabuild", "speller", "run");
        Directory.CreateDirectory(run);
        var inProgress = Path.Combine(run, "in-progress.txt");
        File.WriteAllText(inProgress, "a checkpoint being written");
        using (var held = new FileStream(Path.Combine(run, "lorabuild.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            File.WriteAllText(Path.Combine(run, "lorabuild.lock.owner"), "pid 4242 on the other build");
            var build = consumer.Run("build");
            Assert.NotEqual(0, build.ExitCode);
            Assert.Contains("error LB0136: LoraAdapter 'speller': a matching package is in the cache feed, but another build is writing", build.Output);
            Assert.Contains("pid 4242 on the other build", build.Output);
            Assert.True(File.Exists(inProgress), "the other build's files were deleted");
        }
        // Once it has finished, the restore goes ahead.
        var after = consumer.Run("build");
        Assert.True(after.ExitCode == 0, after.Output);
        Assert.Contains("LoraAdapter 'speller' restored from cache", after.Output);
    }

    [Fact]
    public void A_corrupt_run_file_under_a_matching_stamp_fails_pack_with_coded_errors_naming_each_file()
    {
        var project = new AdapterProject(Adapter);
        Assert.Equal(0, project.Run("build").ExitCode);
        var run = Path.Combine(project.Directory, "obj", "lorabuild", "speller", "run");
        var manifest = Path.Combine(run, "adapter", "lorabuild.json");
        File.WriteAllText(manifest, "{\n  \"quantization\": \"none\",\n  \"base_model_sha256\": ");
        var metrics = Path.Combine(run, "metrics.json");
        File.WriteAllText(metrics, "{\"steps\": 2}");
        var pack = project.Run("pack", "-o", "packages");
        Assert.NotEqual(0, pack.ExitCode);
        Assert.DoesNotContain("MSB4018", pack.Output);
        Assert.Contains($"{manifest}(3): error LB0133: lorabuild.json is not valid JSON", pack.Output);
        Assert.Contains("metrics.json lacks \"final_train_loss\"", pack.Output);
        Assert.Contains("metrics.json lacks \"trainable_parameters\"", pack.Output);
        Assert.False(Directory.Exists(Path.Combine(project.Directory, "packages")) && Directory.GetFiles(Path.Combine(project.Directory, "packages"), "*.nupkg").Length > 0);
    }

    [Fact]
    public void Matrix_target_lists_the_adapters_as_json()
    {
        var project = new AdapterProject("""
              <ItemGroup>
                <LoraAdapter Include="a" BaseModel="models/base" Dataset="data/spell-train.jsonl" />
                <LoraAdapter Include="b" BaseModel="models/base" Dataset="data/spell-train.jsonl" />
              </ItemGroup>
            """);
        var matrixFile = Path.Combine(project.Directory, "matrix.json");
        var result = project.Run("msbuild", "-t:LoraBuildMatrix", $"-p:LoraBuildMatrixFile={matrixFile}");
        Assert.True(result.ExitCode == 0, result.Output);
        using var matrix = System.Text.Json.JsonDocument.Parse(File.ReadAllText(matrixFile));
        var entries = matrix.RootElement.GetProperty("include").EnumerateArray().ToList();
        Assert.Equal(["a", "b"], entries.Select(e => e.GetProperty("adapter").GetString()));
        // Relative to the folder msbuild ran in (the repository root in CI), never this machine's absolute path.
        Assert.All(entries, e => Assert.Equal("Adapters.csproj", e.GetProperty("project").GetString()));
        Assert.All(entries, e => Assert.Equal(".", e.GetProperty("directory").GetString()));
        var fromParent = project.Run("msbuild", "-t:LoraBuildMatrix", $"-p:LoraBuildMatrixFile={matrixFile}",
            $"-p:LoraBuildMatrixRoot={Path.GetDirectoryName(project.Directory)}");
        Assert.True(fromParent.ExitCode == 0, fromParent.Output);
        using var rooted = System.Text.Json.JsonDocument.Parse(File.ReadAllText(matrixFile));
        Assert.All(rooted.RootElement.GetProperty("include").EnumerateArray(),
            e => Assert.Equal(Path.GetFileName(project.Directory) + "/Adapters.csproj", e.GetProperty("project").GetString()));
        Assert.All(rooted.RootElement.GetProperty("include").EnumerateArray(),
            e => Assert.Equal(Path.GetFileName(project.Directory), e.GetProperty("directory").GetString()));

        // One job per adapter: LoraBuildOnly builds just that one.
        var only = project.Run("build", "-p:LoraBuildOnly=b");
        Assert.True(only.ExitCode == 0, only.Output);
        Assert.Equal(1, project.WorkerLaunches);
        Assert.Contains("--out " + Path.Combine(project.Directory, "obj", "lorabuild", "b", "run"), File.ReadAllText(project.WorkerLog));
    }

    [Fact]
    public void Merge_true_also_produces_the_merged_model_folder()
    {
        var project = new AdapterProject(Adapter.Replace("Alpha=\"16\"", "Alpha=\"16\" Merge=\"true\""));
        var build = project.Run("build");
        Assert.True(build.ExitCode == 0, build.Output);
        var calls = File.ReadAllLines(project.WorkerLog);
        Assert.Equal(2, calls.Length);
        Assert.StartsWith("train ", calls[0]);
        Assert.StartsWith("merge --model ", calls[1]);
        Assert.True(File.Exists(Path.Combine(project.Directory, "bin", "lora", "speller-merged", "config.json")));
        Assert.True(File.Exists(Path.Combine(project.Directory, "bin", "lora", "speller", "adapter_model.safetensors")));
        Assert.Contains("is up to date", project.Run("build").Output);
        Assert.Equal(2, project.WorkerLaunches);
    }
}
