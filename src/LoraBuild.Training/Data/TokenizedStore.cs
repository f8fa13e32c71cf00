using System.Collections;
using System.IO.MemoryMappedFiles;
using System.Text;

namespace LoraBuild.Training.Data;

/// <summary>
/// Tokenised examples in one file, memory-mapped: an example is read from the file when it is asked for, so a dataset
/// larger than memory trains with only its offsets touched (the pages the OS keeps are a cache it can drop). Written by
/// <see cref="TokenizedStoreWriter"/>; the layout is records, then a table of their offsets, then a fixed-size footer.
/// </summary>
public sealed class TokenizedStore : IReadOnlyList<TokenizedExample>, IDisposable
{
    internal const int Magic = 0x4B54424C; // "LBTK"
    internal const int FormatVersion = 2;
    // Footer: count, row count, report (3 ints, 2 longs), table offset, magic.
    internal const int FooterBytes = 48;
    internal const int RecordHeaderBytes = 4 * 5;

    readonly MemoryMappedFile file;
    readonly MemoryMappedViewAccessor view;
    readonly long tableOffset;

    public string Path { get; }
    public int Count { get; }
    /// <summary>How many rows the examples came from (a completion text cut into pieces is one row, several examples).</summary>
    public int RowCount { get; }
    /// <summary>The report of every example in the store.</summary>
    public EncodingReport Report { get; }

    TokenizedStore(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, int count, int rowCount, EncodingReport report, long tableOffset)
    {
        Path = path;
        this.file = file;
        this.view = view;
        Count = count;
        RowCount = rowCount;
        Report = report;
        this.tableOffset = tableOffset;
    }

    /// <summary>Opens a store; null when the file is missing, of another format or cut short (a cache miss, never an error).</summary>
    public static TokenizedStore? TryOpen(string path)
    {
        if (!File.Exists(path)) return null;
        MemoryMappedFile? file = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            var length = new FileInfo(path).Length;
            if (length < FooterBytes + 8) return null;
            file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            if (view.ReadInt32(0) != Magic || view.ReadInt32(4) != FormatVersion) { view.Dispose(); file.Dispose(); return null; }
            var at = length - FooterBytes;
            var count = view.ReadInt32(at);
            var rowCount = view.ReadInt32(at + 4);
            var report = new EncodingReport(view.ReadInt32(at + 8), view.ReadInt32(at + 12), view.ReadInt32(at + 16), view.ReadInt64(at + 20), view.ReadInt64(at + 28));
            var table = view.ReadInt64(at + 36);
            var end = view.ReadInt32(at + 44);
            if (end != Magic || count < 0 || table < 8 || table + 8L * count != at) { view.Dispose(); file.Dispose(); return null; }
            return new TokenizedStore(path, file, view, count, rowCount, report, table);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            view?.Dispose();
            file?.Dispose();
            return null;
        }
    }

    long OffsetOf(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return view.ReadInt64(tableOffset + 8L * index);
    }

    /// <summary>The row example <paramref name="index"/> came from (its ordinal over the datasets, in reading order).</summary>
    public int RowOf(int index) => view.ReadInt32(OffsetOf(index));

    /// <summary>What a report needs of one example, read without its tokens: length before truncation, length, learned tokens.</summary>
    public (int OriginalLength, int Length, int Trainable) StatsOf(int index)
    {
        var at = OffsetOf(index);
        return (view.ReadInt32(at + 8), view.ReadInt32(at + 4), view.ReadInt32(at + 12));
    }

    public TokenizedExample this[int index]
    {
        get
        {
            var at = OffsetOf(index);
            var length = view.ReadInt32(at + 4);
            var sourceBytes = view.ReadInt32(at + 16);
            var bytes = new byte[sourceBytes];
            view.ReadArray(at + RecordHeaderBytes, bytes, 0, sourceBytes);
            var ids = new int[length];
            var labels = new int[length];
            var tokens = at + RecordHeaderBytes + sourceBytes;
            view.ReadArray(tokens, ids, 0, length);
            view.ReadArray(tokens + 4L * length, labels, 0, length);
            return new TokenizedExample(ids, labels, Encoding.UTF8.GetString(bytes));
        }
    }

    /// <summary>The report of some of the examples (a held-out split leaves the rest), from the record headers alone.</summary>
    public EncodingReport ReportOf(IEnumerable<int> indices)
    {
        var tally = new EncodingTally();
        foreach (var i in indices)
        {
            var (original, length, learned) = StatsOf(i);
            tally.Add(original, length, learned);
        }
        return tally.Report;
    }

    public IEnumerator<TokenizedExample> GetEnumerator()
    {
        for (var i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        view.Dispose();
        file.Dispose();
    }
}
