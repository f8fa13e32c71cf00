using LoraBuild.Native;

namespace LoraBuild.Tests;

/// <summary>The Debian 12 / Ubuntu 22.04 start-up fix: what it detects, what it edits, and that TorchSharp then runs.</summary>
public class NativeCompatibilityTests
{
    static string StockLibrary() => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void Only_ios_base_library_init_needs_GLIBCXX_3_4_32()
    {
        var elf = ElfCompatibility.Read(StockLibrary());
        Assert.Contains("GLIBCXX_3.4.32", elf.RequiredVersions("libstdc++.so.6"));
        Assert.Equal(["_ZSt21ios_base_library_initv"], elf.SymbolsRequiring("libstdc++.so.6", "GLIBCXX_3.4.32"));
    }

    [Fact]
    public void Compatible_copy_changes_exactly_the_version_flag_the_symbol_version_and_the_name()
    {
        var stock = File.ReadAllBytes(StockLibrary());
        var elf = ElfCompatibility.Read(StockLibrary());
        var copy = elf.CreateCompatibleCopy("libstdc++.so.6", ["GLIBCXX_3.4.32"], StockLibrary());
        Assert.Equal(stock.Length, copy.Length);
        var changed = Enumerable.Range(0, stock.Length).Where(i => stock[i] != copy[i]).ToList();
        // vna_flags (1 byte changes), versym (<= 2 bytes), and the renamed string (<= its length).
        Assert.InRange(changed.Count, 3, 3 + "_ZSt21ios_base_library_initv".Length);

        var patchedPath = Path.Combine(TestPaths.TempDirectory(), "libLibTorchSharp.so");
        File.WriteAllBytes(patchedPath, copy);
        var patched = ElfCompatibility.Read(patchedPath);
        Assert.Empty(patched.SymbolsRequiring("libstdc++.so.6", "GLIBCXX_3.4.32"));
        Assert.Contains("GLIBCXX_3.4.32", patched.RequiredVersions("libstdc++.so.6"));
    }

    [Fact]
    public void A_version_needed_by_other_symbols_is_not_patched_away()
    {
        var elf = ElfCompatibility.Read(StockLibrary());
        var e = Assert.Throws<LoraBuild.Diagnostics.LoraBuildException>(() =>
            elf.CreateCompatibleCopy("libstdc++.so.6", ["GLIBCXX_3.4.21"], StockLibrary()));
        Assert.Equal("LB0002", e.Code);
    }

    [Fact]
    public void Runtime_starts_and_uses_the_copy_only_where_libstdcxx_is_old()
    {
        var info = TestPaths.EnsureTorch();
        var hostHasNewLibStdCxx = File.ReadAllText("/proc/self/maps").Split('\n')
            .Where(l => l.Contains("libstdc++.so.6")).Select(l => l[l.IndexOf('/')..]).Distinct()
            .Any(p => File.ReadAllBytes(p).AsSpan().IndexOf("GLIBCXX_3.4.32\0"u8) >= 0);
        Assert.Equal(!hostHasNewLibStdCxx, info.CompatibilityCopy);
        if (info.CompatibilityCopy)
        {
            Assert.StartsWith(LoraBuild.IO.CachePaths.Root(), info.LibTorchSharpPath);
            Assert.DoesNotContain(".nuget", info.LibTorchSharpPath);
        }
        using var x = TorchSharp.torch.ones(2, 2, requires_grad: true);
        using var y = (x * 3).sum();
        y.backward();
        Assert.Equal(3f, x.grad!.mean().item<float>());
    }
}
