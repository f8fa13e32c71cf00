using System.Text;
using LoraBuild.IO;

namespace LoraBuild.Export.Gguf;

/// <summary>
/// Writes a GGUF v3 file (gguf.h's layout): header, metadata, tensor infos, then the tensor data, each tensor at an
/// offset aligned to <see cref="Alignment"/>. Every size is known from the shapes, so the header is written first and the
/// tensors are produced and streamed one by one; the file appears only when complete (temp file, then rename).
/// </summary>
public static class GgufWriter
{
    public const uint Version = 3;
    public const int Alignment = 32;
    static readonly byte[] Magic = "GGUF"u8.ToArray();

    /// <param name="progress">Called after each tensor with (tensors written, total, tensor name).</param>
    public static void Write(string path, GgufMetadata metadata, IReadOnlyList<GgufTensor> tensors, Action<int, int, string>? progress = null)
    {
        var duplicate = tensors.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"tensor '{duplicate.Key}' is listed twice", nameof(tensors));
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(Version);
            writer.Write((ulong)tensors.Count);
            writer.Write((ulong)metadata.Entries.Count);
            foreach (var entry in metadata.Entries)
            {
                WriteString(writer, entry.Key);
                writer.Write((uint)entry.Type);
                WriteValue(writer, entry.Type, entry.Value, entry.ElementType);
            }
            ulong offset = 0;
            var offsets = new ulong[tensors.Count];
            for (var i = 0; i < tensors.Count; i++)
            {
                var tensor = tensors[i];
                WriteString(writer, tensor.Name);
                writer.Write((uint)tensor.Shape.Length);
                // ggml lists dimensions fastest-varying first: the reverse of PyTorch's shape.
                for (var d = tensor.Shape.Length - 1; d >= 0; d--) writer.Write((ulong)tensor.Shape[d]);
                writer.Write((uint)tensor.Type);
                writer.Write(offset);
                offsets[i] = offset;
                offset = Align((ulong)tensor.Type.ByteCount(tensor.ElementCount));
                offset += offsets[i];
            }
            Pad(writer);
            var dataStart = writer.BaseStream.Position;
            for (var i = 0; i < tensors.Count; i++)
            {
                var tensor = tensors[i];
                var values = tensor.Values();
                if (values.LongLength != tensor.ElementCount)
                    throw new InvalidOperationException($"tensor '{tensor.Name}' produced {values.LongLength} values for shape [{string.Join(", ", tensor.Shape)}]");
                if (writer.BaseStream.Position - dataStart != (long)offsets[i])
                    throw new InvalidOperationException($"tensor '{tensor.Name}' would start at the wrong offset");
                writer.Write(GgufTensorEncoder.Encode(values, tensor.Type));
                Pad(writer);
                progress?.Invoke(i + 1, tensors.Count, tensor.Name);
            }
        });
    }

    static ulong Align(ulong size) => (size + Alignment - 1) / Alignment * Alignment;

    static void Pad(BinaryWriter writer)
    {
        var position = writer.BaseStream.Position;
        var padded = (long)Align((ulong)position);
        for (; position < padded; position++) writer.Write((byte)0);
    }

    static void WriteString(BinaryWriter writer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }

    static void WriteValue(BinaryWriter writer, GgufValueType type, object value, GgufValueType elementType)
    {
        switch (type)
        {
            case GgufValueType.String: WriteString(writer, (string)value); break;
            case GgufValueType.UInt32: writer.Write((uint)value); break;
            case GgufValueType.Int32: writer.Write((int)value); break;
            case GgufValueType.Float32: writer.Write((float)value); break;
            case GgufValueType.Bool: writer.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.Array:
                writer.Write((uint)elementType);
                var list = (System.Collections.IList)value;
                writer.Write((ulong)list.Count);
                foreach (var item in list) WriteValue(writer, elementType, item!, GgufValueType.UInt8);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(type), $"GGUF value type {type} is not written by LoraBuild");
        }
    }
}
