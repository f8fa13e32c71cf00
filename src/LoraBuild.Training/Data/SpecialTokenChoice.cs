using LoraBuild.Diagnostics;
using LoraBuild.Tokenization;

namespace LoraBuild.Training.Data;

/// <summary>
/// Axolotl's special_tokens against the model's tokenizer: a token already in the vocabulary replaces the tokenizer's
/// choice (pad_token for padding, eos_token for the learned end of sequence). A token not in the vocabulary would need a
/// new embedding row (Axolotl resizes the embeddings); that is refused here, as the adapter could not carry the row.
/// </summary>
public sealed record SpecialTokenChoice(int? Pad, int? Eos)
{
    public static SpecialTokenChoice Resolve(HfTokenizer tokenizer, TrainingConfig config)
    {
        int? Id(string name)
        {
            if (!config.SpecialTokenOverrides.TryGetValue(name, out var token)) return null;
            return tokenizer.Vocabulary.TryGetValue(token, out var id) ? id : tokenizer.SpecialTokens.TryGetValue(token, out var special) ? special
                : throw new LoraBuildException(ErrorCodes.AxolotlKeyRefused,
                    $"special_tokens: {name} '{token}' is not a token of the model's vocabulary; adding a token needs a new embedding row, which an adapter here cannot carry.",
                    config.Dataset);
        }
        foreach (var name in new[] { "bos_token", "unk_token" }) Id(name);
        return new SpecialTokenChoice(Id("pad_token") ?? tokenizer.PadTokenId, Id("eos_token") ?? tokenizer.EosTokenId);
    }
}
