namespace LoraBuild.Training.Data.Strategies;

/// <summary>
/// Axolotl's <c>completion</c> (prompt_strategies/completion.py: CompletionPrompter yields the field's text unchanged; the
/// field is ds_cfg "field", default "text"); every token is learned, and a text longer than sequence_len is cut into
/// sequence_len pieces, each its own example (CompletionPromptTokenizingStrategy.tokenize_prompt), not truncated.
/// </summary>
public sealed class CompletionStrategy(string? field) : IPromptStrategy
{
    readonly string column = field ?? "text";

    public IReadOnlyList<string> RequiredColumns => [column];

    public RawExample ToExample(DataRow row) =>
        new(row.Location.File, row.Location.Line, ExampleFormat.Text, Text: row.Text(column)) { Location = row.Location, SplitLongText = true };
}
