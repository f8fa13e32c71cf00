namespace LoraBuild.Hub;

/// <summary>The kinds of Hub repository LoraBuild reads: base models, and datasets (Parquet files).</summary>
public enum RepoType { Model, Dataset }

public static class RepoTypeNames
{
    /// <summary>The plural the Hub's API paths use (/api/models/..., /api/datasets/...).</summary>
    public static string ApiSegment(this RepoType type) => type == RepoType.Model ? "models" : "datasets";

    /// <summary>The cache folder prefix (models--org--name, datasets--org--name), as huggingface_hub names it.</summary>
    public static string CachePrefix(this RepoType type) => type.ApiSegment();

    /// <summary>The prefix of file URLs: none for models, "datasets/" for datasets (/datasets/org/name/resolve/...).</summary>
    public static string ResolvePrefix(this RepoType type) => type == RepoType.Model ? "" : "datasets/";
}
