using LoraBuild.Diagnostics;
using LoraBuild.Hub.Datasets;
using LoraBuild.Training.Data;
using LoraBuild.Training.Data.Hub;

namespace LoraBuild.Tests;

/// <summary>
/// Which files of a Hub dataset repository hold which split. The goldens are huggingface datasets' own test cases
/// (tests/test_data_files.py, test_get_data_files_patterns, and the get_data_patterns docstring in src/datasets/data_files.py),
/// with ".txt" written ".csv": LoraBuild considers only the formats it reads.
/// </summary>
public class HubDataFilesTests
{
    /// <summary>"split=file,file;split=file" -> the split map, in the order written.</summary>
    static Dictionary<string, List<string>> Parse(string expected) =>
        expected.Split(';').Select(s => s.Split('=')).ToDictionary(p => p[0], p => p[1].Split(',').ToList());

    [Theory]
    // === Main cases (sharded names: any split; keywords in folder or file names) ===
    [InlineData("train=train.csv")]
    [InlineData("train=data/train.csv")]
    [InlineData("train=train/dataset.csv")]
    [InlineData("train=train.csv;test=test.csv")]
    [InlineData("train=data/train.csv;test=data/test.csv")]
    [InlineData("train=train_0.csv,train_1.csv,train_2.csv,train_3.csv;test=test_0.csv,test_1.csv")]
    [InlineData("train=data/train/shard_0.csv,data/train/shard_1.csv,data/train/shard_2.csv,data/train/shard_3.csv;test=data/test/shard_0.csv,data/test/shard_1.csv")]
    [InlineData("train=data/train-00000-of-00003.csv,data/train-00001-of-00003.csv,data/train-00002-of-00003.csv;test=data/test-00000-of-00001.csv;random=data/random-00000-of-00003.csv,data/random-00001-of-00003.csv,data/random-00002-of-00003.csv")]
    // === Secondary cases ===
    [InlineData("train=dataset.csv")]
    [InlineData("train=data/dataset.csv")]
    [InlineData("train=my_train_dir/dataset.csv")]
    [InlineData("train=data/my_train_file.csv")]
    [InlineData("test=my_test_dir/dataset.csv")]
    [InlineData("test=data/my_test_file.csv")]
    [InlineData("validation=my_validation_dir/dataset.csv")]
    [InlineData("validation=data/my_validation_file.csv")]
    [InlineData("train=train_dir/dataset.csv")]
    [InlineData("test=data/test_file.csv")]
    [InlineData("train=my_train/dataset.csv")]
    [InlineData("validation=data/my_validation.csv")]
    [InlineData("test=eval.csv")]
    [InlineData("test=eval/dataset.csv")]
    [InlineData("validation=dev.csv")]
    [InlineData("validation=dev/dataset.csv")]
    [InlineData("validation=val.csv")]
    [InlineData("train=train.parquet;validation=valid.parquet;test=test.parquet")]
    // "dev" or "eval" without separators are not keywords
    [InlineData("train=developers_list.csv")]
    [InlineData("train=data/seqeval_results.csv")]
    [InlineData("train=contest.csv")]
    // supported separators
    [InlineData("test=my.test.file.csv")]
    [InlineData("test=my-test-file.csv")]
    [InlineData("test=my_test_file.csv")]
    [InlineData("test=my test file.csv")]
    [InlineData("test=test00001.csv")]
    // <split>/<split>: the folder decides
    [InlineData("test=test/train.csv")]
    public void Splits_are_inferred_as_datasets_infers_them(string expected)
    {
        var splits = Parse(expected);
        var inferred = DataFilePatterns.InferSplits(splits.Values.SelectMany(f => f).Reverse().ToList());
        Assert.Equal(splits.Keys.Order(), inferred.Keys.Order());
        foreach (var (split, files) in splits) Assert.Equal(files.Order(StringComparer.Ordinal), inferred[split]);
    }

    [Fact]
    public void Hidden_files_special_folders_and_unreadable_formats_are_skipped()
    {
        var inferred = DataFilePatterns.InferSplits([".hidden/train.csv", "__pycache__/train.csv", "train.csv", "README.md", "train.arrow", "test.txt", ".gitattributes"]);
        Assert.Equal(["train"], inferred.Keys);
        Assert.Equal(["train.csv"], inferred["train"]);
        Assert.Empty(DataFilePatterns.InferSplits(["README.md", "dataset.py"]));
    }

    [Fact]
    public void A_config_folder_is_split_as_a_repository_is()
    {
        var listing = new[] { "en/train-00000-of-00001.parquet", "en/test-00000-of-00001.parquet", "fr/data.jsonl" };
        Assert.Equal(["en/train-00000-of-00001.parquet"], DataFilePatterns.InferSplits(listing, "en")["train"]);
        Assert.Equal(["fr/data.jsonl"], DataFilePatterns.InferSplits(listing, "fr")["train"]);
    }

    [Theory]
    [InlineData("data/*.parquet", "data/a.parquet,data/b.parquet")]
    [InlineData("**/*.jsonl", "x.jsonl,deep/er/y.jsonl")]
    [InlineData("data/**", "data/a.parquet,data/b.parquet,data/sub/c.csv")]
    [InlineData("data/[ab].parquet", "data/a.parquet,data/b.parquet")]
    [InlineData("x.jsonl", "x.jsonl")]
    public void Data_files_globs_match_as_fsspec_does(string pattern, string expected)
    {
        string[] listing = ["x.jsonl", "deep/er/y.jsonl", "data/a.parquet", "data/b.parquet", "data/sub/c.csv", ".hidden/z.jsonl"];
        Assert.Equal(expected.Split(',').Order(StringComparer.Ordinal), DataFilePatterns.Match(listing, pattern));
    }

    static DatasetSpec Spec(string? name = null, string? split = null, params string[] dataFiles) =>
        new("org/set", "c.yml", 7, 3) { IsHub = true, Name = name, Split = split, DataFiles = dataFiles };

    static DatasetCardConfig Config(string name, bool isDefault, params (string Split, string Pattern)[] files) =>
        new(name, isDefault, files.ToDictionary(f => f.Split, f => (IReadOnlyList<string>)[f.Pattern]), null);

    [Fact]
    public void Card_configs_choose_by_name_or_default_and_name_what_is_missing()
    {
        string[] listing = ["README.md", "main/train-00000-of-00002.parquet", "main/train-00001-of-00002.parquet", "main/test-00000-of-00001.parquet", "extra/all.jsonl"];
        DatasetCardConfig[] configs = [Config("main", true, ("train", "main/train-*"), ("test", "main/test-*")), Config("extra", false, ("train", "extra/*.jsonl"))];
        Assert.Equal(["main/train-00000-of-00002.parquet", "main/train-00001-of-00002.parquet"], HubDatasetLayout.Select(listing, configs, Spec(), "train"));
        Assert.Equal(["main/test-00000-of-00001.parquet"], HubDatasetLayout.Select(listing, configs, Spec(split: "test[:5]"), "test"));
        Assert.Equal(["extra/all.jsonl"], HubDatasetLayout.Select(listing, configs, Spec("extra"), "train"));

        var config = Assert.Throws<LoraBuildException>(() => HubDatasetLayout.Select(listing, configs, Spec("other"), "train"));
        Assert.Equal((ErrorCodes.HubDatasetConfigMissing, "c.yml", 7), (config.Code, config.File, config.Line));
        Assert.Contains("config 'other' is not one of the repository's configs (main, extra)", config.Message);
        var split = Assert.Throws<LoraBuildException>(() => HubDatasetLayout.Select(listing, configs, Spec("extra"), "validation"));
        Assert.Equal(ErrorCodes.HubDatasetSplitMissing, split.Code);
        Assert.Contains("split 'validation' is not in config 'extra' (splits: train)", split.Message);
    }

    [Fact]
    public void Data_files_are_the_train_split_and_the_parquet_conversion_has_its_own_layout()
    {
        string[] listing = ["a/one.csv", "a/two.csv", "b/three.csv"];
        Assert.Equal(["a/one.csv", "a/two.csv"], HubDatasetLayout.Select(listing, [], Spec(dataFiles: "a/*.csv"), "train"));
        Assert.Equal(ErrorCodes.HubDatasetNoDataFiles, Assert.Throws<LoraBuildException>(() => HubDatasetLayout.Select(listing, [], Spec(dataFiles: "c/*.csv"), "train")).Code);

        string[] converted = ["default/train/0000.parquet", "default/train/0001.parquet", "default/partial-test/0000.parquet", "other/train/0000.parquet"];
        Assert.Equal(["default/train/0000.parquet", "default/train/0001.parquet"], HubDatasetLayout.SelectConverted(converted, Spec(), "train"));
        Assert.Equal(["default/partial-test/0000.parquet"], HubDatasetLayout.SelectConverted(converted, Spec(), "test"));
        Assert.Equal(["other/train/0000.parquet"], HubDatasetLayout.SelectConverted(converted, Spec("other"), "train"));
        Assert.Equal(ErrorCodes.HubDatasetConfigMissing, Assert.Throws<LoraBuildException>(() => HubDatasetLayout.SelectConverted(converted, Spec("nope"), "train")).Code);
    }

    [Fact]
    public void Readme_configs_are_read_in_every_data_files_shape()
    {
        var dir = TestPaths.TempDirectory();
        try
        {
            var readme = Path.Combine(dir, "README.md");
            File.WriteAllText(readme, """
                ---
                license: mit
                configs:
                - config_name: listed
                  default: true
                  data_files:
                  - split: train
                    path: data/train-*
                  - split: test
                    path: [data/test-a.csv, data/test-b.csv]
                - config_name: one
                  data_files: one/*.jsonl
                - config_name: mapped
                  data_files:
                    train: m/train.csv
                    validation: m/dev.csv
                - config_name: folder
                  data_dir: f
                ---
                # card
                """);
            var configs = DatasetCardConfigs.Read(readme, "dataset org/set");
            Assert.Equal(["listed", "one", "mapped", "folder"], configs.Select(c => c.Name));
            Assert.True(configs[0].IsDefault);
            Assert.Equal(["data/train-*"], configs[0].DataFiles!["train"]);
            Assert.Equal(["data/test-a.csv", "data/test-b.csv"], configs[0].DataFiles!["test"]);
            Assert.Equal(["one/*.jsonl"], configs[1].DataFiles!["train"]);
            Assert.Equal(["m/dev.csv"], configs[2].DataFiles!["validation"]);
            Assert.Equal("f", configs[3].DataDir);
            Assert.Equal(["f/test.parquet"], HubDatasetLayout.Select(["f/train.parquet", "f/test.parquet"], configs, Spec("folder"), "test"));

            File.WriteAllText(readme, "---\nconfigs:\n- config_name: a\n  data_files:\n  - split: train\n    path: x\n  - split: train\n    path: y\n---\n");
            Assert.Equal(ErrorCodes.HubDatasetCardInvalid, Assert.Throws<LoraBuildException>(() => DatasetCardConfigs.Read(readme, "dataset org/set")).Code);
            File.WriteAllText(readme, "# no YAML header\n");
            Assert.Empty(DatasetCardConfigs.Read(readme, "dataset org/set"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
