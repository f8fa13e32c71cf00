using LoraBuild.Diagnostics;
using LoraBuild.Training.Data;
using LoraBuild.Training.Data.Readers;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace LoraBuild.Tests;

/// <summary>
/// Parquet / CSV / JSON edge cases: nulls, nested messages lists, unicode, quoted newlines, a missing column. Each gives
/// examples, or a coded error naming the file and the row (line for text files, row group and row for Parquet).
/// </summary>
public class DatasetReaderTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(string name, string content)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    static IReadOnlyList<RawExample> Load(string path, string? type) =>
        DatasetLoader.Load([new DatasetSpec(path, "config.yml", 3) { Type = type }], new LocalDatasetSource());

    /// <summary>Parquet written by Parquet.Net's serializer in row groups of two rows (lower-case column names, as datasets writes them).</summary>
    string WriteParquet(string name, IEnumerable<Dictionary<string, object?>> rows, ParquetSchema schema, int rowGroupSize = 2)
    {
        var path = Path.Combine(dir, name);
        using var stream = File.Create(path);
        ParquetSerializer.SerializeUntypedAsync(rows.Select(r => (IDictionary<string, object?>)r.ToDictionary(p => p.Key, p => p.Value)).ToList(), schema, stream,
            new ParquetOptions { RowGroupSize = rowGroupSize }).GetAwaiter().GetResult();
        return path;
    }

    static readonly ParquetSchema AlpacaSchema = new(new DataField<string>("instruction"), new DataField<string>("input"), new DataField<string>("output"));

    static Dictionary<string, object?> Alpaca(string? instruction, string? input, string? output) => new() { ["instruction"] = instruction, ["input"] = input, ["output"] = output };

    [Fact]
    public void Parquet_alpaca_rows_with_a_null_input_and_unicode()
    {
        var path = WriteParquet("a.parquet", [Alpaca("Traduis « bonjour » 🌍", null, "hello 👋"), Alpaca("x", "y", "z"), Alpaca("日本語", "", "はい")], AlpacaSchema);
        var examples = Load(path, "alpaca");
        Assert.Equal(3, examples.Count);
        Assert.Contains("### Instruction:\nTraduis « bonjour » 🌍\n\n### Response:\n", examples[0].Prompt);
        Assert.Equal("hello 👋", examples[0].Completion);
        Assert.Equal("はい", examples[2].Completion);
        Assert.Equal($"{path} (row group 1, row 0)", examples[2].Location!.ToString());
    }

    [Fact]
    public void Parquet_null_output_is_an_error_naming_row_group_and_row()
    {
        var path = WriteParquet("n.parquet", [Alpaca("a", null, "b"), Alpaca("c", null, "d"), Alpaca("e", null, "f"), Alpaca("g", null, null)], AlpacaSchema);
        var e = Assert.Throws<LoraBuildException>(() => Load(path, "alpaca"));
        Assert.Equal(ErrorCodes.DatasetRowInvalid, e.Code);
        Assert.Equal(path, e.File);
        Assert.Contains("row group 1, row 1: \"output\" is null", e.Message);
    }

    [Fact]
    public void Parquet_nested_messages_lists_read_as_a_chat()
    {
        var schema = new ParquetSchema(
            new ListField("messages", new StructField("element", new DataField<string>("role"), new DataField<string>("content"))),
            new DataField<string>("note"));
        static Dictionary<string, object?> Row(params (string Role, string Content)[] messages) => new()
        {
            ["messages"] = messages.Select(m => (IDictionary<string, object>)new Dictionary<string, object> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["note"] = null,
        };
        var path = WriteParquet("chat.parquet", [Row(("user", "Hi"), ("assistant", "Hello")), Row(("system", "S"), ("user", "Q"), ("assistant", "A"))], schema);
        var examples = Load(path, "chat_template");
        Assert.Equal([("user", "Hi"), ("assistant", "Hello")], examples[0].Messages!.Select(m => (m.Role, m.Content)));
        Assert.Equal([("system", "S"), ("user", "Q"), ("assistant", "A")], examples[1].Messages!.Select(m => (m.Role, m.Content)));
    }

    [Fact]
    public void Parquet_missing_column_names_the_columns_there_are()
    {
        var path = WriteParquet("m.parquet", [new() { ["question"] = "q" }], new ParquetSchema(new DataField<string>("question")));
        var e = Assert.Throws<LoraBuildException>(() => Load(path, "alpaca"));
        Assert.Contains("row group 0, row 0: no \"instruction\" column (columns: question)", e.Message);
    }

    [Fact]
    public void Parquet_that_is_not_parquet_is_a_coded_error()
    {
        var path = Write("bad.parquet", "not parquet at all");
        var e = Assert.Throws<LoraBuildException>(() => Load(path, "completion"));
        Assert.Equal(ErrorCodes.DatasetFileUnreadable, e.Code);
    }

    [Fact]
    public void Csv_quoted_newlines_unicode_and_empty_cells()
    {
        var path = Write("d.csv", "instruction,input,output\n\"Line one\nline two, with comma\",,\"Ünïcødé ✓\"\nplain,ctx,\"say \"\"hi\"\"\"\n");
        var examples = Load(path, "alpaca");
        Assert.Contains("### Instruction:\nLine one\nline two, with comma\n\n### Response:\n", examples[0].Prompt); // empty input cell = null = no input
        Assert.Equal("Ünïcødé ✓", examples[0].Completion);
        Assert.Equal("say \"hi\"", examples[1].Completion);
        Assert.Equal(4, examples[1].Line); // the second record starts on line 4 (the first spans lines 2-3)
    }

    [Fact]
    public void Csv_missing_value_is_an_error_naming_the_line()
    {
        var path = Write("e.csv", "instruction,output\na,b\n\"multi\nline\",\nc,d\n");
        var e = Assert.Throws<LoraBuildException>(() => Load(path, "alpaca"));
        Assert.Equal((path, 3), (e.File, e.Line));
        Assert.Contains("\"output\" is null", e.Message);
    }

    [Fact]
    public void Tsv_by_extension()
    {
        var path = Write("t.tsv", "text\tother\nhello, world\t1\n");
        Assert.Equal("hello, world", Load(path, "completion")[0].Text);
    }

    [Fact]
    public void Json_array_rows_are_named_by_their_line_and_every_bad_row_is_reported()
    {
        var path = Write("a.json", "[\n  {\"text\": \"ok\"},\n  {\"text\": null},\n  {\"text\": [1]},\n  {\"text\": \"fine\"}\n]\n");
        var e = Assert.Throws<LoraBuildException>(() => Load(path, "completion"));
        Assert.Equal([(path, 3), (path, 4)], e.Errors.Select(x => (x.File, x.Line)));
        Assert.Contains("\"text\" is null", e.Errors[0].Message);
        Assert.Contains("must be text, found a list", e.Errors[1].Message);
    }

    [Fact]
    public void Json_file_of_one_object_a_line_reads_as_json_lines()
    {
        var path = Write("l.json", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
        Assert.Equal(["a", "b"], Load(path, "completion").Select(e => e.Text));
    }

    [Fact]
    public void Jsonl_bad_json_and_missing_column_each_named_by_line()
    {
        var path = Write("x.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n{not json}\n{\"instruction\": \"c\"}\n");
        var e = Assert.Throws<LoraBuildException>(() => Load(path, "alpaca"));
        Assert.Equal([(ErrorCodes.DatasetLineInvalid, 2), (ErrorCodes.DatasetRowInvalid, 3)], e.Errors.Select(x => (x.Code, x.Line)));
    }

    [Fact]
    public void Folder_of_mixed_files_reads_in_path_order()
    {
        var folder = Directory.CreateDirectory(Path.Combine(dir, "data")).FullName;
        File.WriteAllText(Path.Combine(folder, "b.csv"), "text\nfrom csv\n");
        File.WriteAllText(Path.Combine(folder, "a.jsonl"), "{\"text\": \"from jsonl\"}\n");
        WriteParquet("data/c.parquet", [new() { ["text"] = "from parquet" }], new ParquetSchema(new DataField<string>("text")));
        Assert.Equal(["from jsonl", "from csv", "from parquet"], Load(folder, "completion").Select(e => e.Text));
    }

    [Fact]
    public void Hub_dataset_id_is_refused_by_the_local_source()
    {
        var e = Assert.Throws<LoraBuildException>(() => DatasetLoader.Load([new DatasetSpec("tatsu-lab/alpaca", "c.yml", 7) { IsHub = true, Type = "alpaca" }], new LocalDatasetSource()));
        Assert.Equal((ErrorCodes.HubSourceUnsupported, "c.yml", 7), (e.Code, e.File, e.Line));
    }
}
