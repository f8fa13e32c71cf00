namespace LoraBuild.Export.Gguf;

/// <summary>
/// A tensor to write: its GGUF name, its shape in row-major (PyTorch) order, its storage type, and a function that
/// produces its float32 values only when the writer reaches it, so one tensor at a time is in memory.
/// </summary>
public sealed record GgufTensor(string Name, long[] Shape, GgmlType Type, Func<float[]> Values)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));
}
