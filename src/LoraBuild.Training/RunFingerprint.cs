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
    /// <param name="datasets">Where Hub dataset entries' files are (their downloaded snapshot files are hashed like local ones).</param>
    public static IReadOnlyList<string> Describe(TrainingConfig config, string device, Data.IDatasetSource? datasets = null)
    {
        var lines = new List<string> { $"worker={WorkerVersion}", $"device={device}" };
        var model = config.BaseModel!;
        foreach (var file in ModelFiles.Select(f => Path.Combine(model, f))
                     .Concat(Directory.EnumerateFiles(model, "*.safetensors").Order(StringComparer.Ordinal))
                     .Where(File.Exists))
            lines.Add($"model/{Path.GetFileName(file)}={FileHashes.Sha256(file)}");
        // Every file of every dataset entry, and how each entry is read (type, fields, split): a change to any is a new run.
        foreach (var (spec, index) in config.TrainSpecs.Select((s, i) => (s, i)))
        {
            lines.Add($"dataset[{index}]={spec.Type ?? "auto"}|{spec.Split}|{spec.Field}|{spec.FieldMessages}|{spec.FieldSystem}|{spec.DropSystemMessage}|" +
                      string.Join(",", spec.MessagePropertyMappings.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")) + "|" +
                      string.Join(",", spec.Roles.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")) + "|" + spec.UserDefined);
            var files = spec.IsHub ? datasets?.Files(spec) ?? [] : Data.Readers.DatasetFiles.Resolve(spec.Path, spec.DataFiles, spec.Source, spec.Line);
            lines.AddRange(files.Select(f => config.TrainSpecs.Count == 1 && files.Count == 1 ? $"dataset={FileHashes.Sha256(f)}" : $"dataset[{index}]/{Path.GetFileName(f)}={FileHashes.Sha256(f)}"));
        }
        lines.AddRange(config.DecidingSettings().Select(s => $"{s.Key}={s.Value}"));
        return lines;
    }

    public static string Compute(IReadOnlyList<string> description) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", description)))).ToLowerInvariant();
}
