using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LoraBuild.Inspection;
using LoraBuild.Models;

namespace LoraBuild.Cli.Commands;

/// <summary><c>lorabuild inspect</c>: architecture and parameter counts of a model and, optionally, an adapter (headers only).</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string?>("--adapter") { Description = "PEFT adapter folder." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var command = new Command("inspect", "Describe a model (and adapter): architecture, parameter counts, trainable share, size on disk.") { model, adapter, json };
        command.SetAction(parse => Run(parse.GetValue(model)!, parse.GetValue(adapter), parse.GetValue(json)));
        return command;
    }

    static int Run(string modelDir, string? adapterDir, bool asJson)
    {
        var summary = ModelInspection.InspectModel(modelDir);
        var adapter = adapterDir is null ? null : ModelInspection.InspectAdapter(adapterDir, summary);
        var c = summary.Config;
        if (asJson)
        {
            var payload = new Dictionary<string, object?>
            {
                ["model_type"] = c.ModelType,
                ["layers"] = c.NumHiddenLayers,
                ["hidden_size"] = c.HiddenSize,
                ["intermediate_size"] = c.IntermediateSize,
                ["attention_heads"] = c.NumAttentionHeads,
                ["key_value_heads"] = c.NumKeyValueHeads,
                ["vocab_size"] = c.VocabSize,
                ["rope_type"] = c.Rope.Type,
                ["tie_word_embeddings"] = c.TieWordEmbeddings,
                ["sliding_layers"] = Enumerable.Range(0, c.NumHiddenLayers).Count(i => c.LayerType(i) == AttentionKind.Sliding),
                ["sliding_window"] = c.SlidingWindow,
                ["local_rope_theta"] = c.LocalRope?.Theta,
                ["attn_logit_softcapping"] = c.AttnLogitSoftcapping,
                ["final_logit_softcapping"] = c.FinalLogitSoftcapping,
                ["parameters"] = summary.ParameterCount,
                ["model_bytes"] = summary.BytesOnDisk,
                ["adapter"] = adapter is null ? null : new Dictionary<string, object?>
                {
                    ["r"] = adapter.Config.R,
                    ["lora_alpha"] = adapter.Config.LoraAlpha,
                    ["use_dora"] = adapter.Config.UseDora,
                    ["use_rslora"] = adapter.Config.UseRslora,
                    ["adapted_layers"] = adapter.AdaptedLayers,
                    ["trainable_parameters"] = adapter.TrainableParameters,
                    ["share_of_base_percent"] = adapter.ShareOfBasePercent,
                    ["adapter_bytes"] = adapter.BytesOnDisk,
                },
            };
            Console.WriteLine(JsonSerializer.Serialize(payload, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"Model        {summary.Directory}");
        Console.WriteLine($"Architecture {c.ModelType}: {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, MLP {c.IntermediateSize}, " +
                          $"{c.NumAttentionHeads} heads ({c.NumKeyValueHeads} key/value), head dim {c.HeadDim}, vocab {c.VocabSize}, " +
                          $"rope {c.Rope.Type} (theta {c.Rope.Theta.ToString(inv)}){(c.TieWordEmbeddings ? ", tied embeddings" : "")}");
        var sliding = Enumerable.Range(0, c.NumHiddenLayers).Count(i => c.LayerType(i) == AttentionKind.Sliding);
        var details = new List<string>();
        if (sliding > 0) details.Add($"{sliding} of {c.NumHiddenLayers} layers slide (window {c.SlidingWindow})");
        if (c.LocalRope is { } local) details.Add($"sliding layers rope {local.Type} (theta {local.Theta.ToString(inv)})");
        if (c.Family.QueryKeyNorm) details.Add("q/k norms");
        if (c.AttnLogitSoftcapping is { } attnCap) details.Add($"attention soft-cap {attnCap.ToString(inv)}");
        if (c.FinalLogitSoftcapping is { } finalCap) details.Add($"final-logit soft-cap {finalCap.ToString(inv)}");
        if (details.Count > 0) Console.WriteLine($"             {string.Join(", ", details)}");
        Console.WriteLine($"Parameters   {summary.ParameterCount.ToString("N0", inv)} ({string.Join(", ", summary.ParametersByDType.Select(p => $"{p.Key} {p.Value.ToString("N0", inv)}"))})");
        Console.WriteLine($"Size on disk {FormatBytes(summary.BytesOnDisk)}");
        if (adapter is not null)
        {
            var a = adapter.Config;
            Console.WriteLine();
            Console.WriteLine($"Adapter      {adapter.Directory}");
            Console.WriteLine($"Method       {(a.UseDora ? "DoRA" : "LoRA")}, r={a.R}, alpha={a.LoraAlpha.ToString(inv)}{(a.UseRslora ? " (rsLoRA)" : "")}, {adapter.AdaptedLayers} layers");
            Console.WriteLine($"Trainable    {adapter.TrainableParameters.ToString("N0", inv)} parameters = {adapter.ShareOfBasePercent.ToString("0.####", inv)}% of the base");
            Console.WriteLine($"Size on disk {FormatBytes(adapter.BytesOnDisk)}");
        }
        return 0;
    }

    static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.00} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):0.0} KiB",
        _ => $"{bytes} B",
    };
}
