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
        var length = new FileInfo(path).Length;
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

            // Sorted by offset, each tensor must begin at or after the end of the previous one.
            SafeTensorInfo? previous = null;
            foreach (var info in tensors.Values.OrderBy(t => t.Begin).ThenBy(t => t.End))
            {
                if (previous is not null && info.Begin < previous.End)
                    throw new LoraBuildException(ErrorCodes.SafeTensorsOverlap,
                        $"Tensors '{previous.Name}' [{previous.Begin}, {previous.End}) and '{info.Name}' [{info.Begin}, {info.End}) overlap.", path);
                previous = info;
            }
            return (tensors, metadata);
        }
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

    /// <summary>Materialises a tensor on the CPU in its stored dtype (or converted to <paramref name="dtype"/>).</summary>
    public Tensor Read(string name, ScalarType? dtype = null)
    {
        var info = Info(name);
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
        if (dtype is { } target && target != tensor.dtype)
        {
            var converted = tensor.to_type(target);
            tensor.Dispose();
            return converted;
        }
        return tensor;
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
