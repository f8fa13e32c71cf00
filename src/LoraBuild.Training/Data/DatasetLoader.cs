using LoraBuild.Diagnostics;
using LoraBuild.Training.Data.Readers;
using LoraBuild.Training.Data.Strategies;

namespace LoraBuild.Training.Data;

/// <summary>
/// Reads Axolotl's <c>datasets:</c> list into examples: each entry's files through its source and reader, its split slice,
/// its type's strategy; entries are mixed as Axolotl merges them (concatenated in list order; the trainer then shuffles
/// with the run's seed). Every bad row of every file is reported at once (the first 20 listed), each naming file and row.
/// </summary>
public static class DatasetLoader
{
    public static IReadOnlyList<RawExample> Load(IReadOnlyList<DatasetSpec> specs, IDatasetSource source, int? limitPerEntry = null)
    {
        var examples = new List<RawExample>();
        var errors = new List<LoraBuildException>();
        foreach (var spec in specs)
        {
            try
            {
                examples.AddRange(LoadEntry(spec, source, errors, limitPerEntry));
            }
            catch (LoraBuildException e)
            {
                errors.Add(e);
            }
        }
        if (errors.Count > 0) throw Collected(errors);
        if (examples.Count == 0)
            throw new LoraBuildException(ErrorCodes.DatasetEmpty, "The datasets have no examples.", specs.Count > 0 ? specs[0].Source : null, specs.Count > 0 ? specs[0].Line : 0);
        return examples;
    }

    /// <summary>Every problem, each at its file and row; past 50, one more error says how many were left out.</summary>
    public static LoraBuildException Collected(IReadOnlyList<LoraBuildException> errors) =>
        LoraBuildException.All(errors.Count <= 50 ? errors
            : [.. errors.Take(50), new LoraBuildException(errors[50].Code, $"and {errors.Count - 50} more problems in the datasets (the first 50 are listed).", errors[50].File, errors[50].Line)]);

    /// <summary>One entry's rows (all of them: a split slice needs the count), as examples; bad rows go to <paramref name="errors"/>.</summary>
    public static List<RawExample> LoadEntry(DatasetSpec spec, IDatasetSource source, List<LoraBuildException> errors, int? limit = null)
    {
        var split = DatasetSplit.Parse(spec.Split)
            ?? throw new LoraBuildException(ErrorCodes.DatasetSpecInvalid, $"split '{spec.Split}' is not a split name with an optional slice such as train or train[:10%].", spec.Source, spec.Line);
        if (!spec.IsHub && split.Name != "train")
            throw new LoraBuildException(ErrorCodes.DatasetSpecInvalid,
                $"split '{split.Name}': a local dataset has one split, train (as datasets' json / parquet / csv loaders name it).", spec.Source, spec.Line);
        var strategy = PromptStrategies.For(spec);
        var examples = new List<RawExample>();
        foreach (var file in source.Files(spec))
        {
            var reader = DatasetFiles.ReaderFor(file, spec.DsType, spec.Source, spec.Line);
            foreach (var row in reader.Read(file))
            {
                if (limit is { } max && examples.Count >= max) break;
                if (row.Problem is { } problem)
                {
                    errors.Add(problem);
                    continue;
                }
                try
                {
                    examples.Add(strategy.ToExample(row));
                }
                catch (LoraBuildException e)
                {
                    errors.Add(e);
                }
            }
        }
        var (start, end) = split.Range(examples.Count);
        return start == 0 && end == examples.Count ? examples : examples.GetRange(start, end - start);
    }
}
