namespace LoraBuild.Training.Data.Strategies;

/// <summary>
/// Axolotl's inline user-defined type (prompt_strategies/user_defined.py load: parse_instruction_fields and
/// UserDefinedPrompter; alpaca_w_system.py SystemDataPrompter.build_prompt_w_system): the system text is the row's
/// field_system when the row has it, else system_prompt; it is formatted with system_format only when not empty; then
/// format (when input is not empty) or no_input_format; input and output are "" when their column is absent.
/// </summary>
public sealed class UserDefinedStrategy(UserDefinedFormat format) : IPromptStrategy
{
    public IReadOnlyList<string> RequiredColumns => [format.FieldInstruction];

    public RawExample ToExample(DataRow row)
    {
        var instruction = row.Text(format.FieldInstruction)!;
        var input = row.Text(format.FieldInput, optional: true) ?? "";
        var output = row.Text(format.FieldOutput, optional: true) ?? "";
        var system = row.Fields.ContainsKey(format.FieldSystem) ? row.Text(format.FieldSystem, optional: true) ?? "" : format.SystemPrompt;
        try
        {
            var prompt = (system.Length > 0 && format.SystemFormat.Length > 0 ? PythonFormat.Apply(format.SystemFormat, ("system", system)) : "") +
                (input.Length > 0
                    ? PythonFormat.Apply(format.Format, ("instruction", instruction), ("input", input))
                    : PythonFormat.Apply(format.NoInputFormat, ("instruction", instruction)));
            return new RawExample(row.Location.File, row.Location.Line, ExampleFormat.PromptCompletion, Prompt: prompt, Completion: output) { Location = row.Location };
        }
        catch (FormatException e)
        {
            throw row.Invalid("the dataset type's format cannot be applied: " + e.Message);
        }
    }
}
