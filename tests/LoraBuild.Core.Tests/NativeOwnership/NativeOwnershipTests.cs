using LoraBuild.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraBuild.Tests.NativeOwnership;

/// <summary>
/// The build-time rules that keep every native scalar owned (docs/native.md): the analyzer's list of TorchSharp members
/// that make unowned Scalars is what TorchSharp's IL says today, and the owned arithmetic computes what TorchSharp's
/// conveniences computed (the fix changes ownership, not numbers).
/// </summary>
public class NativeOwnershipTests
{
    [Fact]
    public void The_analyzers_list_is_what_an_IL_scan_of_the_restored_TorchSharp_finds()
    {
        var torchSharp = typeof(torch).Assembly.Location;
        var scanned = UnownedScalarScan.Members(torchSharp);
        var listed = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "src", "LoraBuild.Analyzers", "TorchSharpUnownedScalars.txt"))
            .Where(l => l.Length > 0 && l[0] != '#').ToHashSet(StringComparer.Ordinal);
        // The members the training and generation paths once used this way are in it.
        foreach (var member in new[] { "TorchSharp.torch+Tensor|op_Addition|Tensor,Tensor", "TorchSharp.torch+Tensor|add_|Tensor",
                     "TorchSharp.torch+Tensor|op_Multiply|Tensor,Double", "TorchSharp.torch+Tensor|square|" })
            Assert.Contains(member, scanned);
        Assert.Equal(scanned.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Owned_arithmetic_is_bit_identical_to_TorchSharps_conveniences()
    {
        TestPaths.EnsureTorch();
        using var scope = NewDisposeScope();
        using var generator = new torch.Generator(7, CPU);
        var a = randn(new long[] { 64, 33 }, generator: generator);
        var b = randn(new long[] { 64, 33 }, generator: generator);
#pragma warning disable LBA0001, LBA0002 // the conveniences, as the reference
        var expected = new[] { a + b, a + 0.25, a - 0.25, 1 - a, a * 3.5, a / 3.5, 2.0 / a, a.square(), a.pow(2) };
#pragma warning restore LBA0001, LBA0002
        var actual = new[] { a.Plus(b), a.Plus(0.25), a.Minus(0.25), a.SubtractedFrom(1), a.Times(3.5), a.DividedBy(3.5), a.Dividing(2.0), a.Squared(), a.Squared() };
        for (var i = 0; i < expected.Length; i++) Assert.True(expected[i].eq(actual[i]).all().item<bool>(), $"operation {i} differs");
    }
}
