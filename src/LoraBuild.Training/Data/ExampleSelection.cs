using System.Collections;

namespace LoraBuild.Training.Data;

/// <summary>Some examples of a list, by index (the training examples a held-out split leaves), without copying them.</summary>
public sealed class ExampleSelection(IReadOnlyList<TokenizedExample> all, int[] indices) : IReadOnlyList<TokenizedExample>
{
    public int Count => indices.Length;
    public TokenizedExample this[int index] => all[indices[index]];
    public IReadOnlyList<int> Indices => indices;

    public IEnumerator<TokenizedExample> GetEnumerator()
    {
        foreach (var i in indices) yield return all[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
