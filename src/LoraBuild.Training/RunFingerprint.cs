using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using LoraBuild.IO;

namespace LoraBuild.Training;

/// <summary>
/// A hash of everything that decides a trained adapter: base model files, dataset contents, every deciding
/// hyperparameter, and the worker's version. Checkpoints carry it; resume and up-to-date checks compare it.
/// </summary>
public static class RunFingerprint
{
    static readonly string[] ModelFiles = ["config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json"];

    public static string WorkerVersion =>
        typeof(RunFingerprint).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "dev";

    /// <summary>The inputs as lines, for humans (written beside the adapter) and for the hash.</summary>
    public static IReadOnlyList<string> Describe(TrainingConfig config, string device)
    {
        var lines = new List<string> { $"worker={WorkerVersion}", $"device={device}" };
        var model = config.BaseModel!;
        foreach (var file in ModelFiles.Select(f => Path.Combine(model, f))
                     .Concat(Directory.EnumerateFiles(model, "*.safetensors").Order(StringComparer.Ordinal))
                     .Where(File.Exists))
            lines.Add($"model/{Path.GetFileName(file)}={FileHashes.Sha256(file)}");
        lines.Add($"dataset={FileHashes.Sha256(config.Dataset!)}");
        lines.AddRange(config.DecidingSettings().Select(s => $"{s.Key}={s.Value}"));
        return lines;
    }

    public static string Compute(IReadOnlyList<string> description) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", description)))).ToLowerInvariant();
}
