namespace LoraBuild.Training.Data.Readers;

/// <summary>Reads one dataset file as rows, lazily: a file larger than memory streams (lines, or Parquet row groups).</summary>
public interface IDatasetReader
{
    IEnumerable<DataRow> Read(string file);
}
