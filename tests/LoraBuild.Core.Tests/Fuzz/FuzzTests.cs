using System.Diagnostics;
using System.Text;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using LoraBuild.Training;
using LoraBuild.Training.Data;
using Xunit.Abstractions;

namespace LoraBuild.Tests.Fuzz;

/// <summary>
/// The input-format fuzz harness: a fixed seed and a fixed number of mutated inputs per format, each fed to the public
/// loader that reads that format. An input may be accepted or refused with a <see cref="LoraBuildException"/>; any
/// other exception, or one input running over 30 s, fails the test with the input that did it. Runs in the normal
/// suite (a few seconds on 2 cores). LORABUILD_FUZZ_SCALE=N multiplies the counts for a longer local run.
/// </summary>
public class FuzzTests(ITestOutputHelper output) : IDisposable
{
    const int Seed = 20261123;
    static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(30);
    static readonly int Scale = int.TryParse(Environment.GetEnvironmentVariable("LORABUILD_FUZZ_SCALE"), out var s) && s > 0 ? s : 1;

    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>What one format's run saw.</summary>
    sealed record Tally(string Format, int Inputs, int Accepted, int Coded, List<string> Failures);

    /// <summary>A format: how to make input i, and how to feed it to LoraBuild (a file path is passed in).</summary>
    sealed record Format(string Name, int Count, string FileName, Func<FormatFuzzer, byte[]> Make, Action<string> Load);

    static string Fixture(params string[] parts) => File.ReadAllText(TestPaths.Hf(parts));

    static IReadOnlyList<Format> Formats()
    {
        TestPaths.EnsureTorch();
        var safetensorsSeeds = new[]
        {
            File.ReadAllBytes(TestPaths.Hf("llama", "adapter-lora", "adapter_model.safetensors")),
            File.ReadAllBytes(TestPaths.Hf("qwen2", "adapter-dora", "adapter_model.safetensors")),
        };
        var configSeeds = TestPaths.Families.Select(f => Fixture(f, "config.json")).ToArray();
        var adapterSeeds = new[] { Fixture("llama", "adapter-lora", "adapter_config.json"), Fixture("qwen2", "adapter-dora", "adapter_config.json"),
            """{"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":"all-linear","rank_pattern":{"q_proj":4},"alpha_pattern":{"v_proj":8.0},"exclude_modules":["o_proj"]}""" };
        var manifestSeed = """{"quantization":"nf4","double_quant":true,"base_model_sha256":"ab12","fingerprint":"f","worker_version":"1.0.0"}""";
        var jsonlLines = File.ReadLines(Path.Combine(TestPaths.RepoRoot, "examples", "digits", "spell-train.jsonl")).Take(20).Concat(
        [
            """{"text": "all of it"}""",
            """{"instruction": "Add", "input": "1 2", "output": "3"}""",
            """{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}""",
        ]).ToArray();
        var yamlLines = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "examples", "digits", "spell-lora.yaml"))
            .Concat(["rank_pattern: {q_proj: 4}", "lora_dropout: 0.05", "num_epochs: 2", "adam_beta1: 0.9"]).ToArray();

        return
        [
            new("safetensors", 900, "model.safetensors", f => f.MutateSafeTensors(f.Pick(safetensorsSeeds)), path =>
            {
                using var file = SafeTensorsFile.Open(path);
                foreach (var name in file.Tensors.Keys) file.Read(name).Dispose();
            }),
            new("config.json", 500, "config.json", f => f.MutateJson(f.Pick(configSeeds)), path => ModelConfig.Load(Path.GetDirectoryName(path)!)),
            new("adapter_config.json", 400, "adapter_config.json", f => f.MutateJson(f.Pick(adapterSeeds)), path =>
            {
                var config = LoraConfig.Load(Path.GetDirectoryName(path)!);
                foreach (var module in new[] { "model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj", "lm_head" })
                {
                    config.Targets(module, module == "lm_head");
                    var (rank, alpha) = config.RankAndAlpha(module);
                    config.Scaling(rank, alpha);
                }
            }),
            new("lorabuild.json", 200, "lorabuild.json", f => f.MutateJson(manifestSeed), path => AdapterManifest.TryLoad(Path.GetDirectoryName(path)!)),
            new("jsonl", 400, "data.jsonl", f => f.MutateJsonl(jsonlLines), path => JsonlDataset.Read(path)),
            // Every one of these must be refused with LB0022: a non-finite weight never loads (accepted = failure).
            new("safetensors-nonfinite", 200, "model.safetensors", f => f.MutateNonFinite(f.Pick(safetensorsSeeds)), path =>
            {
                using var file = SafeTensorsFile.Open(path);
                var refused = Assert.Throws<LoraBuildException>(() => { foreach (var name in file.Tensors.Keys) file.Read(name).Dispose(); });
                Assert.Equal(ErrorCodes.SafeTensorsNonFinite, refused.Code);
                throw refused;
            }),
        ];
    }

    /// <summary>YAML goes through the public loader only (the loader itself belongs to the training-config work).</summary>
    static Format Yaml()
    {
        var yamlLines = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "examples", "digits", "spell-lora.yaml"))
            .Concat(["rank_pattern: {q_proj: 4}", "lora_dropout: 0.05", "num_epochs: 2", "adam_beta1: 0.9"]).ToArray();
        return new("yaml", 400, "adapter.yaml", f => f.MutateYaml(yamlLines), path => TrainingConfigLoader.Load(path).Validate(path));
    }

    Tally Run(Format format, int seed)
    {
        var fuzzer = new FormatFuzzer(seed);
        var folder = Path.Combine(dir, format.Name);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, format.FileName);
        int accepted = 0, coded = 0, count = format.Count * Scale;
        var failures = new List<string>();
        // The loop runs on its own thread so a hang is seen (and reported with its input) instead of stalling the suite.
        var current = -1;
        byte[] currentInput = [];
        var inputClock = new Stopwatch();
        var loop = new Thread(() =>
        {
            for (var i = 0; i < count; i++)
            {
                byte[] input;
                try
                {
                    input = format.Make(fuzzer);
                }
                catch (Exception e)
                {
                    failures.Add($"{format.Name} #{i}: the mutator failed: {e}");
                    return;
                }
                File.WriteAllBytes(path, input);
                lock (inputClock) { current = i; currentInput = input; inputClock.Restart(); }
                try
                {
                    format.Load(path);
                    accepted++;
                }
                catch (LoraBuildException)
                {
                    coded++;
                }
                catch (Exception e)
                {
                    failures.Add($"{format.Name} #{i}: {e.GetType().Name}: {e.Message}\n  input (base64): {Convert.ToBase64String(input.Take(600).ToArray())}\n  {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}");
                }
            }
        }, 16 << 20) { IsBackground = true };
        loop.Start();
        while (!loop.Join(250))
        {
            lock (inputClock)
            {
                if (inputClock.Elapsed > HangLimit)
                    Assert.Fail($"{format.Name} #{current} ran over {HangLimit.TotalSeconds} s; input (base64): {Convert.ToBase64String(currentInput.Take(600).ToArray())}");
            }
        }
        var tally = new Tally(format.Name, count, accepted, coded, failures);
        output.WriteLine($"{tally.Format}: {tally.Inputs} inputs, {tally.Accepted} accepted, {tally.Coded} coded errors, {tally.Failures.Count} uncaught");
        return tally;
    }

    [Fact]
    public void Every_format_survives_fuzzing_with_coded_errors_only()
    {
        var clock = Stopwatch.StartNew();
        var tallies = Formats().Select((format, i) => Run(format, Seed + i)).ToList();
        output.WriteLine($"total: {tallies.Sum(t => t.Inputs)} inputs in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(tallies.Sum(t => t.Inputs) >= 2000, "the harness must feed at least 2,000 inputs a run");
        // Every format has both outcomes: the mutations reach past the first check, and they do break things.
        foreach (var t in tallies)
        {
            Assert.True(t.Coded > 0, $"{t.Format}: no input was refused; the mutator does nothing");
            if (t.Format == "safetensors-nonfinite") Assert.Equal(t.Inputs, t.Coded); // never accepted
            else Assert.True(t.Accepted > 0 || t.Format == "safetensors", $"{t.Format}: every input was refused; the mutator never produces a valid variant");
        }
        var failures = tallies.SelectMany(t => t.Failures).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} uncaught exception(s):\n" + string.Join("\n", failures.Take(10)));
    }

    // Complex keys such as "[a, b]: 1" and "{[a]: 4}" used to throw InvalidCastException (44 of these 400 inputs).
    [Fact]
    public void Yaml_survives_fuzzing_with_coded_errors_only()
    {
        var tally = Run(Yaml(), Seed + 100);
        Assert.True(tally.Coded > 0 && tally.Accepted > 0);
        Assert.True(tally.Failures.Count == 0, $"{tally.Failures.Count} uncaught exception(s):\n" + string.Join("\n", tally.Failures.Take(10)));
    }

    /// <summary>The reproduced cases of issue 12, kept as a corpus: each must be refused with a coded error.</summary>
    public static TheoryData<string, string, string> Corpus() => new()
    {
        { "safetensors", "model.safetensors", "header-one-byte-short" },
        { "safetensors", "model.safetensors", "header-non-utf8" },
        { "safetensors", "model.safetensors", "header-lone-surrogate" },
        { "safetensors", "model.safetensors", "trailing-bytes" },
        { "config.json", "config.json", "[1,2]" },
        { "config.json", "config.json", """{"model_type":"llama","vocab_size":512,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"eos_token_id":2.5}""" },
        { "config.json", "config.json", """{"model_type":"llama","vocab_size":512,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"eos_token_id":["a"]}""" },
        { "config.json", "config.json", """{"model_type":"llama","vocab_size":512,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"eos_token_id":1000000000000}""" },
        { "config.json", "config.json", """{"model_type":"llama","vocab_size":512,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"head_dim":-16}""" },
        { "config.json", "config.json", """{"model_type":"llama","vocab_size":512,"hidden_size":1000000000,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4}""" },
        { "config.json", "config.json", """{"model_type":"llama","vocab_size":512,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"rope_theta":-1,"rms_norm_eps":-1e-6}""" },
        { "config.json", "config.json", "{\"model_\\ud800type\":\"llama\"}" },
        { "adapter_config.json", "adapter_config.json", """{"peft_type":"LORA","target_modules":["q_proj"],"rank_pattern":{"q_proj":"x"}}""" },
        { "adapter_config.json", "adapter_config.json", """{"peft_type":"LORA","target_modules":"(unclosed"}""" },
        { "adapter_config.json", "adapter_config.json", """{"peft_type":"LORA","target_modules":["q_\ud800"]}""" },
        { "lorabuild.json", "lorabuild.json", "null" },
        { "lorabuild.json", "lorabuild.json", "{\"quantization\": \"nf4\"" },
        { "lorabuild.json", "lorabuild.json", "[]" },
        { "jsonl", "data.jsonl", "{\"text\": \"\\ud800\"}\n" },
        { "jsonl", "data.jsonl", "invalid-utf8" },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Corpus_of_issue_12_inputs_are_coded_errors(string formatName, string fileName, string content)
    {
        var format = Formats().Single(f => f.Name == formatName);
        var folder = Path.Combine(dir, "corpus");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, fileName);
        File.WriteAllBytes(path, CorpusBytes(content));
        Assert.Throws<LoraBuildException>(() => format.Load(path));
    }

    static byte[] CorpusBytes(string content)
    {
        var adapter = File.ReadAllBytes(TestPaths.Hf("llama", "adapter-lora", "adapter_model.safetensors"));
        var headerLength = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(adapter);
        byte[] WithHeader(byte[] header, int extraData = 0)
        {
            var data = adapter.AsSpan(8 + headerLength).ToArray();
            var bytes = new byte[8 + header.Length + data.Length + extraData];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
            header.CopyTo(bytes, 8);
            data.CopyTo(bytes, 8 + header.Length);
            return bytes;
        }
        var header = adapter.AsSpan(8, headerLength).ToArray();
        switch (content)
        {
            case "header-one-byte-short":
                var shifted = (byte[])adapter.Clone();
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(shifted, (ulong)headerLength - 1);
                return shifted;
            case "header-non-utf8":
                var text = Encoding.UTF8.GetString(header);
                var at = text.IndexOf("\"pt\"", StringComparison.Ordinal) + 1;
                header[at] = 0xFF;
                return WithHeader(header);
            case "header-lone-surrogate":
                return WithHeader(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(header).Replace("\"pt\"", "\"\\ud800\"")));
            case "trailing-bytes":
                return WithHeader(header, extraData: 3);
            case "invalid-utf8":
                return [.. "{\"text\": \"caf"u8.ToArray(), 0xE9, .. "\"}\n"u8.ToArray()];
            default:
                return Encoding.UTF8.GetBytes(content);
        }
    }
}
