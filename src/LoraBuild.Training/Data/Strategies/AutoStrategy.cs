namespace LoraBuild.Training.Data.Strategies;

/// <summary>
/// No type given (LoraBuild's own <c>dataset:</c> key): each row's fields decide, as docs/training.md describes —
/// <c>messages</c> (chat), <c>instruction</c>/<c>input</c>/<c>output</c> (the short Alpaca prompt, without Axolotl's preamble),
/// <c>prompt</c>/<c>completion</c>, or <c>text</c>.
/// </summary>
public sealed class AutoStrategy : IPromptStrategy
{
    static readonly ChatTemplateStrategy Chat = new(new DatasetSpec("", "", 0));

    public IReadOnlyList<string> RequiredColumns => [];

    public RawExample ToExample(DataRow row)
    {
        var at = row.Location;
        if (row.Fields.ContainsKey("messages")) return Chat.ToExample(row);
        if (row.Fields.ContainsKey("instruction"))
            return new RawExample(at.File, at.Line, ExampleFormat.Alpaca, Prompt: JsonlDataset.AlpacaPrompt(row.Text("instruction")!, row.Text("input", optional: true) ?? ""), Completion: row.Text("output")) { Location = at };
        if (row.Fields.ContainsKey("prompt"))
            return new RawExample(at.File, at.Line, ExampleFormat.PromptCompletion, Prompt: row.Text("prompt"), Completion: row.Text("completion")) { Location = at };
        if (row.Fields.ContainsKey("text"))
            return new RawExample(at.File, at.Line, ExampleFormat.Text, Text: row.Text("text")) { Location = at };
        throw row.Invalid("the row has none of the supported shapes: text; prompt, completion; instruction, input, output; messages (or give the dataset a type).");
    }
}
