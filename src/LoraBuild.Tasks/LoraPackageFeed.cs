using LoraBuild.Diagnostics;
using LoraBuild.IO;
using Microsoft.Build.Framework;
using NuGet.Common;
using NuGet.Packaging;
using NuGet.Protocol;
using NuGet.Protocol.Core.Types;
using NuGet.Versioning;

namespace LoraBuild.Tasks;

/// <summary>
/// Looks in <see cref="CacheFeed"/> (a folder or a NuGet server) for a package of this project that carries an adapter with
/// the same fingerprint (lora/&lt;name&gt;/lorabuild.fingerprint) and, when found, unpacks it as a finished run instead of training.
/// </summary>
public sealed class RestoreLoraAdaptersFromCache : Microsoft.Build.Utilities.Task
{
    [Required] public ITaskItem[] Adapters { get; set; } = [];
    [Required] public string CacheFeed { get; set; } = "";
    [Required] public string PackageId { get; set; } = "";

    [Output] public ITaskItem[] Restored { get; set; } = [];

    public override bool Execute()
    {
        var restored = new List<ITaskItem>();
        try
        {
            var repository = Repository.Factory.GetCoreV3(CacheFeed);
            var finder = repository.GetResource<FindPackageByIdResource>() ?? throw new IOException("the feed offers no package lookup");
            using var cache = new SourceCacheContext { NoCache = true };
            var versions = finder.GetAllVersionsAsync(PackageId, cache, NullLogger.Instance, CancellationToken.None).GetAwaiter().GetResult()
                .OrderByDescending(v => v).ToList();
            foreach (var adapter in Adapters)
            {
                foreach (var version in versions)
                {
                    var outcome = TryRestore(finder, cache, version, adapter);
                    if (outcome == RestoreOutcome.Locked) break;
                    if (outcome == RestoreOutcome.NoMatch) continue;
                    Log.LogMessage(MessageImportance.High, "LoraAdapter '{0}' restored from cache: {1} {2} ({3}).", adapter.ItemSpec, PackageId, version, CacheFeed);
                    restored.Add(adapter);
                    break;
                }
            }
        }
        catch (Exception e) when (e is NuGetProtocolException or IOException or InvalidDataException or FatalProtocolException)
        {
            Log.LogWarning(null, "LB0220", null, null, 0, 0, 0, 0, "Cache feed '{0}' could not be read ({1}); training instead.", CacheFeed, e.Message);
        }
        Restored = restored.ToArray();
        return !Log.HasLoggedErrors;
    }

    enum RestoreOutcome { Restored, NoMatch, Locked }

    RestoreOutcome TryRestore(FindPackageByIdResource finder, SourceCacheContext cache, NuGetVersion version, ITaskItem adapter)
    {
        using var stream = new MemoryStream();
        if (!finder.CopyNupkgToStreamAsync(PackageId, version, stream, cache, NullLogger.Instance, CancellationToken.None).GetAwaiter().GetResult()) return RestoreOutcome.NoMatch;
        stream.Position = 0;
        using var package = new PackageArchiveReader(stream);
        var prefix = $"lora/{adapter.ItemSpec}/";
        var files = package.GetFiles().Where(f => f.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        var stampEntry = files.FirstOrDefault(f => f == prefix + PrepareLoraAdapters.StampFile);
        if (stampEntry is null) return RestoreOutcome.NoMatch;
        using (var reader = new StreamReader(package.GetStream(stampEntry)))
            if (reader.ReadToEnd().Trim() != adapter.GetMetadata("Fingerprint")) return RestoreOutcome.NoMatch;

        // Lay it out as a finished run: adapter files under run/adapter, metrics and curve under run/, then the markers —
        // under the run folder's lock, as the worker writes it: a run another build is training is never replaced.
        var run = adapter.GetMetadata("RunDirectory");
        var work = adapter.GetMetadata("WorkDirectory");
        using var runLock = OutputLock.TryAcquire(run, $"cache-feed restore of LoraAdapter '{adapter.ItemSpec}'", out var owner);
        if (runLock is null)
        {
            Log.LogError(null, ErrorCodes.OutputLocked, null, run, 0, 0, 0, 0,
                "LoraAdapter '{0}': a matching package is in the cache feed, but another build is writing this adapter's run folder ({1}). " +
                "Nothing was changed; build again when it has finished.", adapter.ItemSpec, owner);
            return RestoreOutcome.Locked;
        }
        foreach (var entry in new DirectoryInfo(run).EnumerateFileSystemInfos())
        {
            if (entry.Name is OutputLock.LockFile or OutputLock.OwnerFile) continue;
            if (entry is DirectoryInfo folder) folder.Delete(recursive: true);
            else entry.Delete();
        }
        Directory.CreateDirectory(Path.Combine(run, RunLayout.AdapterFolder));
        foreach (var file in files)
        {
            var name = file[prefix.Length..];
            if (name.Contains('/') || name == PrepareLoraAdapters.StampFile) continue;
            var target = RunLayout.RunFilesShipped.Contains(name) ? Path.Combine(run, name) : Path.Combine(run, RunLayout.AdapterFolder, name);
            using var source = package.GetStream(file);
            AtomicFile.Write(target, output => source.CopyTo(output));
        }
        AtomicFile.WriteAllText(Path.Combine(run, RunLayout.RunFile), $"{{ \"restored_from\": \"{PackageId} {version}\" }}\n");
        AtomicFile.WriteAllText(Path.Combine(work, PrepareLoraAdapters.StampFile), adapter.GetMetadata("Fingerprint"));
        return RestoreOutcome.Restored;
    }
}

/// <summary>Pushes the packed adapter package to <see cref="PushFeed"/> (a folder or a NuGet server), skipping a version already there.</summary>
public sealed class PushLoraPackage : Microsoft.Build.Utilities.Task
{
    [Required] public string PackagePath { get; set; } = "";
    [Required] public string PushFeed { get; set; } = "";
    public string? ApiKey { get; set; }

    public override bool Execute()
    {
        var repository = Repository.Factory.GetCoreV3(PushFeed);
        var update = repository.GetResource<PackageUpdateResource>() ?? throw new InvalidOperationException($"'{PushFeed}' accepts no pushes.");
        var logger = new MSBuildLogger(this);
        update.Push([PackagePath], symbolSource: null!, timeoutInSecond: 300, disableBuffering: false,
            getApiKey: _ => ApiKey ?? Environment.GetEnvironmentVariable("LORABUILD_PUSH_API_KEY") ?? "",
            getSymbolApiKey: _ => null!, noServiceEndpoint: false, skipDuplicate: true, symbolPackageUpdateResource: null!, log: logger)
            .GetAwaiter().GetResult();
        Log.LogMessage(MessageImportance.High, "Pushed {0} to {1}.", Path.GetFileName(PackagePath), PushFeed);
        return !Log.HasLoggedErrors;
    }

    sealed class MSBuildLogger(PushLoraPackage task) : LoggerBase
    {
        public override void Log(ILogMessage message)
        {
            if (message.Level >= LogLevel.Error) task.Log.LogError(message.Message);
            else if (message.Level >= LogLevel.Warning) task.Log.LogWarning(message.Message);
            else task.Log.LogMessage(message.Level >= LogLevel.Information ? MessageImportance.Normal : MessageImportance.Low, message.Message);
        }

        public override Task LogAsync(ILogMessage message)
        {
            Log(message);
            return System.Threading.Tasks.Task.CompletedTask;
        }
    }
}
