using System.Text.Json;
using LoraBuild.Tokenization;

namespace LoraBuild.Tests;

/// <summary>Our tokenizer against HF tokenizers' ids and decodes (tokenizer-bytelevel-bpe/golden.json).</summary>
public class TokenizerTests
{
    static readonly HfTokenizer Tokenizer = HfTokenizer.Load(TestPaths.Hf("tokenizer-bytelevel-bpe"));

    public static TheoryData<int> Cases()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < Golden().Count; i++) data.Add(i);
        return data;
    }

    static List<(string Text, int[] Ids, string Decoded)> Golden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Hf("tokenizer-bytelevel-bpe", "golden.json")));
        return doc.RootElement.EnumerateArray().Select(e => (
            e.GetProperty("text").GetString()!,
            e.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
            e.GetProperty("decoded").GetString()!)).ToList();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Ids_and_decode_equal_hf_tokenizers(int index)
    {
        var (text, ids, decoded) = Golden()[index];
        Assert.Equal(ids, Tokenizer.Encode(text));
        Assert.Equal(decoded, Tokenizer.Decode(ids));
    }

    [Fact]
    public void Special_tokens_are_kept_when_asked()
    {
        Assert.Equal("<|endoftext|>", Tokenizer.Decode([0], skipSpecialTokens: false));
        Assert.Equal(0, Tokenizer.SpecialTokens["<|endoftext|>"]);
    }
}
