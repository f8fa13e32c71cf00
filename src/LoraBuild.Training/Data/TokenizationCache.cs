using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LoraBuild.IO;

namespace LoraBuild.Training.Data;

/// <summary>
/// Tokenised examples cached by content hash: the key is a SHA-256 of every example's content and location, the model
/// folder's tokenizer and chat-template files, and the encoder's settings (sequence_len, train_on_inputs, the learned end
/// token). A hit skips tokenisation (the slow part: see lorabuild bench-data); any change to the data, the tokenizer or
/// those settings is a different key. Entries are written to a temporary file and renamed, so a reader never sees half
/// of one; an unreadable entry is a miss.
/// </summary>
public sealed class TokenizationCache(string folder)
{
    const int FormatVersion = 1;

    public static TokenizationCache Default() => new(Path.Combine(CachePaths.Root(), "tokenized"));

    public string Key(IEnumerable<RawExample> examples, string modelDirectory, string settings)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string? text)
        {
            var bytes = Encoding.UTF8.GetBytes(text ?? "\0null");
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
        }
        // The worker version too: a newer encoder may tokenise the same data differently.
        Add($"v{FormatVersion}|{RunFingerprint.WorkerVersion}|{settings}");
        foreach (var name in new[] { "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json" })
        {
            var path = Path.Combine(modelDirectory, name);
            Add(File.Exists(path) ? FileHashes.Sha256(path) : "-");
        }
        foreach (var e in examples)
        {
            Add($"{e.Format}|{e.Location?.ToString() ?? $"{e.File}:{e.Line}"}|{e.SplitLongText}");
            Add(e.Text); Add(e.Prompt); Add(e.Completion);
            if (e.Messages is not null)
                foreach (var m in e.Messages) { Add(m.Role); Add(m.Content); Add(m.Extra is null ? null : JsonSerializer.Serialize(m.Extra)); }
            if (e.Segments is not null)
                foreach (var s in e.Segments) { Add(s.Label ? "1" : "0"); Add(s.Text); }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    string PathOf(string key) => Path.Combine(folder, key + ".bin");

    public (IReadOnlyList<TokenizedExample>, EncodingReport)? TryLoad(string key)
    {
        var path = PathOf(key);
        if (!File.Exists(path)) return null;
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
            if (reader.ReadInt32() != FormatVersion) return null;
            var report = new EncodingReport(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadInt64());
            var count = reader.ReadInt32();
            var list = new List<TokenizedExample>(count);
            for (var i = 0; i < count; i++)
            {
                var source = reader.ReadString();
                var length = reader.ReadInt32();
                var ids = new int[length];
                var labels = new int[length];
                for (var j = 0; j < length; j++) ids[j] = reader.ReadInt32();
                for (var j = 0; j < length; j++) labels[j] = reader.ReadInt32();
                list.Add(new TokenizedExample(ids, labels, source));
            }
            return (list, report);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Store(string key, IReadOnlyList<TokenizedExample> examples, EncodingReport report)
    {
        Directory.CreateDirectory(folder);
        var temp = PathOf(key) + $".{Environment.ProcessId}.tmp";
        using (var writer = new BinaryWriter(File.Create(temp), Encoding.UTF8))
        {
            writer.Write(FormatVersion);
            writer.Write(report.Examples); writer.Write(report.Truncated); writer.Write(report.LongestTokens); writer.Write(report.Tokens); writer.Write(report.TrainableTokens);
            writer.Write(examples.Count);
            foreach (var e in examples)
            {
                writer.Write(e.Source);
                writer.Write(e.Length);
                foreach (var id in e.InputIds) writer.Write(id);
                foreach (var label in e.Labels) writer.Write(label);
            }
        }
        File.Move(temp, PathOf(key), overwrite: true);
    }
}
