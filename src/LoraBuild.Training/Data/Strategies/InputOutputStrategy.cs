namespace LoraBuild.Training.Data.Strategies;

/// <summary>
/// Axolotl's <c>input_output</c> (prompt_strategies/input_output.py: RawInputOutputPrompter yields each segment's label and
/// text; RawInputOutputStrategy tokenises each without special tokens and learns it when label is true or train_on_inputs).
/// </summary>
public sealed class InputOutputStrategy : IPromptStrategy
{
    public IReadOnlyList<string> RequiredColumns => ["segments"];

    public RawExample ToExample(DataRow row)
    {
        if (row.Fields.GetValueOrDefault("segments") is not IReadOnlyList<object?> { Count: > 0 } list)
            throw row.Invalid(row.Has("segments") ? "\"segments\" must be a non-empty list of {label, text}." : "no \"segments\" column (input_output rows are {\"segments\": [{\"label\": true, \"text\": \"...\"}]}).");
        var segments = new List<TextSegment>();
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is not IReadOnlyDictionary<string, object?> segment || segment.GetValueOrDefault("text") is not string text)
                throw row.Invalid($"segments[{i}] must be a record with a text string.");
            var label = segment.GetValueOrDefault("label") switch
            {
                bool b => b,
                null => false,
                var other => throw row.Invalid($"segments[{i}].label must be true or false, found {DataRow.Describe(other)}."),
            };
            segments.Add(new TextSegment(text, label));
        }
        return new RawExample(row.Location.File, row.Location.Line, ExampleFormat.Segments) { Segments = segments, Location = row.Location };
    }
}
