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
        Parquet.Schema.DataField[]? flatText;
        ParquetReader reader;
        try
        {
            reader = ParquetReader.CreateAsync(stream, leaveStreamOpen: true).GetAwaiter().GetResult();
            groups = reader.RowGroupCount;
            var fields = reader.Schema.Fields;
            flatText = fields.All(f => f is Parquet.Schema.DataField { ClrType: var t, MaxRepetitionLevel: 0 } && t == typeof(string))
                ? fields.Cast<Parquet.Schema.DataField>().ToArray() : null;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new Diagnostics.LoraBuildException(Diagnostics.ErrorCodes.DatasetFileUnreadable, $"not a readable Parquet file: {e.Message}", file);
        }
        if (flatText is not null)
        {
            // Columns of plain text (alpaca, completion, CSV-like tables): read column by column, the fast path.
            foreach (var row in ReadFlatText(reader, flatText, file)) yield return row;
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            yield break;
        }
        reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
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

    static IEnumerable<DataRow> ReadFlatText(ParquetReader reader, Parquet.Schema.DataField[] fields, string file)
    {
        for (var group = 0; group < reader.RowGroupCount; group++)
        {
            string?[][] columns;
            long count;
            using (var rowGroup = reader.OpenRowGroupReader(group))
            {
                count = rowGroup.RowCount;
                columns = new string?[fields.Length][];
                for (var c = 0; c < fields.Length; c++)
                {
                    var values = new string?[count];
                    rowGroup.ReadAsync(fields[c], values.AsMemory()).GetAwaiter().GetResult();
                    columns[c] = values;
                }
            }
            for (var r = 0; r < count; r++)
            {
                var record = new Dictionary<string, object?>(fields.Length, StringComparer.Ordinal);
                for (var c = 0; c < fields.Length; c++) record[fields[c].Name] = columns[c][r];
                yield return new DataRow(record, new RowLocation(file, 0, group, r));
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
