using System.IO.Compression;
using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace LoraBuild.Sdk.Tests;

/// <summary>The package as Hugging Face and nuget.org read it: card front matter, a portable base-model id, the loss plots.</summary>
public class ModelCardTests
{
    [Theory]
    [InlineData("BaseModelId=\"contoso/tiny-digits\"", "contoso/tiny-digits")]
    [InlineData("", "base")]
    public void The_card_has_hugging_face_front_matter_and_the_adapter_a_portable_base_model_id(string metadata, string expectedBase)
    {
        var project = new AdapterProject($"""
              <ItemGroup>
                <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" EvalDataset="data/spell-eval.jsonl" Quantization="nf4" {metadata} />
              </ItemGroup>
            """, properties: "<PackageLicenseExpression>MIT</PackageLicenseExpression>");
        var pack = project.Run("pack", "-o", "packages");
        Assert.True(pack.ExitCode == 0, pack.Output);
        using var archive = ZipFile.OpenRead(Path.Combine(project.Directory, "packages", "Contoso.Adapters.2.1.0.nupkg"));
        string Read(string name) { using var reader = new StreamReader(archive.GetEntry(name)!.Open()); return reader.ReadToEnd(); }

        var card = Read("README.md");
        Assert.StartsWith("---\n", card);
        var end = card.IndexOf("\n---\n", 4, StringComparison.Ordinal);
        Assert.True(end > 0, card);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(card[4..end]));
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        string Scalar(string key) => ((YamlScalarNode)root[new YamlScalarNode(key)]).Value!;
        Assert.Equal("peft", Scalar("library_name"));
        Assert.Equal(expectedBase, Scalar("base_model"));
        Assert.Equal("mit", Scalar("license"));
        var tags = ((YamlSequenceNode)root[new YamlScalarNode("tags")]).Children.Select(t => ((YamlScalarNode)t).Value).ToList();
        Assert.Equal(["lora", "peft", "lorabuild", "qlora"], tags);
        Assert.Contains($"| base model | `{expectedBase}` |", card);

        using var config = JsonDocument.Parse(Read("lora/speller/adapter_config.json"));
        var baseModel = config.RootElement.GetProperty("base_model_name_or_path").GetString()!;
        Assert.Equal(expectedBase, baseModel);
        Assert.DoesNotContain(project.Directory, baseModel);
        Assert.NotNull(archive.GetEntry("lora/speller/loss_curve.png"));
    }

    [Fact]
    public void With_an_image_base_url_the_card_shows_the_png_by_absolute_url()
    {
        var project = new AdapterProject("""
              <ItemGroup>
                <LoraAdapter Include="speller" BaseModel="models/base" Dataset="data/spell-train.jsonl" />
              </ItemGroup>
            """, properties: "<LoraBuildCardImageBaseUrl>https://raw.githubusercontent.com/contoso/adapters/v2.1.0/</LoraBuildCardImageBaseUrl>");
        var pack = project.Run("pack", "-o", "packages");
        Assert.True(pack.ExitCode == 0, pack.Output);
        using var archive = ZipFile.OpenRead(Path.Combine(project.Directory, "packages", "Contoso.Adapters.2.1.0.nupkg"));
        using var reader = new StreamReader(archive.GetEntry("README.md")!.Open());
        Assert.Contains("![speller: loss curve](https://raw.githubusercontent.com/contoso/adapters/v2.1.0/lora/speller/loss_curve.png)", reader.ReadToEnd());
    }
}
