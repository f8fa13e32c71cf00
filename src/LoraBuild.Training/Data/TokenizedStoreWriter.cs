using System.Text;

namespace LoraBuild.Training.Data;

/// <summary>
/// Writes a <see cref="TokenizedStore"/> as examples arrive (nothing but their offsets is kept): into a temporary file
/// beside the destination, renamed into place by <see cref="Commit"/>. Disposed without a commit (bad rows, a kill, an
/// exception), the temporary file is deleted, so a reader never sees half a store.
/// </summary>
public sealed class TokenizedStoreWriter : IDisposable
{
    readonly string destination;
    readonly string temp;
    readonly BinaryWriter writer;
    // Offsets go to a side file as they come, so a store of any size needs no offset list in memory.
    readonly string offsetsTemp;
    readonly BinaryWriter offsets;
    readonly EncodingTally tally = new();
    int count;
    bool committed;

    public TokenizedStoreWriter(string destination)
    {
        this.destination = destination;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(destination))!);
        temp = $"{destination}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        offsetsTemp = temp + ".offsets";
        writer = new BinaryWriter(new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16), Encoding.UTF8);
        offsets = new BinaryWriter(new FileStream(offsetsTemp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16));
        writer.Write(TokenizedStore.Magic);
        writer.Write(TokenizedStore.FormatVersion);
    }

    public int Count => count;

    /// <summary>Adds one example from row <paramref name="row"/>; <paramref name="originalLength"/> is its length before truncation.</summary>
    public void Add(TokenizedExample example, int row, int originalLength)
    {
        offsets.Write(writer.BaseStream.Position);
        var learned = example.TrainableTokens;
        var source = Encoding.UTF8.GetBytes(example.Source);
        writer.Write(row);
        writer.Write(example.Length);
        writer.Write(originalLength);
        writer.Write(learned);
        writer.Write(source.Length);
        writer.Write(source);
        foreach (var id in example.InputIds) writer.Write(id);
        foreach (var label in example.Labels) writer.Write(label);
        count++;
        tally.Add(originalLength, example.Length, learned);
    }

    public EncodingReport Report => tally.Report;

    /// <summary>Writes the offset table and footer and renames the file into place; <paramref name="rowCount"/> rows were read.</summary>
    public void Commit(int rowCount)
    {
        var table = writer.BaseStream.Position;
        offsets.Flush();
        offsets.BaseStream.Position = 0;
        offsets.BaseStream.CopyTo(writer.BaseStream);
        var report = tally.Report;
        writer.Write(count);
        writer.Write(rowCount);
        writer.Write(report.Examples);
        writer.Write(report.Truncated);
        writer.Write(report.LongestTokens);
        writer.Write(report.Tokens);
        writer.Write(report.TrainableTokens);
        writer.Write(table);
        writer.Write(TokenizedStore.Magic);
        writer.Flush();
        writer.Dispose();
        offsets.Dispose();
        File.Delete(offsetsTemp);
        try
        {
            File.Move(temp, destination, overwrite: true);
        }
        catch (IOException) when (File.Exists(destination))
        {
            // Another run wrote the same key and it is open (Windows refuses to replace a mapped file): the same content.
            File.Delete(temp);
        }
        committed = true;
    }

    public void Dispose()
    {
        if (committed) return;
        writer.Dispose();
        offsets.Dispose();
        File.Delete(temp);
        File.Delete(offsetsTemp);
    }
}
