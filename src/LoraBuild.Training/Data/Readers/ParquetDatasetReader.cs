using Parquet;
using Parquet.Serialization;

namespace LoraBuild.Training.Data.Readers;

/// <summary>
/// Parquet through Parquet.Net, one row group at a time (a file larger than memory streams by row group). Nested columns
/// (a <c>messages</c> list of records) come back as lists and records; each row is named by its row group and its row in it.
/// </summary>
public sealed class ParquetDatasetReader : IDatasetReader
{
    public IEnumerable<DataRow> Read(string file)
    {
        using var stream = File.OpenRead(file);
        int groups;
        try
        {
            var reader = ParquetReader.CreateAsync(stream, leaveStreamOpen: true).GetAwaiter().GetResult();
            groups = reader.RowGroupCount;
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new Diagnostics.LoraBuildException(Diagnostics.ErrorCodes.DatasetFileUnreadable, $"not a readable Parquet file: {e.Message}", file);
        }
        for (var group = 0; group < groups; group++)
        {
            stream.Position = 0;
            var result = ParquetSerializer.DeserializeUntypedAsync(stream, null, group).GetAwaiter().GetResult();
            var row = 0L;
            // Parquet.Net leaves a null out of the row's dictionary: every column of the schema is present, null or not.
            var columns = result.Schema.Fields.Select(f => f.Name).ToArray();
            foreach (var record in result.Data)
            {
                var fields = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var column in columns) fields[column] = null;
                foreach (var (name, value) in record) fields[name] = ToPlain(value);
                yield return new DataRow(fields, new RowLocation(file, 0, group, row++));
            }
        }
    }

    /// <summary>Parquet.Net's untyped values (dictionaries, lists, arrays) as the plain tree <see cref="DataRow"/> holds.</summary>
    static object? ToPlain(object? value) => value switch
    {
        null or string or bool or long or double => value,
        int i => (long)i,
        short s => (long)s,
        float f => (double)f,
        IDictionary<string, object> d => d.ToDictionary(p => p.Key, p => ToPlain(p.Value), StringComparer.Ordinal),
        byte[] b => System.Text.Encoding.UTF8.GetString(b),
        System.Collections.IEnumerable list => list.Cast<object?>().Select(ToPlain).ToList(),
        _ => value,
    };
}
