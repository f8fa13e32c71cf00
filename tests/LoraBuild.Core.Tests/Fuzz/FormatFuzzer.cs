using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace LoraBuild.Tests.Fuzz;

/// <summary>
/// Seeded mutators for the input formats LoraBuild reads. Structure-aware where it pays (JSON values replaced by
/// hostile ones, safetensors length prefixes and offsets bent) and plain byte mutations on top, so both "valid JSON
/// with a wrong value" and "not JSON at all" are covered. Deterministic for a given seed.
/// </summary>
public sealed class FormatFuzzer(int seed)
{
    readonly Random random = new(seed);

    /// <summary>JSON values that have broken parsers before: wrong types, out-of-range numbers, invalid Unicode.</summary>
    static readonly string[] HostileJsonValues =
    [
        "null", "true", "0", "-1", "-16", "2.5", "1e300", "-1e300", "1e-320", "2147483647", "2147483648", "-2147483649",
        "1000000000", "1000000000000", "9223372036854775807", "18446744073709551616", "\"\"", "\"x\"", "\"\\ud800\"",
        "\"\\udc00x\"", "\"(unclosed\"", "\"a\\u0000b\"", "[]", "[1]", "[\"a\"]", "[null]", "[[1]]", "{}", "{\"a\":1}",
        "{\"\\ud800\":1}", "[1,2]", "\"all-linear\"", "\"nf4\"", "-0", "0.0", "\"1e5\"",
    ];

    static readonly byte[][] HostileBytes =
    [
        [0xFF], [0xC3], [0xE9], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x00], [(byte)'"'], [(byte)'{'], [(byte)'}'],
        [(byte)'['], [(byte)']'], [(byte)','], [(byte)':'], [(byte)'\\'], [(byte)'\n'], "\\ud800"u8.ToArray(), "\\u"u8.ToArray(),
        "1e999"u8.ToArray(), "-"u8.ToArray(), "null"u8.ToArray(),
    ];

    public int Next(int max) => random.Next(max);

    public T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    /// <summary>Random byte-level edits: flip, overwrite with a hostile byte sequence, delete, duplicate, truncate.</summary>
    public byte[] MutateBytes(byte[] input, int edits = 0)
    {
        var bytes = new List<byte>(input);
        edits = edits > 0 ? edits : 1 + random.Next(4);
        for (var i = 0; i < edits; i++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes.InsertRange(at, Pick(HostileBytes));
                    break;
                case 2 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(8)));
                    break;
                case 3 when bytes.Count > 0:
                    var length = Math.Min(bytes.Count - at, 1 + random.Next(16));
                    bytes.InsertRange(random.Next(bytes.Count), bytes.GetRange(at, length));
                    break;
                case 4 when bytes.Count > 0:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                default:
                    var hostile = Pick(HostileBytes);
                    for (var j = 0; j < hostile.Length && at + j < bytes.Count; j++) bytes[at + j] = hostile[j];
                    break;
            }
        }
        return bytes.ToArray();
    }

    /// <summary>JSON text with values replaced, keys removed or added (nested too); falls back to bytes when unparsable.</summary>
    public byte[] MutateJson(string json)
    {
        try
        {
            return MutateJsonTree(json);
        }
        catch (Exception e) when (e is InvalidOperationException or System.Text.Json.JsonException)
        {
            // The tree API itself refuses some texts (a lone surrogate in a string): mutate the bytes instead.
            return MutateBytes(Encoding.UTF8.GetBytes(json));
        }
    }

    byte[] MutateJsonTree(string json)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (System.Text.Json.JsonException)
        {
            return MutateBytes(Encoding.UTF8.GetBytes(json));
        }
        var edits = 1 + random.Next(3);
        for (var i = 0; i < edits; i++)
        {
            var containers = new List<JsonNode>();
            Collect(root, containers);
            if (containers.Count == 0 || random.Next(10) == 0)
            {
                root = JsonNode.Parse(Pick(HostileJsonValues));
                continue;
            }
            var target = Pick(containers);
            var replacement = JsonNode.Parse(Pick(HostileJsonValues));
            switch (target)
            {
                case JsonObject obj when obj.Count > 0 && random.Next(4) > 0:
                    var key = obj.ElementAt(random.Next(obj.Count)).Key;
                    if (random.Next(5) == 0) obj.Remove(key);
                    else obj[key] = replacement;
                    break;
                case JsonObject obj:
                    obj["fuzz_" + random.Next(1000)] = replacement;
                    break;
                case JsonArray array when array.Count > 0:
                    array[random.Next(array.Count)] = replacement;
                    break;
                case JsonArray array:
                    array.Add(replacement);
                    break;
            }
        }
        var text = root?.ToJsonString() ?? "null";
        // Escapes such as \ud800 are written re-escaped by ToJsonString; put the raw escape back half the time.
        var bytes = Encoding.UTF8.GetBytes(random.Next(2) == 0 ? text.Replace("\\\\ud800", "\\ud800").Replace("\\\\udc00", "\\udc00") : text);
        return random.Next(4) == 0 ? MutateBytes(bytes, 1) : bytes;
    }

    static void Collect(JsonNode? node, List<JsonNode> into)
    {
        switch (node)
        {
            case JsonObject obj:
                into.Add(obj);
                foreach (var (_, child) in obj) Collect(child, into);
                break;
            case JsonArray array:
                into.Add(array);
                foreach (var child in array) Collect(child, into);
                break;
        }
    }

    /// <summary>
    /// A safetensors file from a valid one: its header mutated as JSON or bytes, the length prefix bent (off by one,
    /// huge, recomputed), the data section truncated or extended.
    /// </summary>
    public byte[] MutateSafeTensors(byte[] file)
    {
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = file.AsSpan(8, headerLength).ToArray();
        var data = file.AsSpan(8 + headerLength).ToArray();
        var choice = random.Next(6);
        if (choice <= 2) header = random.Next(2) == 0 ? MutateJson(Encoding.UTF8.GetString(header).TrimEnd()) : MutateBytes(header);
        ulong prefix = (ulong)header.Length;
        if (choice == 3 || random.Next(5) == 0)
            prefix = random.Next(5) switch
            {
                0 => prefix - 1,
                1 => prefix + 1,
                2 => ulong.MaxValue - (ulong)random.Next(16),
                3 => (ulong)random.Next(64),
                _ => 100_000_001,
            };
        if (choice == 4 && data.Length > 0) data = data[..random.Next(data.Length)];
        if (choice == 5) data = [.. data, .. new byte[1 + random.Next(16)]];
        var result = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, prefix);
        header.CopyTo(result, 8);
        data.CopyTo(result, 8 + header.Length);
        return random.Next(8) == 0 ? MutateBytes(result, 1) : result;
    }

    /// <summary>
    /// A valid safetensors file with NaN, +Inf or -Inf written into one floating-point tensor: one value, a few, or all
    /// of them (held-out mutants of this kind once passed silently and gave non-finite logits).
    /// </summary>
    public byte[] MutateNonFinite(byte[] file)
    {
        var result = (byte[])file.Clone();
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using var header = System.Text.Json.JsonDocument.Parse(file.AsMemory(8, headerLength));
        var tensors = header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__" &&
            p.Value.GetProperty("dtype").GetString() is "F32" or "F16" or "BF16" &&
            p.Value.GetProperty("data_offsets")[1].GetInt64() > p.Value.GetProperty("data_offsets")[0].GetInt64()).ToList();
        var tensor = Pick(tensors).Value;
        var dtype = tensor.GetProperty("dtype").GetString()!;
        var size = dtype == "F32" ? 4 : 2;
        var begin = 8 + headerLength + tensor.GetProperty("data_offsets")[0].GetInt64();
        var count = (tensor.GetProperty("data_offsets")[1].GetInt64() - tensor.GetProperty("data_offsets")[0].GetInt64()) / size;
        var kind = random.Next(3); // NaN, +Inf, -Inf
        byte[] pattern = (dtype, kind) switch
        {
            ("F32", 0) => BitConverter.GetBytes(float.NaN),
            ("F32", 1) => BitConverter.GetBytes(float.PositiveInfinity),
            ("F32", _) => BitConverter.GetBytes(float.NegativeInfinity),
            ("F16", 0) => [0x00, 0x7E], ("F16", 1) => [0x00, 0x7C], ("F16", _) => [0x00, 0xFC],
            (_, 0) => [0xC0, 0x7F], (_, 1) => [0x80, 0x7F], (_, _) => [0x80, 0xFF],
        };
        var indices = random.Next(3) switch
        {
            0 => [random.NextInt64(count)],
            1 => Enumerable.Range(0, 1 + random.Next(8)).Select(_ => random.NextInt64(count)).ToArray(),
            _ => Enumerable.Range(0, (int)count).Select(i => (long)i).ToArray(),
        };
        foreach (var index in indices) pattern.CopyTo(result, begin + index * size);
        return result;
    }

    /// <summary>JSONL: whole lines mutated as JSON, lines duplicated, dropped or joined, and raw byte edits.</summary>
    public byte[] MutateJsonl(string[] lines)
    {
        var chosen = Enumerable.Range(0, 1 + random.Next(6)).Select(_ => Encoding.UTF8.GetBytes(Pick(lines))).ToList();
        var edits = 1 + random.Next(3);
        for (var i = 0; i < edits; i++)
        {
            var at = random.Next(chosen.Count);
            chosen[at] = random.Next(3) switch
            {
                0 => MutateJson(Encoding.UTF8.GetString(chosen[at])),
                1 => MutateBytes(chosen[at]),
                _ => random.Next(2) == 0 ? [] : Encoding.UTF8.GetBytes(Pick(HostileJsonValues)),
            };
        }
        var output = new List<byte>();
        foreach (var line in chosen)
        {
            output.AddRange(line);
            output.AddRange(random.Next(10) == 0 ? "\r\n"u8.ToArray() : "\n"u8.ToArray());
        }
        return output.ToArray();
    }

    static readonly string[] HostileYamlValues =
    [
        "1.5", "-1", "0", "2147483647", "2147483648", "1e300", "-1e300", ".nan", ".inf", "'(unclosed'", "[a, b]", "{a: 1}",
        "{[a]: 4}", "\"\\ud800\"", "~", "''", "yes", "\"x\"", "&a 1", "*a", "!!binary AAAA", "|\n  text", "[[1]]", "1e5",
    ];

    /// <summary>YAML: values replaced by hostile scalars and flow collections, keys made complex, documents appended, bytes edited.</summary>
    public byte[] MutateYaml(string[] lines)
    {
        var list = lines.ToList();
        var edits = 1 + random.Next(3);
        for (var i = 0; i < edits; i++)
        {
            var at = random.Next(list.Count);
            var colon = list[at].IndexOf(':');
            switch (random.Next(6))
            {
                case 0 or 1 when colon > 0:
                    list[at] = list[at][..(colon + 1)] + " " + Pick(HostileYamlValues);
                    break;
                case 2 when colon > 0:
                    list[at] = Pick(new[] { "[a, b]", "{a: 1}", "? [x]", "'\\ud800'", "\"k\\ud800\"" }) + list[at][colon..];
                    break;
                case 3:
                    list.Insert(at, Pick(new[] { "---", "...", "%YAML 1.2", "  indented: 1", "- item", "r: 4", "unknown_key: 1" }));
                    break;
                case 4:
                    list.RemoveAt(at);
                    if (list.Count == 0) list.Add("");
                    break;
                default:
                    return MutateBytes(Encoding.UTF8.GetBytes(string.Join("\n", list)));
            }
        }
        return Encoding.UTF8.GetBytes(string.Join("\n", list) + "\n");
    }
}
