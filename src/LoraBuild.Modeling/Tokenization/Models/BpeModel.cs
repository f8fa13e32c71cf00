using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace LoraBuild.Tokenization.Models;

/// <summary>
/// HF tokenizers' BPE model: a word is split into characters (each looked up in the vocabulary, else its UTF-8 bytes as
/// &lt;0xXX&gt; tokens with byte_fallback, else unk, fused when fuse_unk), then pairs are merged lowest rank first,
/// leftmost on ties. ignore_merges takes a word that is itself in the vocabulary whole. Words are cached, so a corpus
/// pays for each distinct word once.
/// </summary>
public sealed class BpeModel
{
    const int CacheCapacity = 1_000_000;
    const int CachedWordMaxLength = 256;

    readonly Dictionary<string, int> vocab;
    readonly string[] idToToken;
    readonly Dictionary<long, (int Rank, int NewId)> merges;
    readonly int? unkId;
    readonly bool fuseUnk, byteFallback, ignoreMerges;
    readonly string prefix, suffix;
    readonly int[] byteTokens;
    readonly ConcurrentDictionary<string, int[]> cache = new();

    BpeModel(Dictionary<string, int> vocab, Dictionary<long, (int, int)> merges, int? unkId, bool fuseUnk, bool byteFallback,
        bool ignoreMerges, string prefix, string suffix)
    {
        this.vocab = vocab;
        this.merges = merges;
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.byteFallback = byteFallback;
        this.ignoreMerges = ignoreMerges;
        this.prefix = prefix;
        this.suffix = suffix;
        spanLookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        idToToken = new string[vocab.Count == 0 ? 0 : vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab) idToToken[id] = token;
        metaspaceBoundaries = vocab.ContainsKey("\u2581");
        foreach (var token in vocab.Keys)
            for (var i = 1; i < token.Length; i++)
                if (token[i] == Metaspace) charsJoinedToMetaspace.Add(token[i - 1]);
        byteTokens = new int[256];
        for (var b = 0; b < 256; b++) byteTokens[b] = vocab.TryGetValue($"<0x{b:X2}>", out var id) ? id : -1;
    }

    public IReadOnlyDictionary<string, int> Vocabulary => vocab;

    public string? IdToToken(int id) => id >= 0 && id < idToToken.Length ? idToToken[id] : null;

    internal static BpeModel? Read(JsonElement e, string path, ComponentReader reader)
    {
        var type = ComponentReader.Type(e);
        if (type != "BPE")
        {
            reader.Unsupported(path, $"model '{type}' is not supported (BPE is)");
            return null;
        }
        if (e.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
            reader.Unsupported(path + ".dropout", "BPE dropout is a training-time randomisation; LoraBuild encodes deterministically");
        if (!e.TryGetProperty("vocab", out var vocabJson) || vocabJson.ValueKind != JsonValueKind.Object)
        {
            reader.Invalid(path, "BPE without 'vocab'");
            return null;
        }
        var vocab = new Dictionary<string, int>(vocabJson.GetPropertyCount(), StringComparer.Ordinal);
        foreach (var p in vocabJson.EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();
        var prefix = ComponentReader.String(e, "continuing_subword_prefix") ?? "";
        var suffix = ComponentReader.String(e, "end_of_word_suffix") ?? "";

        var merges = new Dictionary<long, (int, int)>();
        if (e.TryGetProperty("merges", out var mergesJson) && mergesJson.ValueKind == JsonValueKind.Array)
        {
            var rank = 0;
            var bad = new List<int>();
            foreach (var m in mergesJson.EnumerateArray())
            {
                string? left, right;
                if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2)
                {
                    left = m[0].GetString();
                    right = m[1].GetString();
                }
                else if (m.ValueKind == JsonValueKind.String && m.GetString()!.Split(' ') is [var l, var r])
                {
                    left = l;
                    right = r;
                }
                else { left = right = null; }
                if (left is null || right is null || !vocab.TryGetValue(left, out var a) || !vocab.TryGetValue(right, out var b) ||
                    !vocab.TryGetValue(left + (prefix.Length > 0 && right.StartsWith(prefix, StringComparison.Ordinal) ? right[prefix.Length..] : right), out var merged))
                {
                    if (bad.Count < 5) bad.Add(rank);
                    rank++;
                    continue;
                }
                merges[Pair(a, b)] = (rank, merged); // a repeated pair keeps its last rank, as tokenizers' map does
                rank++;
            }
            if (bad.Count > 0) reader.Invalid(path + ".merges", $"merges at ranks {string.Join(", ", bad)} name tokens missing from the vocabulary");
        }
        int? unkId = null;
        if (ComponentReader.String(e, "unk_token") is { } unk)
        {
            if (vocab.TryGetValue(unk, out var id)) unkId = id;
            else reader.Invalid(path + ".unk_token", $"unk_token '{unk}' is not in the vocabulary");
        }
        return new BpeModel(vocab, merges, unkId, ComponentReader.Bool(e, "fuse_unk", false), ComponentReader.Bool(e, "byte_fallback", false),
            ComponentReader.Bool(e, "ignore_merges", false), prefix, suffix);
    }

    static long Pair(int a, int b) => ((long)a << 32) | (uint)b;

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Encode(string word, List<int> ids)
    {
        if (word.Length == 0) return;
        if (ignoreMerges && vocab.TryGetValue(word, out var whole))
        {
            ids.Add(whole);
            return;
        }
        if (cache.TryGetValue(word, out var cached))
        {
            ids.AddRange(cached);
            return;
        }
        if (word.Length > CachedWordMaxLength && metaspaceBoundaries)
        {
            EncodeAtMetaspaceBoundaries(word, ids);
            return;
        }
        var result = Merge(word);
        if (word.Length <= CachedWordMaxLength && cache.Count < CacheCapacity) cache.TryAdd(word, result);
        ids.AddRange(result);
    }

    /// <summary>
    /// SentencePiece-style files (Llama 2, Gemma) have no pre-tokenizer, so a whole document is one word. A token that
    /// spans the boundary between a character c and a following "▁" contains "c▁"; when no token does (Gemma has one such
    /// c, '>'), no merge can join the two sides, so encoding the parts separately (and caching them as words) gives the
    /// same ids.
    /// </summary>
    void EncodeAtMetaspaceBoundaries(string word, List<int> ids)
    {
        var start = 0;
        for (var i = 1; i <= word.Length; i++)
        {
            if (i < word.Length && !(word[i] == Metaspace && !charsJoinedToMetaspace.Contains(word[i - 1]))) continue;
            var part = word[start..i];
            if (part.Length > CachedWordMaxLength) ids.AddRange(Merge(part));
            else Encode(part, ids);
            start = i;
        }
    }

    const char Metaspace = '\u2581';
    readonly bool metaspaceBoundaries;
    readonly HashSet<char> charsJoinedToMetaspace = [Metaspace];

    readonly ConcurrentDictionary<int, int> characterIds = new();
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> spanLookup;

    bool CharacterId(ReadOnlySpan<char> character, out int id)
    {
        var key = character.Length == 1 ? character[0] : char.ConvertToUtf32(character[0], character[1]);
        if (characterIds.TryGetValue(key, out id)) return id >= 0;
        if (!spanLookup.TryGetValue(character, out id)) id = -1;
        characterIds.TryAdd(key, id);
        return id >= 0;
    }

    int[] Merge(string word)
    {
        // Symbols as a doubly linked list over arrays; removed ones are marked by a negative id.
        var ids = new List<int>(word.Length);
        // As tokenizers' merge_word: an unknown character waits as a pending unk (fused with the next unknown one when
        // fuse_unk) and is written when the next known character comes or at the end; byte-fallback bytes do not
        // flush it, so "xé" with an unknown x gives the bytes of é, then unk.
        int? pendingUnk = null;
        for (var i = 0; i < word.Length;)
        {
            var width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var character = word.AsSpan(i, width);
            int id;
            bool found;
            string? text = null;
            if (prefix.Length == 0 && suffix.Length == 0) found = CharacterId(character, out id);
            else
            {
                text = character.ToString();
                if (i > 0 && prefix.Length > 0) text = prefix + text;
                if (i + width == word.Length && suffix.Length > 0) text += suffix;
                found = vocab.TryGetValue(text, out id);
            }
            i += width;
            if (found)
            {
                if (pendingUnk is { } u) ids.Add(u);
                pendingUnk = null;
                ids.Add(id);
                continue;
            }
            if (byteFallback)
            {
                var bytes = Encoding.UTF8.GetBytes(text ?? character.ToString());
                if (Array.TrueForAll(bytes, b => byteTokens[b] >= 0))
                {
                    foreach (var b in bytes) ids.Add(byteTokens[b]);
                    continue;
                }
            }
            if (unkId is not { } unk) continue;
            if (pendingUnk is { } previous && !fuseUnk) ids.Add(previous);
            pendingUnk = unk;
        }
        if (pendingUnk is { } last) ids.Add(last);
        var count = ids.Count;
        if (count < 2) return ids.ToArray();

        var symbol = ids.ToArray();
        var next = new int[count];
        var prev = new int[count];
        for (var p = 0; p < count; p++)
        {
            next[p] = p + 1 < count ? p + 1 : -1;
            prev[p] = p - 1;
        }
        var queue = new PriorityQueue<(int Pos, int NewId), long>(count);
        void Enqueue(int pos)
        {
            var right = next[pos];
            if (right >= 0 && merges.TryGetValue(Pair(symbol[pos], symbol[right]), out var merge))
                queue.Enqueue((pos, merge.NewId), ((long)merge.Rank << 32) | (uint)pos);
        }
        for (var p = 0; p < count - 1; p++) Enqueue(p);
        var alive = count;
        while (queue.TryDequeue(out var top, out _))
        {
            var pos = top.Pos;
            if (symbol[pos] < 0 || next[pos] < 0) continue;
            var right = next[pos];
            // The pair may have changed since it was queued: merge only if it still produces the queued token.
            if (!merges.TryGetValue(Pair(symbol[pos], symbol[right]), out var merge) || merge.NewId != top.NewId) continue;
            symbol[pos] = merge.NewId;
            symbol[right] = -1;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            alive--;
            if (prev[pos] >= 0) Enqueue(prev[pos]);
            Enqueue(pos);
        }
        var result = new int[alive];
        var k = 0;
        for (var p = 0; p >= 0; p = next[p]) result[k++] = symbol[p];
        return result;
    }
}
