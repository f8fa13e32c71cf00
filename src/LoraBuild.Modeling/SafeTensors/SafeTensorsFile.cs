using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;
using LoraBuild.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraBuild.SafeTensors;

/// <summary>One tensor's entry in a safetensors header. Offsets are relative to the start of the data section.</summary>
public sealed record SafeTensorInfo(string Name, SafeTensorDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));
}

/// <summary>
/// A safetensors file opened read-only and memory-mapped: the header is validated up front (bounded length, valid
/// JSON, known dtypes, every tensor inside the file, sizes equal to dtype x shape, no overlaps), then tensors are
/// materialised one at a time straight from the mapping, so a large checkpoint is never copied whole into managed memory.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>The reference implementation's bound on header size; anything larger is refused before allocation.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    readonly MemoryMappedFile? map;
    readonly MemoryMappedViewAccessor? view;
    readonly byte* basePointer;
    readonly long dataStart;

    SafeTensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePointer, long dataStart,
        Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        this.map = map;
        this.view = view;
        this.basePointer = basePointer;
        this.dataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path))
            throw new LoraBuildException(ErrorCodes.SafeTensorsMissingFile, "Safetensors file not found.", path);
        var length = IO.LinkedFiles.Length(path);
        if (length < 8)
            throw new LoraBuildException(ErrorCodes.SafeTensorsTooSmall, $"File is {length} bytes: too small to be safetensors (8-byte header length missing).", path);

        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;

            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(pointer, 8));
            if (headerLength > MaxHeaderBytes || (long)headerLength > length - 8)
                throw new LoraBuildException(ErrorCodes.SafeTensorsHeaderLength,
                    $"Header length {headerLength} is impossible for a {length}-byte file (limit {MaxHeaderBytes}). The file is truncated or not safetensors.", path);

            var header = new ReadOnlySpan<byte>(pointer + 8, (int)headerLength);
            var dataLength = length - 8 - (long)headerLength;
            var (tensors, metadata) = ParseHeader(header, dataLength, path);
            return new SafeTensorsFile(path, map, view, pointer, 8 + (long)headerLength, tensors, metadata);
        }
        catch
        {
            view?.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    static (Dictionary<string, SafeTensorInfo>, Dictionary<string, string>) ParseHeader(ReadOnlySpan<byte> header, long dataLength, string path)
    {
        // The format requires UTF-8; a stray byte would otherwise surface as an exception deep in the JSON reader.
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw new LoraBuildException(ErrorCodes.SafeTensorsHeaderJson, "Header is not valid UTF-8.", path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new LoraBuildException(ErrorCodes.SafeTensorsHeaderJson, $"Header is not valid JSON: {e.Message}", path);
        }

        using (document)
        try
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new LoraBuildException(ErrorCodes.SafeTensorsHeaderJson, "Header must be a JSON object.", path);

            var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw new LoraBuildException(ErrorCodes.SafeTensorsHeaderJson, "__metadata__ must be an object of strings.", path);
                    foreach (var entry in property.Value.EnumerateObject())
                    {
                        if (entry.Value.ValueKind != JsonValueKind.String)
                            throw new LoraBuildException(ErrorCodes.SafeTensorsHeaderJson, $"__metadata__ value '{entry.Name}' must be a string.", path);
                        metadata[entry.Name] = entry.Value.GetString()!;
                    }
                    continue;
                }
                tensors[property.Name] = ParseTensor(property.Name, property.Value, dataLength, path);
            }

            CheckCoverage(tensors.Values, dataLength, path);
            return (tensors, metadata);
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses to decode a name or string holding a lone surrogate escape such as \ud800.
            throw new LoraBuildException(ErrorCodes.SafeTensorsHeaderJson, "Header holds a string that is not valid Unicode (a lone surrogate escape such as \\ud800).", path);
        }
    }

    /// <summary>
    /// As the reference implementation: sorted by offset, tensors tile the data section exactly — the first begins at 0,
    /// each begins where the previous ends, the last ends at the end of the file. A header length off by a byte, a hole
    /// or trailing bytes all mean the offsets do not describe this file's bytes.
    /// </summary>
    static void CheckCoverage(IEnumerable<SafeTensorInfo> tensors, long dataLength, string path)
    {
        SafeTensorInfo? previous = null;
        foreach (var info in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            var expectedBegin = previous?.End ?? 0;
            if (info.Begin < expectedBegin)
                throw new LoraBuildException(ErrorCodes.SafeTensorsOverlap,
                    $"Tensors '{previous!.Name}' [{previous.Begin}, {previous.End}) and '{info.Name}' [{info.Begin}, {info.End}) overlap.", path);
            if (info.Begin > expectedBegin)
                throw new LoraBuildException(ErrorCodes.SafeTensorsCoverage,
                    $"Data bytes [{expectedBegin}, {info.Begin}) before tensor '{info.Name}' belong to no tensor: the header does not describe this file's data.", path);
            previous = info;
        }
        var end = previous?.End ?? 0;
        if (end != dataLength)
            throw new LoraBuildException(ErrorCodes.SafeTensorsCoverage,
                $"The tensors cover {end} bytes but the data section holds {dataLength}: {dataLength - end} trailing byte(s). " +
                "The header length or offsets are wrong (every tensor would be read shifted) or the file was appended to.", path);
    }

    static SafeTensorInfo ParseTensor(string name, JsonElement value, long dataLength, string path)
    {
        LoraBuildException Bad(string what) => new(ErrorCodes.SafeTensorsHeaderJson, $"Tensor '{name}': {what}", path);
        if (value.ValueKind != JsonValueKind.Object) throw Bad("entry must be an object.");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Bad("missing 'dtype'.");
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Bad("missing 'shape'.");
        if (!value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
            throw Bad("'data_offsets' must be [begin, end].");

        var dtype = SafeTensorDTypes.Parse(dtypeElement.GetString()!, name, path);
        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var size) || size < 0) throw Bad("shape entries must be non-negative integers.");
            shape[i++] = size;
        }
        var offsets = offsetsElement.EnumerateArray().Select(o =>
            o.ValueKind == JsonValueKind.Number && o.TryGetInt64(out var v) && v >= 0 ? v : throw Bad("offsets must be non-negative integers.")).ToArray();
        var (begin, end) = (offsets[0], offsets[1]);
        if (begin > end || end > dataLength)
            throw new LoraBuildException(ErrorCodes.SafeTensorsOffsets,
                $"Tensor '{name}': data_offsets [{begin}, {end}) lie outside the {dataLength}-byte data section (file truncated or corrupt).", path);

        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * dtype.Size());
        }
        catch (OverflowException)
        {
            throw new LoraBuildException(ErrorCodes.SafeTensorsOffsets, $"Tensor '{name}': shape [{string.Join(", ", shape)}] is too large.", path);
        }
        if (end - begin != expected)
            throw new LoraBuildException(ErrorCodes.SafeTensorsOffsets,
                $"Tensor '{name}': {end - begin} bytes stored but {dtype} x [{string.Join(", ", shape)}] needs {expected}.", path);
        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    public SafeTensorInfo Info(string name) =>
        Tensors.TryGetValue(name, out var info)
            ? info
            : throw new LoraBuildException(ErrorCodes.SafeTensorsMissingTensor, $"Tensor '{name}' is not in this file.", Path);

    /// <summary>The stored bytes of a tensor, straight from the mapping (valid while this file is open).</summary>
    public ReadOnlySpan<byte> RawBytes(SafeTensorInfo info, long offset, int count) =>
        new(basePointer + dataStart + info.Begin + offset, count);

    /// <summary>
    /// Materialises a tensor on the CPU in its stored dtype (or converted to <paramref name="dtype"/>). Converting between
    /// integer and floating point is refused: an F32 tensor relabelled I32 has the right size but is not these numbers.
    /// </summary>
    public Tensor Read(string name, ScalarType? dtype = null)
    {
        var info = Info(name);
        if (dtype is { } wanted && info.DType.IsFloatingPoint() != SafeTensorDTypes.FromScalarType(wanted).IsFloatingPoint())
            throw new LoraBuildException(ErrorCodes.SafeTensorsDTypeMismatch,
                $"Tensor '{name}' is stored as {info.DType} but is used as {wanted}: refusing to convert between integer and floating point.", Path);
        var tensor = empty(info.Shape, info.DType.ToScalarType());
        if (info.ElementCount > 0)
        {
            // Copy in chunks below 2 GiB: Span-based access is int-indexed.
            using var flat = tensor.view(-1);
            var elementSize = info.DType.Size();
            var chunkElements = (int.MaxValue / 2) / elementSize;
            for (long start = 0; start < info.ElementCount; start += chunkElements)
            {
                var count = Math.Min(chunkElements, info.ElementCount - start);
                using var slice = flat.narrow(0, start, count);
                RawBytes(info, start * elementSize, (int)(count * elementSize)).CopyTo(slice.bytes);
            }
        }
        if (info.DType.IsFloatingPoint()) RefuseNonFinite(tensor, name);
        if (dtype is { } target && target != tensor.dtype)
        {
            var converted = tensor.to_type(target);
            tensor.Dispose();
            return converted;
        }
        return tensor;
    }

    /// <summary>
    /// A weight holding NaN or Inf makes every output non-finite: refused while the tensor is materialised (one pass
    /// over memory already read, not the file), naming the file, the tensor and how many values are bad.
    /// </summary>
    void RefuseNonFinite(Tensor tensor, string name)
    {
        using var scope = NewDisposeScope();
        var bad = tensor.isfinite().logical_not_();
        var count = bad.sum().item<long>();
        if (count == 0) return;
        var first = bad.reshape(-1).nonzero().select(1, 0)[0].item<long>();
        var value = tensor.reshape(-1)[first].to_type(ScalarType.Float64).item<double>();
        tensor.Dispose();
        throw new LoraBuildException(ErrorCodes.SafeTensorsNonFinite,
            $"Tensor '{name}' holds {count} non-finite value{(count == 1 ? "" : "s")} (the first, {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}, at flat index {first}); " +
            "a NaN or Inf weight makes every output non-finite. Re-export or retrain this file.", Path);
    }

    public void Dispose()
    {
        if (view is not null)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
        }
        map?.Dispose();
    }
}
