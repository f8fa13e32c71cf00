using System.Text.Json;
using System.Text.Json.Nodes;
using LoraBuild.Diagnostics;

namespace LoraBuild.Hub;

/// <summary>
/// lora.lock.json, beside the adapter project and committed with it: for each Hub base model (and, later, dataset) the
/// revision the project asked for, the commit it resolved to, and the sha256 and size of each weight file. Builds use
/// the locked commit; -p:LoraBuildUpdateLock=true moves it; -p:LoraBuildLockedMode=true fails when it is missing or
/// would change (as NuGet's packages.lock.json with RestoreLockedMode). Written by the worker (`lorabuild fetch`), read
/// by the tasks for the fingerprint; sorted and indented so diffs are reviewable.
/// </summary>
public sealed class LoraLockFile
{
    public const string FileName = "lora.lock.json";
    public const int CurrentVersion = 1;

    public SortedDictionary<string, LockedRepo> Models { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, LockedRepo> Datasets { get; } = new(StringComparer.Ordinal);

    public sealed record LockedRepo(string Revision, string Commit, SortedDictionary<string, LockedFile> Files);

    public sealed record LockedFile(string Sha256, long Size);

    /// <summary>
    /// What the lock pins of the Hub datasets a config names (an id written in its text), as lines for a fingerprint:
    /// each dataset's revision, commit and files. A lock moved (by another build or a teammate's commit) then changes the
    /// fingerprint of the adapters reading it, and only theirs.
    /// </summary>
    public IEnumerable<string> DatasetLinesFor(string configText) =>
        Datasets.Where(d => configText.Contains(d.Key, StringComparison.Ordinal))
            .SelectMany(d => d.Value.Files.Select(f => $"dataset_lock/{d.Key}/{f.Key}={f.Value.Sha256}")
                .Prepend($"dataset_lock/{d.Key}={d.Value.Revision}@{d.Value.Commit}"));

    /// <summary>The lock at <paramref name="path"/>, or null when there is none; a lock that is there but unreadable is LB0422.</summary>
    public static LoraLockFile? TryRead(string path)
    {
        if (!File.Exists(path)) return null;
        HubException Invalid(string why) => new(ErrorCodes.LockFileInvalid, $"{FileName} {why}. Fix or delete it, then build with -p:LoraBuildUpdateLock=true.", file: path);
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw Invalid("is not a JSON object");
            if (root["version"]?.GetValue<int>() is not CurrentVersion) throw Invalid($"has version {root["version"]}, expected {CurrentVersion}");
            var lockFile = new LoraLockFile();
            ReadSection(root["models"], lockFile.Models, Invalid);
            ReadSection(root["datasets"], lockFile.Datasets, Invalid);
            return lockFile;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw Invalid($"is not valid ({e.Message})");
        }
    }

    static void ReadSection(JsonNode? section, SortedDictionary<string, LockedRepo> into, Func<string, HubException> invalid)
    {
        if (section is null) return;
        foreach (var (id, node) in section.AsObject())
        {
            var entry = node as JsonObject ?? throw invalid($"entry '{id}' is not an object");
            var commit = entry["commit"]?.GetValue<string>() ?? throw invalid($"entry '{id}' has no commit");
            var files = new SortedDictionary<string, LockedFile>(StringComparer.Ordinal);
            foreach (var (file, info) in entry["files"]?.AsObject() ?? [])
                files[file] = new LockedFile(info!["sha256"]!.GetValue<string>(), info["size"]!.GetValue<long>());
            into[id] = new LockedRepo(entry["revision"]?.GetValue<string>() ?? "main", commit, files);
        }
    }

    public string ToJson()
    {
        var root = new JsonObject { ["version"] = CurrentVersion, ["models"] = Section(Models) };
        if (Datasets.Count > 0) root["datasets"] = Section(Datasets);
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    static JsonObject Section(SortedDictionary<string, LockedRepo> repos)
    {
        var section = new JsonObject();
        foreach (var (id, repo) in repos)
        {
            var files = new JsonObject();
            foreach (var (name, file) in repo.Files) files[name] = new JsonObject { ["sha256"] = file.Sha256, ["size"] = file.Size };
            section[id] = new JsonObject { ["revision"] = repo.Revision, ["commit"] = repo.Commit, ["files"] = files };
        }
        return section;
    }

    /// <summary>Writes the lock whole or not at all (temp file, then rename), and only when its text changes.</summary>
    public bool Write(string path)
    {
        var json = ToJson();
        if (File.Exists(path) && File.ReadAllText(path) == json) return false;
        IO.AtomicFile.WriteAllText(path, json);
        return true;
    }
}
