namespace LoraBuild.Runtime.Engine;

/// <summary>
/// One piece of a streamed completion: new text (possibly empty), and on the last update why it finished and its
/// token counts (<see cref="Result"/> is null on every other update).
/// </summary>
public sealed record CompletionUpdate(string Text, GenerationResult? Result = null);
