using System.Globalization;
using LoraBuild.Diagnostics;
using LoraBuild.Tokenization;
using LoraBuild.Training.Data;

namespace LoraBuild.Training;

/// <summary>What <c>lorabuild check</c> found: the effective settings, the notes, what a run would fetch, every problem.</summary>
public sealed record CheckReport(IReadOnlyList<(string Key, string Value)> Settings, IReadOnlyList<string> Notes, IReadOnlyList<string> WouldFetch,
    IReadOnlyList<LoraBuildException> Errors, IReadOnlyList<string> Datasets)
{
    public bool Ok => Errors.Count == 0;
}

/// <summary>
/// Validates a configuration the way a run would meet it, without loading weights or downloading anything: keys and values,
/// the combination, the model folder's config.json and tokenizer (when local), the chat template, every dataset row through
/// its type. A Hub model or dataset is listed as what the run would fetch. Every problem is collected, none stops the rest.
/// </summary>
public static class ConfigCheck
{
    /// <param name="hubModel">For a Hub base_model: what a run would fetch, and the cached snapshot folder when the lock and cache
    /// already hold it (then its tokenizer and chat template are checked too); never downloads.</param>
    public static CheckReport Run(TrainingConfig config, IReadOnlyList<LoraBuildException> loadErrors, string source, IDatasetSource? datasets = null,
        Func<TrainingConfig, (string WouldFetch, string? CachedFolder)>? hubModel = null)
    {
        var errors = new List<LoraBuildException>(loadErrors.SelectMany(e => e.Errors));
        var fetch = new List<string>();
        var described = new List<string>();
        datasets ??= new LocalDatasetSource();
        void Try(Action action)
        {
            try { action(); }
            catch (LoraBuildException e) { errors.AddRange(e.Errors); }
        }

        var isHubModel = config.BaseModelIsHubId;
        string? modelFolder = config.BaseModel;
        if (isHubModel)
        {
            var (what, cached) = hubModel?.Invoke(config) ?? ($"model {config.BaseModel}: config.json, tokenizer files and *.safetensors", null);
            fetch.Add(what);
            modelFolder = cached;
            config.BaseModelIsHubId = false; // listed above; the remaining checks run
        }
        Try(() => config.Validate(source));
        config.BaseModelIsHubId = isHubModel;

        HfTokenizer? tokenizer = null;
        ChatTemplate? chat = null;
        if (modelFolder is { Length: > 0 } model)
        {
            if (!File.Exists(Path.Combine(model, "config.json")))
                errors.Add(new LoraBuildException(ErrorCodes.ConfigMissing, $"base_model '{model}' has no config.json (is it a model folder?).", source));
            else
            {
                Try(() => tokenizer = HfTokenizer.Load(model));
                Try(() => chat = ChatTemplate.Resolve(config.ChatTemplate, model, source));
            }
        }

        foreach (var (list, name) in new[] { (config.TrainSpecs, "datasets"), (config.EvalSpecs, "test_datasets") })
            foreach (var spec in list)
            {
                if (datasets.WouldFetch(spec) is { } what)
                {
                    fetch.Add(what);
                    // A Hub dataset the lock pins and the cache holds is checked row by row like a local one.
                    if (datasets is not Data.Hub.HubDatasetSource hub || !hub.InCache(spec)) continue;
                }
                var rowErrors = new List<LoraBuildException>();
                try
                {
                    // Streamed: a dataset larger than memory is checked row by row.
                    var count = 0;
                    RawExample? first = null;
                    foreach (var example in DatasetLoader.StreamEntry(spec, datasets, rowErrors))
                    {
                        count++;
                        if (first is null && example.Format == ExampleFormat.Chat) first = example;
                    }
                    described.Add($"{name}: {spec.Path} ({spec.Type ?? "rows decide"}): {count} examples");
                    if (tokenizer is not null && first is not null)
                    {
                        if (chat is null || !chat.IsAvailable)
                            errors.Add(new LoraBuildException(ErrorCodes.ChatTemplateMissing, "chat examples, but the model has no chat template (set chat_template: chatml or llama3, or add chat_template.jinja).", spec.Source, spec.Line));
                        else Try(() => chat.RenderForTraining(first.Messages!, first.Location?.ToString() ?? $"{first.File}:{first.Line}"));
                    }
                }
                catch (LoraBuildException e) { errors.AddRange(e.Errors); }
                if (rowErrors.Count > 0) errors.AddRange(DatasetLoader.Collected(rowErrors).Errors);
            }

        var settings = TrainingConfig.Keys.Where(k => k.Get(config) is not null)
            .Select(k => (k.Name, Convert.ToString(k.Get(config), CultureInfo.InvariantCulture) ?? "")).ToList();
        return new CheckReport(settings, config.Notes, fetch, errors, described);
    }
}
