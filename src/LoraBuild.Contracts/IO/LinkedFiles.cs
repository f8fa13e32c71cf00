namespace LoraBuild.IO;

/// <summary>
/// A file's own facts through symbolic links: the Hugging Face cache makes every model file a relative link into
/// blobs/, and FileInfo describes the link itself (its size is the length of the target's name).
/// </summary>
public static class LinkedFiles
{
    /// <summary>The file a path finally names (itself when it is no link).</summary>
    public static FileInfo Resolve(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
    }

    public static long Length(string path) => Resolve(path).Length;
}
