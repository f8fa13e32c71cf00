using System.Text.Json;

namespace LoraBuild.Tokenization;

/// <summary>An entry of tokenizer.json's added_tokens (or a token of tokenizer_config.json written as an AddedToken object).</summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false, bool Normalized = false, bool SingleWord = false)
{
    internal static AddedToken Read(JsonElement e) => new(
        e.GetProperty("id").GetInt32(), e.GetProperty("content").GetString()!,
        ComponentReader.Bool(e, "special", false), ComponentReader.Bool(e, "lstrip", false), ComponentReader.Bool(e, "rstrip", false),
        ComponentReader.Bool(e, "normalized", !ComponentReader.Bool(e, "special", false)), ComponentReader.Bool(e, "single_word", false));
}
