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
        var command = new Command("init", "Create a randomly initialised model (HF init) to pre-train or benchmark.") { config, tokenizer, output, seed };
        command.SetAction(parse =>
        {
            Native.TorchRuntime.EnsureLoaded();
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
                using var model = ModelInitializer.RandomInit(ModelConfig.Load(staging), parse.GetValue(seed));
                ModelWriter.Save(model, staging, parse.GetValue(output)!);
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
}
