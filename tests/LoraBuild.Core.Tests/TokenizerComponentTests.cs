using System.Text.Json;
using System.Text.RegularExpressions;
using LoraBuild.Diagnostics;
using LoraBuild.Tokenization;
using LoraBuild.Tokenization.Decoders;
using LoraBuild.Tokenization.Normalizers;
using LoraBuild.Tokenization.PreTokenizers;

namespace LoraBuild.Tests;

/// <summary>
/// Tokenizer components one by one, against the examples HF tokenizers documents for them (pre-tokenizer and split
/// behaviour docs) and against the BPE / added-token rules worked by hand on tiny vocabularies.
/// </summary>
public class TokenizerComponentTests
{
    static string[] Run(PreTokenizer p, string text, bool atStart = true)
    {
        var output = new List<Piece>();
        p.PreTokenize([new Piece(text, atStart)], output);
        return output.Select(x => x.Text).ToArray();
    }

    static readonly Regex Dash = new("-");

    [Theory]
    [InlineData(SplitBehavior.Removed, new[] { "the", "final", "countdown" })]
    [InlineData(SplitBehavior.Isolated, new[] { "the", "-", "final", "-", "-", "countdown" })]
    [InlineData(SplitBehavior.MergedWithPrevious, new[] { "the-", "final-", "-", "countdown" })]
    [InlineData(SplitBehavior.MergedWithNext, new[] { "the", "-final", "-", "-countdown" })]
    [InlineData(SplitBehavior.Contiguous, new[] { "the", "-", "final", "--", "countdown" })]
    public void Split_behaviours_match_hf_docs(SplitBehavior behavior, string[] expected) =>
        Assert.Equal(expected, Run(new SplitPreTokenizer(Dash, behavior, invert: false), "the-final--countdown"));

    [Fact]
    public void Split_invert_keeps_the_matches() =>
        Assert.Equal(["12", "3"], Run(new SplitPreTokenizer(new Regex(@"\d+"), SplitBehavior.Removed, invert: true), "ab12cd3"));

    [Fact]
    public void Metaspace_prepend_schemes_and_split()
    {
        Assert.Equal(["▁Hey", "▁friend"], Run(new MetaspacePreTokenizer('▁', PrependScheme.Always, split: true), "Hey friend"));
        Assert.Equal(["Hey", "▁friend"], Run(new MetaspacePreTokenizer('▁', PrependScheme.Never, split: true), "Hey friend"));
        Assert.Equal(["▁Hey", "▁friend"], Run(new MetaspacePreTokenizer('▁', PrependScheme.First, split: true), "Hey friend"));
        // "first" only prepends to text at the start of the input (not after an added token).
        Assert.Equal(["Hey", "▁friend"], Run(new MetaspacePreTokenizer('▁', PrependScheme.First, split: true), "Hey friend", atStart: false));
        Assert.Equal(["▁Hey▁friend"], Run(new MetaspacePreTokenizer('▁', PrependScheme.Always, split: false), "Hey friend"));
    }

    [Fact]
    public void Digits_punctuation_whitespace_match_hf_docs()
    {
        Assert.Equal(["Call ", "1", "2", "3", " please"], Run(new DigitsPreTokenizer(individualDigits: true), "Call 123 please"));
        Assert.Equal(["Call ", "123", " please"], Run(new DigitsPreTokenizer(individualDigits: false), "Call 123 please"));
        Assert.Equal(["Hey friend", "!", "     How are you", "?", "!", "?"], Run(new PunctuationPreTokenizer(SplitBehavior.Isolated), "Hey friend!     How are you?!?"));
        Assert.Equal(["Hey", "friend", "!", "How", "are", "you", "?!?"], Run(new WhitespacePreTokenizer(), "Hey friend!     How are you?!?"));
        Assert.Equal(["Hey", "friend!", "How", "are", "you?!?"], Run(new WhitespaceSplitPreTokenizer(), "Hey friend!     How are you?!?"));
    }

    [Fact]
    public void ByteLevel_with_prefix_space_and_regex_matches_hf_docs() =>
        Assert.Equal(["ĠHello", "Ġmy", "Ġfriend", ",", "Ġhow", "Ġis", "Ġyour", "Ġday", "Ġgoing", "?"],
            Run(new ByteLevelPreTokenizer(addPrefixSpace: true, useRegex: true), "Hello my friend, how is your day going?"));

    [Fact]
    public void Regex_classes_see_characters_outside_the_bmp_as_oniguruma_does()
    {
        // 𝐀 is an uppercase letter, 😀 a symbol: as one code point each, not as two surrogates.
        var letters = new SplitPreTokenizer(new Regex(@"\p{L}+|\p{S}+"), SplitBehavior.Removed, invert: true);
        Assert.Equal(["a𝐀b", "😀😀"], Run(letters, "a𝐀b 😀😀"));
    }

    [Fact]
    public void Decoders_byte_fallback_strip_metaspace()
    {
        Assert.Equal(["a€", "b", "\uFFFD"], new ByteFallbackDecoder().DecodeChain(["<0x61>", "<0xE2>", "<0x82>", "<0xAC>", "b", "<0xFF>"]));
        Assert.Equal(["a", "b ", "c"], new StripDecoder(' ', 1, 0).DecodeChain([" a", "b ", "  c"[1..]]));
        Assert.Equal(["Hey", " friend"], new MetaspaceDecoder('▁', PrependScheme.Always).DecodeChain(["▁Hey", "▁friend"]));
        // As tokenizers' metaspace.rs: the first token loses every "▁", not only a leading one.
        Assert.Equal(["ab", " c"], new MetaspaceDecoder('▁', PrependScheme.First).DecodeChain(["▁a▁b", "▁c"]));
        Assert.Equal([" Hey", " friend"], new MetaspaceDecoder('▁', PrependScheme.Never).DecodeChain(["▁Hey", "▁friend"]));
        Assert.Equal(["ab"], new FuseDecoder().DecodeChain(["a", "b"]));
    }

    /// <summary>A tokenizer.json with a BPE model over a tiny vocabulary, no pre-tokenizer unless given.</summary>
    static HfTokenizer Tiny(string modelExtras, string merges, string vocab = """{"a":0,"b":1,"c":2,"ab":3,"abc":4,"<unk>":5,"<0xC3>":6,"<0xA9>":7,"bc":8}""",
        string addedTokens = "[]", string preTokenizer = "null", string normalizer = "null", string? config = null) =>
        HfTokenizer.FromJson($$$"""
            {"version":"1.0","truncation":null,"padding":null,"added_tokens":{{{addedTokens}}},"normalizer":{{{normalizer}}},
             "pre_tokenizer":{{{preTokenizer}}},"post_processor":null,"decoder":null,
             "model":{"type":"BPE","dropout":null{{{modelExtras}}},"vocab":{{{vocab}}},"merges":{{{merges}}}}}
            """, config);

    [Fact]
    public void Bpe_merges_lowest_rank_first()
    {
        var t = Tiny("", """["a b","ab c","b c"]""");
        Assert.Equal([4], t.Encode("abc"));
        // b c a b: (a,b) has rank 0 so it merges before (b,c).
        Assert.Equal([8, 3], t.Encode("bcab"));
    }

    [Fact]
    public void Bpe_byte_fallback_unk_and_fuse_unk()
    {
        var fused = Tiny(""","unk_token":"<unk>","fuse_unk":true,"byte_fallback":true""", "[]");
        Assert.Equal([6, 7], fused.Encode("é"));
        Assert.Equal([5, 0], fused.Encode("xxa"));
        // tokenizers' merge_word writes a pending unk only at the next known character or the end; byte-fallback
        // bytes go out before it, and a fused unk spans them.
        Assert.Equal([6, 7, 5], fused.Encode("xé"));
        Assert.Equal([6, 7, 5, 0], fused.Encode("xéxa"));
        var unfused = Tiny(""","unk_token":"<unk>","fuse_unk":false,"byte_fallback":true""", "[]");
        Assert.Equal([5, 5, 0], unfused.Encode("xxa"));
        Assert.Equal([6, 7, 5, 5, 0], unfused.Encode("xéxa"));
        var noFallback = Tiny(""","unk_token":"<unk>","fuse_unk":false,"byte_fallback":false""", "[]");
        Assert.Equal([5], noFallback.Encode("é"));
    }

    [Fact]
    public void Bpe_ignore_merges_takes_whole_words_from_the_vocabulary()
    {
        Assert.Equal([4], Tiny(""","ignore_merges":true""", """["a b"]""").Encode("abc"));
        Assert.Equal([3, 2], Tiny(""","ignore_merges":false""", """["a b"]""").Encode("abc"));
    }

    [Fact]
    public void Bpe_continuing_subword_prefix_names_inner_characters()
    {
        var t = Tiny(""","continuing_subword_prefix":"##" """, """["a ##b"]""", vocab: """{"a":0,"##b":1,"ab":2,"b":3}""");
        Assert.Equal([2], t.Encode("ab"));
        Assert.Equal([3], t.Encode("b"));
    }

    [Fact]
    public void Added_tokens_lstrip_rstrip_single_word_and_normalized()
    {
        const string vocab = """{"a":0,"b":1,"c":2,"t":3," ":4,"A":5,"B":6}""";
        var added = """
            [{"id":10,"content":"<l>","special":true,"lstrip":true,"rstrip":false,"normalized":false,"single_word":false},
             {"id":11,"content":"<r>","special":true,"lstrip":false,"rstrip":true,"normalized":false,"single_word":false},
             {"id":12,"content":"cat","special":false,"lstrip":false,"rstrip":false,"normalized":false,"single_word":true},
             {"id":13,"content":"ab","special":false,"lstrip":false,"rstrip":false,"normalized":true,"single_word":false}]
            """;
        var t = Tiny("", "[]", vocab, added, normalizer: """{"type":"Lowercase"}""");
        Assert.Equal([0, 10, 1], t.Encode("a  <l>b"));
        Assert.Equal([0, 11, 1], t.Encode("a<r>  b"));
        // single_word: "cat" inside "acat" is not a word of its own.
        Assert.Equal([0, 2, 0, 3, 4, 12], t.Encode("acat cat"));
        // normalized=true: matched after the normalizer lowercased "AB"; normalized=false tokens are matched raw.
        Assert.Equal([13, 2], t.Encode("ABc"));
        Assert.Equal("a<l>b", t.Decode([0, 10, 1], skipSpecialTokens: false).Replace(" ", ""));
        Assert.Equal("ab", t.Decode([0, 10, 1]).Replace(" ", ""));
    }

    [Fact]
    public void Unsupported_components_are_all_named_in_one_error()
    {
        var e = Assert.Throws<LoraBuildException>(() => HfTokenizer.FromJson("""
            {"added_tokens":[],"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"BertPreTokenizer"}]},
             "post_processor":null,"decoder":{"type":"WordPiece"},"model":{"type":"WordPiece","vocab":{}}}
            """, null, "/models/x/tokenizer.json"));
        Assert.Equal(ErrorCodes.TokenizerUnsupported, e.Code);
        Assert.Equal("/models/x/tokenizer.json", e.File);
        foreach (var part in new[] { "normalizer: normalizer 'BertNormalizer'", "pre_tokenizer.pretokenizers[0]: pre_tokenizer 'BertPreTokenizer'", "model: model 'WordPiece'", "decoder: decoder 'WordPiece'" })
            Assert.Contains(part, e.Message);
    }

    [Fact]
    public void Config_tokens_as_added_token_objects_and_add_eos_token_for_llama_class()
    {
        var config = """
            {"tokenizer_class":"LlamaTokenizerFast","add_bos_token":true,"add_eos_token":true,
             "bos_token":{"__type":"AddedToken","content":"a","lstrip":false},"eos_token":"b","clean_up_tokenization_spaces":true}
            """;
        var t = Tiny("", "[]", config: config);
        Assert.Equal(0, t.BosTokenId);
        Assert.Equal(1, t.EosTokenId);
        Assert.Equal([0, 2, 1], t.Encode("c", addSpecialTokens: true));
        Assert.Equal([2], t.Encode("c", addSpecialTokens: false));
        Assert.True(t.AddBosToken);
    }

    [Fact]
    public void Clean_up_tokenization_spaces_as_transformers() =>
        Assert.Equal("Hello. How are you? I'm fine, don't.", HfTokenizer.CleanUpTokenizationSpaces("Hello . How are you ? I 'm fine , do n't ."));

    [Fact]
    public void Llama3_special_tokens_come_from_added_tokens_and_its_template_adds_bos()
    {
        var t = RealTokenizerTests.Tokenizer("llama3.1");
        Assert.Equal(128000, t.BosTokenId);
        Assert.Equal(128009, t.EosTokenId);
        Assert.Equal([128000], t.PrefixSpecialIds);
        Assert.Empty(t.SuffixSpecialIds);
        Assert.True(t.Config.CleanUpTokenizationSpaces);
    }

    [Fact]
    public void Normalizers_compose_in_order()
    {
        var normalizer = new SequenceNormalizer([
            new UnicodeNormalizer(System.Text.NormalizationForm.FormKC), new LowercaseNormalizer(), new StripNormalizer(true, true),
            new PrependNormalizer("▁"), new ReplaceNormalizer(new Regex(" +"), "▁")]);
        // NFKC unfolds the ligature ﬁ and the full-width Ａ; then lowercase, strip, prepend, spaces to "▁".
        Assert.Equal("▁fi▁abc▁a", normalizer.Normalize("  ﬁ ABC   Ａ  "));
        Assert.Equal("", new PrependNormalizer("▁").Normalize(""));
        Assert.Equal("e\u0301", new UnicodeNormalizer(System.Text.NormalizationForm.FormD).Normalize("\u00e9"));
        Assert.Equal("\u00e9", new UnicodeNormalizer(System.Text.NormalizationForm.FormC).Normalize("e\u0301"));
    }

    [Fact]
    public void Malformed_files_are_LB0072()
    {
        var merges = Assert.Throws<LoraBuildException>(() => Tiny("", """["a q"]"""));
        Assert.Equal(ErrorCodes.TokenizerInvalid, merges.Code);
        Assert.Contains("model.merges", merges.Message);
        var config = Assert.Throws<LoraBuildException>(() => Tiny("", "[]", config: """{"bos_token": 5}"""));
        Assert.Equal(ErrorCodes.TokenizerInvalid, config.Code);
        Assert.Contains("bos_token", config.Message);
    }
}
