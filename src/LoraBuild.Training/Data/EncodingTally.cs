namespace LoraBuild.Training.Data;

/// <summary>Adds up an <see cref="EncodingReport"/> one example at a time (in memory, into a store, or from a store's record headers).</summary>
public sealed class EncodingTally
{
    int examples, truncated, longest;
    long tokens, trainable;

    /// <summary>One example: its length before truncation, its length, and its learned tokens.</summary>
    public void Add(int originalLength, int length, int learned)
    {
        examples++;
        if (originalLength > length) truncated++;
        longest = Math.Max(longest, originalLength);
        tokens += length;
        trainable += learned;
    }

    public EncodingReport Report => new(examples, truncated, longest, tokens, trainable);
}
