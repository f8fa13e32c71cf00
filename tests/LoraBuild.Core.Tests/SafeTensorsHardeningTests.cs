using System.Buffers.Binary;
using System.Text;
using LoraBuild.Diagnostics;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>Hostile and broken safetensors files: each is a clear coded error, never a crash or an out-of-bounds read.</summary>
public class SafeTensorsHardeningTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public SafeTensorsHardeningTests() => TestPaths.EnsureTorch();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string WriteRaw(ulong headerLength, string header, int dataBytes)
    {
        var path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".safetensors");
        var headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        headerBytes.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    string Write(string header, int dataBytes) => WriteRaw((ulong)Encoding.UTF8.GetByteCount(header), header, dataBytes);

    static string CodeOf(Action action) => Assert.Throws<LoraBuildException>(action).Code;

    [Fact]
    public void Header_length_beyond_the_file_is_refused_before_allocation()
    {
        var path = WriteRaw(ulong.MaxValue - 3, "{}", 0);
        Assert.Equal(ErrorCodes.SafeTensorsHeaderLength, CodeOf(() => SafeTensorsFile.Open(path).Dispose()));
    }

    [Fact]
    public void Header_length_over_the_limit_is_refused()
    {
        var path = WriteRaw(200_000_000, "{}", 0);
        Assert.Equal(ErrorCodes.SafeTensorsHeaderLength, CodeOf(() => SafeTensorsFile.Open(path).Dispose()));
    }

    [Fact]
    public void File_shorter_than_the_length_prefix_is_refused()
    {
        var path = Path.Combine(dir, "tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var e = Assert.Throws<LoraBuildException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Equal(ErrorCodes.SafeTensorsTooSmall, e.Code);
        Assert.Equal(path, e.File);
    }

    [Fact]
    public void Header_that_is_not_json_is_refused()
    {
        Assert.Equal(ErrorCodes.SafeTensorsHeaderJson, CodeOf(() => SafeTensorsFile.Open(Write("{\"a\": [", 0)).Dispose()));
        Assert.Equal(ErrorCodes.SafeTensorsHeaderJson, CodeOf(() => SafeTensorsFile.Open(Write("[1,2]", 0)).Dispose()));
        Assert.Equal(ErrorCodes.SafeTensorsHeaderJson,
            CodeOf(() => SafeTensorsFile.Open(Write("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)).Dispose()));
    }

    [Fact]
    public void Offsets_past_the_end_are_refused()
    {
        var path = Write("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
        var e = Assert.Throws<LoraBuildException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Equal(ErrorCodes.SafeTensorsOffsets, e.Code);
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void Size_that_disagrees_with_dtype_and_shape_is_refused()
    {
        var path = Write("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16);
        Assert.Equal(ErrorCodes.SafeTensorsOffsets, CodeOf(() => SafeTensorsFile.Open(path).Dispose()));
    }

    [Fact]
    public void Shape_whose_size_overflows_is_refused()
    {
        var path = Write("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}", 16);
        Assert.Equal(ErrorCodes.SafeTensorsOffsets, CodeOf(() => SafeTensorsFile.Open(path).Dispose()));
    }

    [Fact]
    public void Overlapping_tensors_are_refused()
    {
        var path = Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16);
        var e = Assert.Throws<LoraBuildException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Equal(ErrorCodes.SafeTensorsOverlap, e.Code);
        Assert.Contains("'a'", e.Message);
        Assert.Contains("'b'", e.Message);
    }

    [Fact]
    public void Unknown_dtype_is_refused()
    {
        var path = Write("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
        Assert.Equal(ErrorCodes.SafeTensorsDType, CodeOf(() => SafeTensorsFile.Open(path).Dispose()));
    }

    [Fact]
    public void Truncated_real_checkpoint_is_refused()
    {
        var bytes = File.ReadAllBytes(TestPaths.Hf("llama", "model.safetensors"));
        var path = Path.Combine(dir, "truncated.safetensors");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.Equal(ErrorCodes.SafeTensorsOffsets, CodeOf(() => SafeTensorsFile.Open(path).Dispose()));
        File.WriteAllBytes(path, bytes[..100]);
        Assert.Equal(ErrorCodes.SafeTensorsHeaderLength, CodeOf(() => SafeTensorsFile.Open(path).Dispose()));
    }

    [Fact]
    public void Written_file_reads_back_with_all_dtypes()
    {
        var path = Path.Combine(dir, "all.safetensors");
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = randn(3, 5),
            ["bf16"] = randn(4, 2).to_type(ScalarType.BFloat16),
            ["f16"] = randn(7).to_type(ScalarType.Float16),
            ["i64"] = arange(10L),
            ["empty"] = zeros(0, 3),
            ["u8"] = tensor(new byte[] { 1, 2, 255 }),
        };
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        foreach (var (name, expected) in tensors)
        {
            var actual = file.Read(name);
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            if (expected.numel() > 0) Assert.True(expected.bytes.SequenceEqual(actual.bytes), name);
        }
        // Header is padded to 8 bytes, as the reference writer does.
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path)) % 8);
    }
}
