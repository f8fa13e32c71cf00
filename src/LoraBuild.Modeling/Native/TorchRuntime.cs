using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LoraBuild.Diagnostics;
using TorchSharp;

namespace LoraBuild.Native;

/// <summary>What <see cref="TorchRuntime.EnsureLoaded"/> found and loaded.</summary>
public sealed record TorchRuntimeInfo(string LibTorchDirectory, string LibTorchSource, string LibTorchSharpPath, bool CompatibilityCopy, bool CudaAvailable);

/// <summary>
/// Starts TorchSharp on any Linux host: finds a libtorch (environment variable, restore-time package, or an existing
/// PyTorch install), loads it, and loads libLibTorchSharp — the stock file where the host's libstdc++ is new enough,
/// else a compatibility copy this product owns (never the NuGet cache's file). Call before any TorchSharp API.
/// </summary>
public static class TorchRuntime
{
    const string LibTorchPackageId = PackageVersions.LibTorchCpuPackageId;
    const string LibTorchPackageVersion = PackageVersions.LibTorch;
    const string TorchSharpPackageVersion = PackageVersions.TorchSharp;
    const string StdCxx = "libstdc++.so.6";

    static readonly object Gate = new();
    static TorchRuntimeInfo? loaded;
    static readonly Dictionary<string, IntPtr> Handles = new(StringComparer.Ordinal);

    /// <summary>Messages worth one line in a log (which libtorch, whether a compatibility copy is used).</summary>
    public static Action<string> Log { get; set; } = message => Console.Error.WriteLine(message);

    public static TorchRuntimeInfo EnsureLoaded()
    {
        lock (Gate)
        {
            if (loaded is not null) return loaded;
            if (!OperatingSystem.IsLinux())
            {
                // Elsewhere TorchSharp's own loader is fine: there is no libstdc++ skew to work around.
                torch.InitializeDeviceType(DeviceType.CPU);
                return loaded = new TorchRuntimeInfo("", "TorchSharp default", "", false, torch.cuda.is_available());
            }

            var tried = new List<string>();
            var (libDir, source) = FindLibTorch(tried)
                ?? throw new LoraBuildException(ErrorCodes.NoLibTorch,
                    "No usable libtorch was found. Tried:" + Environment.NewLine + string.Join(Environment.NewLine, tried.Select(t => "  - " + t)) +
                    Environment.NewLine + "In an app: reference the LoraBuild.Runtime package (it restores " + LibTorchPackageId + " " +
                    LibTorchPackageVersion + " and dotnet publish puts libtorch beside the app), or copy a libtorch 'lib' folder's .so files " +
                    "beside the app, or set TORCH_LIB_DIR to one. With an existing PyTorch: LORABUILD_TORCH_BACKEND=system. " +
                    "For the lorabuild worker of the SDK: restore the adapter project.");

            foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so" })
            {
                var path = Path.Combine(libDir, name);
                if (File.Exists(path)) Handles[name] = NativeLibrary.Load(path);
            }

            var stockLibrary = FindLibTorchSharp()
                ?? throw new LoraBuildException(ErrorCodes.LibTorchSharpMissing,
                    $"libLibTorchSharp.so (TorchSharp {TorchSharpPackageVersion}) was not found beside the application nor in the NuGet packages folder.");
            var (libraryToLoad, isCopy) = CompatibleLibTorchSharp(stockLibrary);
            Handles["LibTorchSharp"] = NativeLibrary.Load(libraryToLoad);

            NativeLibrary.SetDllImportResolver(typeof(torch).Assembly, Resolve);
            torch.InitializeDeviceType(DeviceType.CPU);
            var cuda = Handles.ContainsKey("libtorch_cuda.so") && torch.cuda.is_available();
            loaded = new TorchRuntimeInfo(libDir, source, libraryToLoad, isCopy, cuda);
            return loaded;
        }
    }

    static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        var key = name switch
        {
            "LibTorchSharp" or "libLibTorchSharp" or "libLibTorchSharp.so" => "LibTorchSharp",
            _ => name.StartsWith("lib", StringComparison.Ordinal) ? name : "lib" + name,
        };
        if (!key.EndsWith(".so", StringComparison.Ordinal) && key != "LibTorchSharp") key += ".so";
        return Handles.TryGetValue(key, out var handle) ? handle : IntPtr.Zero;
    }

    /// <summary>Candidate libtorch folders in priority order; the first holding libtorch.so and libc10.so wins.</summary>
    static (string Dir, string Source)? FindLibTorch(List<string> tried)
    {
        foreach (var variable in new[] { "LORABUILD_TORCH_LIB_DIR", "TORCH_LIB_DIR" })
        {
            var value = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(value)) { tried.Add($"${variable}: not set"); continue; }
            if (IsLibTorchDir(value)) return (value, $"${variable}");
            tried.Add($"${variable}={value}: no libtorch.so and libc10.so there");
        }

        var backend = Environment.GetEnvironmentVariable("LORABUILD_TORCH_BACKEND");
        if (string.Equals(backend, "system", StringComparison.OrdinalIgnoreCase))
            return FindPythonTorch(tried);

        foreach (var (dir, source) in PackageCandidates())
        {
            if (IsLibTorchDir(dir)) return (dir, source);
            tried.Add($"{source}: {dir} (not there)");
        }
        return FindPythonTorch(tried);
    }

    static IEnumerable<(string Dir, string Source)> PackageCandidates()
    {
        var appDir = AppContext.BaseDirectory;
        // Written at build time by eng/LibTorch.targets: where restore put the libtorch package.
        var manifest = Path.Combine(appDir, "lorabuild.native.json");
        if (File.Exists(manifest))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
            if (doc.RootElement.TryGetProperty("libtorch", out var dir) && dir.GetString() is { } path)
                yield return (path, "restore-time package recorded in " + manifest);
        }
        yield return (Path.Combine(appDir, "runtimes", "linux-x64", "native"), "application folder");
        // A published app (dotnet publish -r linux-x64) has the native libraries beside it.
        yield return (appDir.TrimEnd(Path.DirectorySeparatorChar), "application folder (published)");
        yield return (Path.Combine(NuGetPackagesFolder(), LibTorchPackageId, LibTorchPackageVersion, "runtimes", "linux-x64", "native"), "NuGet packages folder");
    }

    static (string, string)? FindPythonTorch(List<string> tried)
    {
        foreach (var python in new[] { "python3", "python" })
        {
            try
            {
                var start = new ProcessStartInfo(python, ["-c", "import os,torch;print(os.path.join(os.path.dirname(torch.__file__),'lib'))"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                };
                using var process = Process.Start(start)!;
                var output = process.StandardOutput.ReadToEnd().Trim();
                process.WaitForExit(30_000);
                if (process.ExitCode == 0 && IsLibTorchDir(output)) return (output, $"PyTorch install of {python}");
                tried.Add($"{python} -c \"import torch\": " + (process.ExitCode == 0 ? $"{output} has no libtorch.so" : "torch is not installed"));
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                tried.Add($"{python}: not found");
            }
        }
        return null;
    }

    static bool IsLibTorchDir(string dir) =>
        File.Exists(Path.Combine(dir, "libtorch.so")) && File.Exists(Path.Combine(dir, "libc10.so"));

    static string NuGetPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    static string? FindLibTorchSharp()
    {
        var candidates = new[]
        {
            Environment.GetEnvironmentVariable("LORABUILD_LIBTORCHSHARP"),
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
            Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so"),
            Path.Combine(NuGetPackagesFolder(), "torchsharp", TorchSharpPackageVersion, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
        };
        return candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && File.Exists(c));
    }

    /// <summary>The stock library when the loaded libstdc++ has every version it needs, else a patched copy in our cache.</summary>
    static (string Path, bool IsCopy) CompatibleLibTorchSharp(string stock)
    {
        var elf = ElfCompatibility.Read(stock);
        var stdcxx = LoadedLibraryPath(StdCxx);
        if (stdcxx is null) return (stock, false); // statically linked or unusual host: let the loader decide
        var available = File.ReadAllBytes(stdcxx);
        var missing = elf.RequiredVersions(StdCxx).Where(v => !ContainsVersionString(available, v)).ToList();
        if (missing.Count == 0) return (stock, false);

        var stockBytes = File.ReadAllBytes(stock);
        var hash = Convert.ToHexString(SHA256.HashData(stockBytes))[..16].ToLowerInvariant();
        var dir = Path.Combine(IO.CachePaths.Root(), "native", hash);
        var copy = Path.Combine(dir, "libLibTorchSharp.so");
        if (!File.Exists(copy))
        {
            var patched = elf.CreateCompatibleCopy(StdCxx, missing, stock);
            Directory.CreateDirectory(dir);
            var temp = copy + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(temp, patched);
            File.Move(temp, copy, overwrite: true);
        }
        Log($"LoraBuild: {stdcxx} lacks {string.Join(", ", missing)}; using the compatibility copy {copy} of {stock} " +
            "(std::ios_base_library_init bound to a no-op; see docs/native.md).");
        return (copy, true);
    }

    static bool ContainsVersionString(byte[] library, string version)
    {
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        return library.AsSpan().IndexOf(needle) >= 0;
    }

    /// <summary>The file a library already mapped into this process came from (libtorch pulled libstdc++ in).</summary>
    static string? LoadedLibraryPath(string soname)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var slash = line.IndexOf('/');
                if (slash < 0) continue;
                var path = line[slash..];
                if (Path.GetFileName(path).StartsWith(soname, StringComparison.Ordinal)) return path;
            }
        }
        catch (IOException) { }
        return null;
    }
}
