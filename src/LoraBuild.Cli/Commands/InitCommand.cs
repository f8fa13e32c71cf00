using System.CommandLine;
using LoraBuild.Models;

namespace LoraBuild.Cli.Commands;

/// <summary><c>lorabuild init</c>: a randomly initialised HF model folder from a config.json (and a tokenizer to copy).</summary>
public static class InitCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "config.json describing the architecture.", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Folder whose tokenizer files are copied." };
        var output = new Option<string>("--out") { Description = "Model folder to write.", Required = true };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var dtype = new Option<string>("--dtype") { DefaultValueFactory = _ => "float32", Description = "float32 | bfloat16 | float16: the weights' dtype on disk." };
        var shardSize = new Option<string>("--max-shard-size")
        {
            DefaultValueFactory = _ => "5GB",
            Description = "Shard the weights past this size, as transformers' save_pretrained does (e.g. 2GB, 500MB; decimal units).",
        };
        var command = new Command("init", "Create a randomly initialised model (HF init) to pre-train or benchmark.") { config, tokenizer, output, seed, dtype, shardSize };
        command.SetAction(parse =>
        {
            var configPath = Path.GetFullPath(parse.GetValue(config)!);
            var staging = Directory.CreateTempSubdirectory("lorabuild-init-").FullName;
            try
            {
                File.Copy(configPath, Path.Combine(staging, "config.json"));
                if (parse.GetValue(tokenizer) is { } t)
                    foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
                        if (File.Exists(Path.Combine(t, f))) File.Copy(Path.Combine(t, f), Path.Combine(staging, f));
                        else if (File.Exists(Path.Combine(t, f + ".gz")))
                        {
                            // Large committed tokenizer fixtures are gzipped; the model folder gets the plain file.
                            using var gzip = new System.IO.Compression.GZipStream(File.OpenRead(Path.Combine(t, f + ".gz")), System.IO.Compression.CompressionMode.Decompress);
                            using var target = File.Create(Path.Combine(staging, f));
                            gzip.CopyTo(target);
                        }
                var modelConfig = ModelConfig.Load(staging);
                var initializerRange = InitializerRange(configPath);
                using var model = ModelInitializer.RandomInit(modelConfig, parse.GetValue(seed), initializerRange, ParseDType(parse.GetValue(dtype)!));
                ModelWriter.Save(model, staging, parse.GetValue(output)!, ParseSize(parse.GetValue(shardSize)!));
            }
            finally
            {
                Directory.Delete(staging, recursive: true);
            }
            Console.WriteLine($"initialised {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }

    static TorchSharp.torch.ScalarType ParseDType(string name) => name switch
    {
        "float32" or "fp32" => TorchSharp.torch.ScalarType.Float32,
        "bfloat16" or "bf16" => TorchSharp.torch.ScalarType.BFloat16,
        "float16" or "fp16" => TorchSharp.torch.ScalarType.Float16,
        _ => throw new Diagnostics.LoraBuildException(Diagnostics.ErrorCodes.BadArgument, $"--dtype '{name}': expected float32, bfloat16 or float16."),
    };

    /// <summary>"5GB", "500MB", "2000000000": decimal units, as transformers reads max_shard_size.</summary>
    static long ParseSize(string text)
    {
        var units = new (string Suffix, long Factor)[] { ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1) };
        var trimmed = text.Trim().ToUpperInvariant();
        foreach (var (suffix, factor) in units)
            if (trimmed.EndsWith(suffix, StringComparison.Ordinal) &&
                double.TryParse(trimmed[..^suffix.Length], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) && value > 0)
                return (long)(value * factor);
        if (long.TryParse(trimmed, out var bytes) && bytes > 0) return bytes;
        throw new Diagnostics.LoraBuildException(Diagnostics.ErrorCodes.BadArgument, $"--max-shard-size '{text}': expected a size such as 5GB or 500MB.");
    }

    /// <summary>config.json's initializer_range (HF's init std), 0.02 when absent.</summary>
    static double InitializerRange(string configPath)
    {
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(configPath));
        var root = document.RootElement;
        if (root.TryGetProperty("text_config", out var text) && text.ValueKind == System.Text.Json.JsonValueKind.Object) root = text;
        return root.TryGetProperty("initializer_range", out var range) && range.ValueKind == System.Text.Json.JsonValueKind.Number ? range.GetDouble() : 0.02;
    }
}
