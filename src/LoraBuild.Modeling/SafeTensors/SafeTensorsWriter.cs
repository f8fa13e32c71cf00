using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LoraBuild.IO;
using static TorchSharp.torch;

namespace LoraBuild.SafeTensors;

/// <summary>
/// Writes safetensors files as the reference implementation does: 8-byte little-endian header length, a JSON header
/// padded with spaces to a multiple of 8, then tensors back to back. Tensors are laid out in name order, so the same
/// tensors always give the same bytes. The file appears only when complete (temp file, then rename).
/// </summary>
public static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var headerBytes = BuildHeader(ordered, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)headerBytes.Length);
            stream.Write(length);
            stream.Write(headerBytes);
            foreach (var (_, tensor) in ordered)
            {
                using var cpu = tensor.detach().to(CPU).contiguous();
                if (cpu.numel() == 0) continue;
                using var flat = cpu.view(-1);
                var elementSize = (int)cpu.ElementSize;
                var chunk = (int.MaxValue / 2) / elementSize;
                for (long start = 0; start < flat.numel(); start += chunk)
                {
                    using var slice = flat.narrow(0, start, Math.Min(chunk, flat.numel() - start));
                    stream.Write(slice.bytes);
                }
            }
        });
    }

    static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal)) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in tensors)
            {
                var bytes = tensor.numel() * tensor.ElementSize;
                json.WriteStartObject(name);
                json.WriteString("dtype", SafeTensorDTypes.FromScalarType(tensor.dtype).ToString());
                json.WriteStartArray("shape");
                foreach (var dim in tensor.shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        var header = buffer.ToArray();
        var padded = (header.Length + 7) / 8 * 8;
        var result = new byte[padded];
        header.CopyTo(result, 0);
        result.AsSpan(header.Length).Fill((byte)' ');
        return result;
    }
}
