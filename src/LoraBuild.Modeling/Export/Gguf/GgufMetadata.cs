namespace LoraBuild.Export.Gguf;

/// <summary>One metadata entry: a key, its type, and its value (for arrays, the element type and a list).</summary>
public sealed record GgufEntry(string Key, GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8);

/// <summary>
/// The key/value section of a GGUF file, in insertion order (llama.cpp does not care about order; humans reading a dump do).
/// Setting a key again replaces its value in place.
/// </summary>
public sealed class GgufMetadata
{
    readonly List<GgufEntry> entries = new();

    public IReadOnlyList<GgufEntry> Entries => entries;

    public GgufEntry? Find(string key) => entries.FirstOrDefault(e => e.Key == key);

    void Set(GgufEntry entry)
    {
        var index = entries.FindIndex(e => e.Key == entry.Key);
        if (index >= 0) entries[index] = entry;
        else entries.Add(entry);
    }

    public GgufMetadata String(string key, string value) { Set(new(key, GgufValueType.String, value)); return this; }
    public GgufMetadata UInt32(string key, uint value) { Set(new(key, GgufValueType.UInt32, value)); return this; }
    public GgufMetadata UInt32(string key, int value) => UInt32(key, checked((uint)value));
    public GgufMetadata Float32(string key, double value) { Set(new(key, GgufValueType.Float32, (float)value)); return this; }
    public GgufMetadata Bool(string key, bool value) { Set(new(key, GgufValueType.Bool, value)); return this; }
    public GgufMetadata Strings(string key, IReadOnlyList<string> values) { Set(new(key, GgufValueType.Array, values, GgufValueType.String)); return this; }
    public GgufMetadata Int32s(string key, IReadOnlyList<int> values) { Set(new(key, GgufValueType.Array, values, GgufValueType.Int32)); return this; }
    public GgufMetadata Float32s(string key, IReadOnlyList<float> values) { Set(new(key, GgufValueType.Array, values, GgufValueType.Float32)); return this; }
}
