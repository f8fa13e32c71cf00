namespace LoraBuild.Training.Data.Strategies;

/// <summary>
/// A dataset type: turns one row into an example with the prompt text Axolotl's strategy of the same name builds
/// (src/axolotl/prompt_strategies/, src/axolotl/prompters.py). Bad rows are coded errors naming the row.
/// </summary>
public interface IPromptStrategy
{
    /// <summary>The columns a row must have (checked against the first row by lorabuild check).</summary>
    IReadOnlyList<string> RequiredColumns { get; }

    RawExample ToExample(DataRow row);
}
