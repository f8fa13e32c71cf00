using System.Text.Json;
using LoraBuild.Diagnostics;
using static TorchSharp.torch;

namespace LoraBuild.SafeTensors;

/// <summary>
/// The weights of an HF model folder: <c>model.safetensors</c>, or the shards named by <c>model.safetensors.index.json</c>.
/// Pickle checkpoints (<c>pytorch_model.bin</c>) are refused: unpickling runs arbitrary code from the file.
/// </summary>
public sealed class CheckpointReader : IDisposable
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    readonly List<SafeTensorsFile> files = new();
    readonly Dictionary<string, SafeTensorsFile> owner = new(StringComparer.Ordinal);

    CheckpointReader(string directory) => Directory = directory;

    public string Directory { get; }
    public IEnumerable<string> TensorNames => owner.Keys;
    public IReadOnlyList<SafeTensorsFile> Files => files;

    public static CheckpointReader Open(string directory)
    {
        var reader = new CheckpointReader(directory);
        try
        {
            var single = Path.Combine(directory, SingleFile);
            var index = Path.Combine(directory, IndexFile);
            if (File.Exists(single))
            {
                reader.Add(SafeTensorsFile.Open(single));
            }
            else if (File.Exists(index))
            {
                foreach (var shard in ReadIndex(index)) reader.Add(SafeTensorsFile.Open(Path.Combine(directory, shard)));
            }
            else
            {
                var pickle = new[] { "pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth" }
                    .FirstOrDefault(name => File.Exists(Path.Combine(directory, name)));
                if (pickle is not null)
                    throw new LoraBuildException(ErrorCodes.PickleRefused,
                        $"'{pickle}' is a pickle checkpoint, which runs arbitrary code when loaded; LoraBuild reads safetensors only. " +
                        "Convert it once in a trusted environment (e.g. model.save_pretrained(dir, safe_serialization=True)).",
                        Path.Combine(directory, pickle));
                throw new LoraBuildException(ErrorCodes.WeightsMissing,
                    $"No weights found: expected {SingleFile} or {IndexFile}.", directory);
            }
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The shard file names of an index, all checked at once: each value a plain file name, each shard present (a missing
    /// one is what an interrupted download looks like).
    /// </summary>
    static IEnumerable<string> ReadIndex(string indexPath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (document.RootElement.ValueKind != JsonValueKind.Object ||
                !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new LoraBuildException(ErrorCodes.SafeTensorsIndex, "Index has no 'weight_map' object.", indexPath);
            var shards = new SortedSet<string>(StringComparer.Ordinal);
            var problems = new List<string>();
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    problems.Add($"tensor '{entry.Name}' maps to a {entry.Value.ValueKind.ToString().ToLowerInvariant()}, not a shard file name");
                    continue;
                }
                var shard = entry.Value.GetString();
                if (string.IsNullOrEmpty(shard) || shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                    problems.Add($"tensor '{entry.Name}' names an invalid shard '{shard}'");
                else
                    shards.Add(shard);
            }
            var missing = shards.Where(s => !File.Exists(Path.Combine(directory, s))).ToList();
            if (missing.Count > 0)
                problems.Add($"shard(s) {string.Join(", ", missing)} missing from the folder (an incomplete download?)");
            if (problems.Count > 0)
                throw new LoraBuildException(ErrorCodes.SafeTensorsIndex, "Invalid index: " + string.Join("; ", problems) + ".", indexPath);
            return shards;
        }
        catch (JsonException e)
        {
            throw new LoraBuildException(ErrorCodes.SafeTensorsIndex, $"Index is not valid JSON: {e.Message}", indexPath);
        }
        catch (InvalidOperationException)
        {
            throw new LoraBuildException(ErrorCodes.SafeTensorsIndex, "Index holds a string that is not valid Unicode (a lone surrogate escape such as \\ud800).", indexPath);
        }
    }

    void Add(SafeTensorsFile file)
    {
        files.Add(file);
        foreach (var name in file.Tensors.Keys)
        {
            if (!owner.TryAdd(name, file))
                throw new LoraBuildException(ErrorCodes.SafeTensorsIndex, $"Tensor '{name}' appears in both {owner[name].Path} and {file.Path}.", file.Path);
        }
    }

    public bool Contains(string name) => owner.ContainsKey(name);

    public SafeTensorInfo Info(string name) => Owner(name).Info(name);

    public Tensor Read(string name, ScalarType? dtype = null) => Owner(name).Read(name, dtype);

    SafeTensorsFile Owner(string name) =>
        owner.TryGetValue(name, out var file)
            ? file
            : throw new LoraBuildException(ErrorCodes.TensorMissing, $"Checkpoint has no tensor '{name}'.", Directory);

    public void Dispose()
    {
        foreach (var file in files) file.Dispose();
        files.Clear();
    }
}
