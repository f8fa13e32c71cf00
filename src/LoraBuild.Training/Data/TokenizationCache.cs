using System.Security.Cryptography;
using System.Text;
using LoraBuild.IO;

namespace LoraBuild.Training.Data;

/// <summary>
/// Tokenised examples cached by content hash, as memory-mapped <see cref="TokenizedStore"/> files: the key is a SHA-256
/// of the data (each dataset file's path and content hash, and how its entry reads it), the model folder's tokenizer and
/// chat-template files, and the encoder's settings (sequence_len, train_on_inputs, the learned end token). A hit skips
/// tokenisation (the slow part: see lorabuild bench-data); any change to the data, the tokenizer or those settings is a
/// different key. Entries are written to a temporary file and renamed, so a reader never sees half of one; an
/// unreadable entry is a miss.
/// </summary>
public sealed class TokenizationCache(string folder)
{
    const int FormatVersion = 2;

    public static TokenizationCache Default() => new(Path.Combine(CachePaths.Root(), "tokenized"));

    /// <summary>
    /// The key of some data read with some settings: <paramref name="data"/> describes how it is read (dataset entries,
    /// derived steps such as packing), <paramref name="files"/> are the files read, hashed by content.
    /// </summary>
    public string Key(IEnumerable<string> data, IEnumerable<string> files, string modelDirectory, string settings)
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
        foreach (var item in data) Add(item);
        foreach (var file in files)
        {
            // The path too: examples name their file and line.
            Add(Path.GetFullPath(file));
            Add(FileHashes.Sha256(file));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    string PathOf(string key) => Path.Combine(folder, key + ".tokens");

    /// <summary>The stored examples of <paramref name="key"/>, or null (a miss).</summary>
    public TokenizedStore? TryOpen(string key) => TokenizedStore.TryOpen(PathOf(key));

    /// <summary>A writer whose commit stores the entry of <paramref name="key"/>.</summary>
    public TokenizedStoreWriter Writer(string key) => new(PathOf(key));

    /// <summary>The entry of <paramref name="key"/>: opened when present, else written by <paramref name="fill"/> and opened.</summary>
    public (TokenizedStore Store, bool Cached) GetOrAdd(string key, Func<TokenizedStoreWriter, int> fill)
    {
        if (TryOpen(key) is { } hit) return (hit, true);
        using (var writer = Writer(key)) writer.Commit(fill(writer));
        return (TryOpen(key) ?? throw new IOException($"the tokenisation cache entry {PathOf(key)} could not be read back after it was written"), false);
    }
}
