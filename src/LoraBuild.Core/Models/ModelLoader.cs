using LoraBuild.Diagnostics;
using LoraBuild.SafeTensors;
using static TorchSharp.torch;

namespace LoraBuild.Models;

/// <summary>Builds a <see cref="CausalLM"/> from an HF model folder, checking every checkpoint key against the architecture.</summary>
public static class ModelLoader
{
    public static CausalLM Load(string directory, ScalarType? dtype = null, Device? device = null)
    {
        var config = ModelConfig.Load(directory);
        var target = device ?? CPU;
        using var checkpoint = CheckpointReader.Open(directory);
        ModelConfigValidation.CheckAgainstCheckpoint(config, checkpoint);
        var computeType = dtype ?? ScalarType.Float32;
        var model = new CausalLM(config, computeType, target);
        try
        {
            LoadWeights(model, checkpoint);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public static void LoadWeights(CausalLM model, CheckpointReader checkpoint)
    {
        var expected = model.CheckpointParameters();
        var expectedKeys = expected.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        // HF may also save rotary inv_freq buffers or a redundant tied head; those are derived, not loaded.
        var unexpected = checkpoint.TensorNames
            .Where(n => !expectedKeys.Contains(n) && !n.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal) &&
                        !(model.Config.TieWordEmbeddings && n == CausalLM.OutputHeadName + ".weight"))
            .OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new LoraBuildException(ErrorCodes.TensorUnexpected,
                $"Checkpoint has {unexpected.Count} tensor(s) this {model.Config.ModelType} architecture does not use, first '{unexpected[0]}'. " +
                "Is config.json from a different model?", checkpoint.Directory);

        foreach (var (key, parameter) in expected)
        {
            if (!checkpoint.Contains(key))
                throw new LoraBuildException(ErrorCodes.TensorMissing, $"Checkpoint has no tensor '{key}', which config.json implies.", checkpoint.Directory);
            var info = checkpoint.Info(key);
            if (!info.Shape.SequenceEqual(parameter.shape))
                throw new LoraBuildException(ErrorCodes.TensorShapeMismatch,
                    $"Tensor '{key}' has shape [{string.Join(", ", info.Shape)}] but config.json implies [{string.Join(", ", parameter.shape)}].",
                    checkpoint.Directory);
            if (!info.DType.IsFloatingPoint())
                throw new LoraBuildException(ErrorCodes.SafeTensorsDTypeMismatch,
                    $"Tensor '{key}' is stored as {info.DType}; model weights are floating point (F32, F16, BF16, F64). Refusing to cast integers into weights.",
                    checkpoint.Directory);
            using var value = checkpoint.Read(key);
            using (no_grad()) parameter.copy_(value);
        }
    }
}
