using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LoraBuild.Tests;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace LoraBuild.Cli.Tests;

/// <summary>
/// Axolotl's own example configs (tests/fixtures/axolotl-examples, unchanged) train as they are, their base_model and
/// dataset ids served by the Hub emulator: a tiny fixture model of the config's family under its base_model id, and a
/// small dataset in the type's real shape (alpaca columns; ShareGPT conversations with from/value) as Parquet under its
/// dataset id, in the repository's data/ folder or only on the refs/convert/parquet branch. Only max_steps and the
/// sizes are overridden. The run pins both in lora.lock.json; a second run reads the HF cache and makes no request.
/// </summary>
public class HubAxolotlExamplesTests
{
    public enum Layout { DataFolder, ConvertedBranch }

    [Theory]
    [InlineData("tiny-llama--qlora.yml", "llama", Layout.DataFolder)]
    [InlineData("qwen3--32b-qlora.yaml", "qwen3", Layout.DataFolder)]
    [InlineData("gemma3--gemma-3-1b-qlora.yml", "gemma3", Layout.ConvertedBranch)]
    public async Task Example_config_trains_against_the_hub_and_pins_its_inputs(string example, string family, Layout layout)
    {
        TestPaths.EnsureTorch();
        var root = TestPaths.TempDirectory();
        try
        {
            await using var hub = await HubEmulator.HubEmulator.StartAsync();
            var text = File.ReadAllText(Path.Combine(TestPaths.Fixtures, "axolotl-examples", example));
            var modelId = Regex.Match(text, @"^base_model:\s*(\S+)", RegexOptions.Multiline).Groups[1].Value;
            var datasetId = Regex.Match(text, @"^\s*- path:\s*(\S+)", RegexOptions.Multiline).Groups[1].Value;
            var chat = text.Contains("type: chat_template");

            // The model repo: the fixture's files (and a ChatML template for the chat configs: the fixtures have none).
            var modelRepo = Path.Combine(root, "model-repo");
            Directory.CreateDirectory(modelRepo);
            foreach (var name in new[] { "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json" })
                File.Copy(TestPaths.Hf(family, name), Path.Combine(modelRepo, name));
            if (chat) File.WriteAllText(Path.Combine(modelRepo, "chat_template.jinja"), ChatModelFixture.ChatMl);
            File.WriteAllText(Path.Combine(modelRepo, "README.md"), "# model card\n");
            var modelCommit = hub.AddModel(modelId, modelRepo);

            // The dataset repo, in the layout under test.
            var dataRepo = Path.Combine(root, "data-repo");
            var parquetPath = layout == Layout.DataFolder ? "data/train-00000-of-00001.parquet" : "default/train/0000.parquet";
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dataRepo, parquetPath))!);
            var rows = 10;
            if (chat) WriteConversations(Path.Combine(dataRepo, parquetPath), rows);
            else WriteAlpaca(Path.Combine(dataRepo, parquetPath), rows);
            string datasetCommit;
            if (layout == Layout.DataFolder)
            {
                File.WriteAllText(Path.Combine(dataRepo, "README.md"), "---\nlicense: mit\n---\n# a dataset\n");
                datasetCommit = hub.AddDataset(datasetId, dataRepo);
            }
            else
            {
                // main holds only a loading script (not read here); the Hub's conversion holds the Parquet.
                var scriptRepo = Path.Combine(root, "script-repo");
                Directory.CreateDirectory(scriptRepo);
                File.WriteAllText(Path.Combine(scriptRepo, "dataset.py"), "import datasets\n");
                hub.AddDataset(datasetId, scriptRepo);
                datasetCommit = hub.AddDataset(datasetId, dataRepo, "refs/convert/parquet");
            }

            var configDir = Path.Combine(root, "project");
            Directory.CreateDirectory(configDir);
            var config = Path.Combine(configDir, example);
            File.WriteAllText(config, text);
            var env = new Dictionary<string, string?>
            {
                ["HF_ENDPOINT"] = hub.HubUrl, ["HF_HUB_CACHE"] = Path.Combine(root, "hf-cache"), ["HF_TOKEN"] = null, ["HF_HOME"] = Path.Combine(root, "hf-home"),
                ["HF_HUB_OFFLINE"] = null, ["LORABUILD_CACHE_DIR"] = Path.Combine(root, "lorabuild-cache"),
            };
            Worker.Result Train(string output) => Worker.RunWithEnvironment(env, "train", "--config", config, "--out", output, "--device", "cpu",
                "--set", "max_steps=2", "--set", "sequence_len=256", "--set", "micro_batch_size=1", "--set", "gradient_accumulation_steps=1",
                "--set", "val_set_size=0");

            var first = Train(Path.Combine(root, "out1"));
            Assert.True(first.ExitCode == 0, first.StdOut + first.StdErr);

            // The adapter, named by the Hub id; a finite loss.
            var adapterConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "out1", "adapter", "adapter_config.json")))!;
            Assert.Equal(modelId, adapterConfig["base_model_name_or_path"]!.GetValue<string>());
            Assert.True(new FileInfo(Path.Combine(root, "out1", "adapter", "adapter_model.safetensors")).Length > 0);
            var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "out1", "metrics.json")))!;
            var loss = metrics["final_train_loss"]!.GetValue<double>();
            Assert.True(double.IsFinite(loss) && loss > 0, $"loss {loss}");
            Assert.Equal(2, metrics["loss_curve"]!.AsArray().Count);

            // lora.lock.json beside the config: the emulator's commits and the data file's sha256.
            var lockJson = JsonNode.Parse(File.ReadAllText(Path.Combine(configDir, "lora.lock.json")))!;
            Assert.Equal(modelCommit, lockJson["models"]![modelId]!["commit"]!.GetValue<string>());
            var dataset = lockJson["datasets"]![datasetId]!;
            Assert.Equal(datasetCommit, dataset["commit"]!.GetValue<string>());
            Assert.Equal(layout == Layout.DataFolder ? "main" : "refs/convert/parquet", dataset["revision"]!.GetValue<string>());
            var sha256 = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dataRepo, parquetPath))));
            Assert.Equal(sha256, dataset["files"]![parquetPath]!["sha256"]!.GetValue<string>());
            // The run's fingerprint has the downloaded rows (a moved dataset is a new run, never a resume).
            var inputs = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "out1", "run.json")))!["inputs"]!.AsArray().Select(i => i!.GetValue<string>());
            Assert.Contains($"dataset={sha256}", inputs);
            // The cache is huggingface_hub's layout for a dataset repo.
            Assert.True(File.Exists(Path.Combine(root, "hf-cache", "datasets--" + datasetId.Replace("/", "--"), "snapshots", datasetCommit, parquetPath)));
            // Every row read through its type, or the split slice: qwen3's train[:20%] of 10 rows is 2 examples.
            Assert.Contains($"train data: {(text.Contains("train[:20%]") ? 2 : rows)} examples", first.StdOut);

            // A second run: the lock and the cache, no request to the Hub.
            var requests = hub.Requests.Count;
            var second = Train(Path.Combine(root, "out2"));
            Assert.True(second.ExitCode == 0, second.StdOut + second.StdErr);
            Assert.Equal(requests, hub.Requests.Count);
            Assert.Contains($"dataset {datasetId}", second.StdOut);
            Assert.Contains("= " + datasetCommit[..12], second.StdOut);
            Assert.True(File.Exists(Path.Combine(root, "out2", "adapter", "adapter_model.safetensors")));

            // check never downloads: it says what a run would fetch and that the lock and cache hold it.
            var check = Worker.RunWithEnvironment(env, "check", "--config", config);
            Assert.True(check.ExitCode == 0, check.StdOut + check.StdErr);
            Assert.Contains($"would fetch: model {modelId}: config.json, tokenizer files and *.safetensors: locked at {modelCommit[..12]}, in the HF cache: no download", check.StdOut);
            Assert.Contains($"would fetch: dataset {datasetId}", check.StdOut);
            Assert.Contains($"locked at {datasetCommit[..12]} (", check.StdOut);
            Assert.Contains("all in the HF cache: no download", check.StdOut);
            // ... and then reads the cached rows through the entry's type, as for a local dataset.
            Assert.Contains($"datasets: {datasetId} ({(chat ? "chat_template" : "alpaca")}): {(text.Contains("train[:20%]") ? 2 : rows)} examples", check.StdOut);
            Assert.Equal(requests, hub.Requests.Count);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Alpaca rows as the Hub's alpaca datasets have them: instruction, input (often empty), output.</summary>
    static void WriteAlpaca(string path, int rows)
    {
        var schema = new ParquetSchema(new DataField<string>("instruction"), new DataField<string>("input"), new DataField<string>("output"));
        var data = Enumerable.Range(0, rows).Select(i => (IDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["instruction"] = $"Add {i} and {i + 1}.", ["input"] = i % 2 == 0 ? "" : "Show the sum only.", ["output"] = $"{2 * i + 1}",
        }).ToList();
        using var stream = File.Create(path);
        ParquetSerializer.SerializeUntypedAsync(data, schema, stream).GetAwaiter().GetResult();
    }

    /// <summary>ShareGPT rows as FineTome / SlimOrca have them: conversations = [{from, value}], roles system/human/gpt.</summary>
    static void WriteConversations(string path, int rows)
    {
        var schema = new ParquetSchema(
            new ListField("conversations", new StructField("element", new DataField<string>("from"), new DataField<string>("value"))),
            new DataField<string>("source"));
        IDictionary<string, object> Turn(string from, string value) => new Dictionary<string, object> { ["from"] = from, ["value"] = value };
        var data = Enumerable.Range(0, rows).Select(i => (IDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["conversations"] = new List<IDictionary<string, object>> { Turn("system", "Be brief."), Turn("human", $"What is {i} plus {i}?"), Turn("gpt", $"{2 * i}.") },
            ["source"] = "test",
        }).ToList();
        using var stream = File.Create(path);
        ParquetSerializer.SerializeUntypedAsync(data, schema, stream).GetAwaiter().GetResult();
    }
}
