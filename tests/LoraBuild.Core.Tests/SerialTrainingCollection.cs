namespace LoraBuild.Tests;

/// <summary>
/// Tests that compare two training runs bit for bit. libtorch's default generator is process-wide, and the trainer seeds
/// it (LoRA initialisation, dropout): a run that overlaps another test's random draws would start from other weights.
/// This collection runs after the parallel ones, one test at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTrainingCollection
{
    public const string Name = "Serial training runs";
}
