using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using LoraBuild.Adapters;
using LoraBuild.Diagnostics;
using LoraBuild.Inspection;
using LoraBuild.IO;
using LoraBuild.Models;
using LoraBuild.SafeTensors;
using LoraBuild.Training.Data;
using static TorchSharp.torch;

namespace LoraBuild.Tests;

/// <summary>
/// The hostile inputs of issue 12, one test each: every one is a coded error naming the file, never a crash, a silent
/// cast, or a model that runs on shifted bytes.
/// </summary>
public class ReliabilityTests : IDisposable
{
    readonly string dir = TestPaths.TempDirectory();

    public ReliabilityTests() => TestPaths.EnsureTorch();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static LoraBuildException Refused(Action action) => Assert.Throws<LoraBuildException>(action);

    string CopyModel(string family = "llama")
    {
        var target = Path.Combine(dir, family + "-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(TestPaths.Hf(family))) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    string WriteConfig(string json)
    {
        var model = CopyModel();
        File.WriteAllText(Path.Combine(model, "config.json"), json);
        return model;
    }

    string EditConfig(Action<JsonObject> edit)
    {
        var model = CopyModel();
        var path = Path.Combine(model, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return model;
    }

    // ---- safetensors -------------------------------------------------------------------------------------------

    [Fact]
    public void Header_length_one_byte_short_is_refused_not_read_shifted()
    {
        var model = CopyModel();
        var path = Path.Combine(model, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, BinaryPrimitives.ReadUInt64LittleEndian(bytes) - 1);
        File.WriteAllBytes(path, bytes);
        var e = Refused(() => ModelLoader.Load(model).Dispose());
        Assert.Equal(ErrorCodes.SafeTensorsCoverage, e.Code);
        Assert.Equal(path, e.File);
        Assert.Contains("1 trailing byte", e.Message);
    }

    [Fact]
    public void Trailing_bytes_and_holes_in_the_data_are_refused()
    {
        var path = Path.Combine(dir, "t.safetensors");
        using (var scope = NewDisposeScope())
            SafeTensorsWriter.Write(path, [KeyValuePair.Create("a", ones(4)), KeyValuePair.Create("b", ones(2))]);
        File.AppendAllBytes(path, [0, 0, 0, 0]);
        Assert.Equal(ErrorCodes.SafeTensorsCoverage, Refused(() => SafeTensorsFile.Open(path).Dispose()).Code);

        // A hole: 'b' moved 4 bytes further, the data section grown to match, so only the gap is wrong.
        var header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]}}";
        var hole = WriteRaw(header, 28);
        var e = Refused(() => SafeTensorsFile.Open(hole).Dispose());
        Assert.Equal(ErrorCodes.SafeTensorsCoverage, e.Code);
        Assert.Contains("[16, 20)", e.Message);
        // Data that does not start at 0 is a hole too.
        Assert.Equal(ErrorCodes.SafeTensorsCoverage,
            Refused(() => SafeTensorsFile.Open(WriteRaw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)).Dispose()).Code);
    }

    [Fact]
    public void F32_weights_relabelled_I32_are_refused_not_cast()
    {
        var model = CopyModel();
        var path = Path.Combine(model, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        var relabelled = header.Replace("\"dtype\":\"F32\"", "\"dtype\":\"I32\"");
        Assert.NotEqual(header, relabelled);
        Encoding.UTF8.GetBytes(relabelled).CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        var e = Refused(() => ModelLoader.Load(model).Dispose());
        Assert.Equal(ErrorCodes.SafeTensorsDTypeMismatch, e.Code);
        Assert.Contains("I32", e.Message);
        // And reading one with a float target dtype is refused at the reader too.
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(ErrorCodes.SafeTensorsDTypeMismatch, Refused(() => file.Read("lm_head.weight", ScalarType.Float32).Dispose()).Code);
    }

    [Fact]
    public void Non_utf8_bytes_and_lone_surrogate_escapes_in_a_header_are_coded()
    {
        var bad = Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":\"\"}");
        bad[^3] = 0xFF; // inside the "" string
        var path = Path.Combine(dir, "bad-utf8.safetensors");
        var bytes = new byte[8 + bad.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)bad.Length);
        bad.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        Assert.Equal(ErrorCodes.SafeTensorsHeaderJson, Refused(() => SafeTensorsFile.Open(path).Dispose()).Code);

        var surrogateName = WriteRaw("{\"w\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        var e = Refused(() => SafeTensorsFile.Open(surrogateName).Dispose());
        Assert.Equal(ErrorCodes.SafeTensorsHeaderJson, e.Code);
        Assert.Contains("surrogate", e.Message);
        var surrogateMetadata = WriteRaw("{\"__metadata__\":{\"format\":\"p\\udc00t\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        Assert.Equal(ErrorCodes.SafeTensorsHeaderJson, Refused(() => SafeTensorsFile.Open(surrogateMetadata).Dispose()).Code);
    }

    [Fact]
    public void Sharded_index_naming_a_missing_shard_or_a_non_string_is_coded()
    {
        var model = CopyModel();
        File.Move(Path.Combine(model, "model.safetensors"), Path.Combine(model, "model-00001-of-00002.safetensors"));
        var index = Path.Combine(model, CheckpointReader.IndexFile);
        File.WriteAllText(index, """{"weight_map": {"lm_head.weight": "model-00001-of-00002.safetensors", "model.norm.weight": "model-00002-of-00002.safetensors"}}""");
        var e = Refused(() => ModelLoader.Load(model).Dispose());
        Assert.Equal(ErrorCodes.SafeTensorsIndex, e.Code);
        Assert.Contains("model-00002-of-00002.safetensors", e.Message);
        Assert.Contains("missing", e.Message);

        File.WriteAllText(index, """{"weight_map": {"lm_head.weight": 7, "model.norm.weight": ["x"]}}""");
        e = Refused(() => ModelLoader.Load(model).Dispose());
        Assert.Equal(ErrorCodes.SafeTensorsIndex, e.Code);
        Assert.Contains("'lm_head.weight' maps to a number", e.Message);
        Assert.Contains("'model.norm.weight' maps to a array", e.Message);

        File.WriteAllText(index, "[1, 2]");
        Assert.Equal(ErrorCodes.SafeTensorsIndex, Refused(() => ModelLoader.Load(model).Dispose()).Code);
    }

    // ---- config.json -------------------------------------------------------------------------------------------

    [Fact]
    public void Config_that_is_not_an_object_is_coded()
    {
        var model = WriteConfig("[1,2]");
        var e = Refused(() => ModelConfig.Load(model));
        Assert.Equal(ErrorCodes.ConfigInvalid, e.Code);
        Assert.Contains("must be a JSON object", e.Message);
    }

    [Theory]
    [InlineData("2.5")]
    [InlineData("[\"a\"]")]
    [InlineData("1000000000000")]
    [InlineData("{}")]
    public void Eos_token_id_that_is_not_a_token_id_is_coded(string value)
    {
        var model = EditConfig(c => c["eos_token_id"] = JsonNode.Parse(value));
        var e = Refused(() => ModelConfig.Load(model));
        Assert.Equal(ErrorCodes.ConfigInvalid, e.Code);
        Assert.Contains("eos_token_id", e.Message);
        Assert.True(e.Line > 1, "the error points at the key's line");
    }

    [Fact]
    public void All_problems_of_a_config_are_reported_at_once()
    {
        var model = EditConfig(c =>
        {
            c["head_dim"] = -16;
            c["rope_parameters"]!["rope_theta"] = -10000.0;
            c["rms_norm_eps"] = -1e-6;
        });
        var e = Refused(() => ModelConfig.Load(model));
        Assert.Equal(ErrorCodes.ConfigInvalid, e.Code);
        Assert.Contains("3 problem(s)", e.Message);
        Assert.Contains("'head_dim' must be an integer from 1", e.Message);
        Assert.Contains("'rope_parameters.rope_theta' must be a positive finite number", e.Message);
        Assert.Contains("'rms_norm_eps' must be a positive finite number", e.Message);

        // 4.x form: a top-level rope_theta.
        var old = EditConfig(c => { c.Remove("rope_parameters"); c["rope_theta"] = -1.0; });
        Assert.Contains("'rope_theta' must be a positive finite number", Refused(() => ModelConfig.Load(old)).Message);
    }

    [Fact]
    public void A_huge_hidden_size_is_refused_before_any_allocation_and_inspect_says_so()
    {
        var model = EditConfig(c => c["hidden_size"] = 1_000_000_000);
        var load = Refused(() => ModelLoader.Load(model).Dispose());
        Assert.Equal(ErrorCodes.ConfigInvalid, load.Code);
        Assert.Contains("'hidden_size' must be an integer from 1 to 131072, found 1000000000", load.Message);
        Assert.Equal(ErrorCodes.ConfigInvalid, Refused(() => ModelInspection.InspectModel(model)).Code);

        // Within the limits but not what the weights hold: refused from the header, before the model is built.
        var wrong = EditConfig(c => { c["hidden_size"] = 65536; c["head_dim"] = 2048; });
        var e = Refused(() => ModelLoader.Load(wrong).Dispose());
        Assert.Equal(ErrorCodes.TensorShapeMismatch, e.Code);
        Assert.Contains("model.embed_tokens.weight", e.Message);
        Assert.Equal(ErrorCodes.TensorShapeMismatch, Refused(() => ModelInspection.InspectModel(wrong)).Code);
    }

    [Fact]
    public void Valid_fixture_configs_still_load()
    {
        // model_type as the config names it (gemma3's text model is gemma3_text, as in transformers).
        foreach (var family in TestPaths.Families)
        {
            var folder = TestPaths.Hf(family);
            using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
            var declared = config.RootElement.GetProperty("model_type").GetString();
            Assert.Equal(declared == "gemma3" ? "gemma3_text" : declared, ModelConfig.Load(folder).ModelType);
        }
        Assert.Equal("llama", ModelConfig.Load(Path.Combine(TestPaths.RepoRoot, "examples", "digits", "base")).ModelType);
    }

    // ---- adapters ----------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("{not json")]
    [InlineData("[1]")]
    [InlineData("null")]
    [InlineData("\"x\"")]
    [InlineData("{\"quantization\": 5, \"base_model_sha256\": \"ab\"}")]
    [InlineData("{\"quantization\": \"none\"}")]
    [InlineData("{\"quantization\": \"fp3\", \"base_model_sha256\": \"ab\"}")]
    public void Corrupt_or_non_object_lorabuild_json_is_coded(string content)
    {
        var adapter = Path.Combine(dir, "adapter");
        Directory.CreateDirectory(adapter);
        File.WriteAllText(Path.Combine(adapter, AdapterManifest.FileName), content);
        var e = Refused(() => AdapterManifest.TryLoad(adapter));
        Assert.Equal(ErrorCodes.AdapterManifestInvalid, e.Code);
        Assert.Equal(Path.Combine(adapter, AdapterManifest.FileName), e.File);
    }

    [Theory]
    [InlineData("\"rank_pattern\": {\"q_proj\": \"x\"}", "rank_pattern")]
    [InlineData("\"rank_pattern\": {\"q_proj\": 0}", "rank_pattern")]
    [InlineData("\"rank_pattern\": {\"([a\": 4}", "not a valid regex")]
    [InlineData("\"alpha_pattern\": {\"q_proj\": [1]}", "alpha_pattern")]
    [InlineData("\"rank_pattern\": [4]", "rank_pattern")]
    [InlineData("\"exclude_modules\": [1]", "exclude_modules")]
    [InlineData("\"lora_alpha\": \"x\"", "lora_alpha")]
    public void Bad_adapter_config_values_are_coded(string field, string mention)
    {
        var adapter = Path.Combine(dir, "adapter-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(adapter);
        File.WriteAllText(Path.Combine(adapter, LoraConfig.FileName), "{\"peft_type\": \"LORA\", \"r\": 8, \"target_modules\": [\"q_proj\"], " + field + "}");
        var e = Refused(() => LoraConfig.Load(adapter));
        Assert.Equal(ErrorCodes.AdapterConfigInvalid, e.Code);
        Assert.Contains(mention, e.Message);
    }

    [Fact]
    public void A_target_modules_regex_that_does_not_compile_is_coded_at_load()
    {
        var adapter = Path.Combine(dir, "adapter");
        Directory.CreateDirectory(adapter);
        File.WriteAllText(Path.Combine(adapter, LoraConfig.FileName), "{\"peft_type\": \"LORA\", \"target_modules\": \"(unclosed\"}");
        Assert.Equal(ErrorCodes.AdapterConfigInvalid, Refused(() => LoraConfig.Load(adapter)).Code);
    }

    // ---- JSONL -------------------------------------------------------------------------------------------------

    [Fact]
    public void Jsonl_with_a_lone_surrogate_escape_is_coded_with_its_line()
    {
        var path = Path.Combine(dir, "d.jsonl");
        File.WriteAllText(path, "{\"text\": \"ok\"}\n{\"text\": \"bad \\ud800 here\"}\n");
        var e = Refused(() => JsonlDataset.Read(path));
        Assert.Equal(ErrorCodes.DatasetLineInvalid, e.Code);
        Assert.Equal(2, e.Line);
        Assert.Contains("surrogate", e.Message);
    }

    [Fact]
    public void Jsonl_with_invalid_utf8_is_coded_with_its_line_not_trained_as_replacement_characters()
    {
        var path = Path.Combine(dir, "d.jsonl");
        var bytes = new List<byte>();
        bytes.AddRange(Encoding.UTF8.GetBytes("{\"text\": \"fine\"}\n{\"text\": \"caf"));
        bytes.Add(0xE9); // Latin-1 é: not UTF-8
        bytes.AddRange(Encoding.UTF8.GetBytes("\"}\n{\"text\": \"also fine\"}\n"));
        File.WriteAllBytes(path, bytes.ToArray());
        var e = Refused(() => JsonlDataset.Read(path));
        Assert.Equal(ErrorCodes.DatasetLineInvalid, e.Code);
        Assert.Equal(2, e.Line);
        Assert.Contains("not valid UTF-8", e.Message);
        Assert.Contains("0xE9", e.Message);
    }

    [Fact]
    public void All_bad_lines_of_a_dataset_are_reported_at_once()
    {
        var path = Path.Combine(dir, "d.jsonl");
        File.WriteAllText(path, "{\"text\": 1}\n{\"text\": \"ok\"}\n[1]\n{\"prompt\": \"p\"}\n");
        var e = Refused(() => JsonlDataset.Read(path));
        Assert.Equal(1, e.Line);
        Assert.Contains("3 malformed lines", e.Message);
        Assert.Contains("line 3:", e.Message);
        Assert.Contains("line 4: missing \"completion\"", e.Message);
    }

    [Fact]
    public void A_utf8_bom_and_crlf_line_ends_are_still_read()
    {
        var path = Path.Combine(dir, "d.jsonl");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("{\"text\": \"caf\u00e9\"}\r\n\r\n{\"text\": \"b\"}")]);
        var examples = JsonlDataset.Read(path);
        Assert.Equal(["caf\u00e9", "b"], examples.Select(x => x.Text));
        Assert.Equal([1, 3], examples.Select(x => x.Line));
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    string WriteRaw(string header, int dataBytes)
    {
        var path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".safetensors");
        var headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
