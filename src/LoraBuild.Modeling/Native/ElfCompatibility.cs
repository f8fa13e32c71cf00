using System.Buffers.Binary;
using System.Text;
using LoraBuild.Diagnostics;

namespace LoraBuild.Native;

/// <summary>
/// Reads the symbol-version requirements of an ELF64 shared library and, where a host's libstdc++ is too old for
/// a version that only <c>std::ios_base_library_init()</c> needs (GCC 13 emits that call; GCC 12's libstdc++ runs the
/// same initialisation itself), produces a copy in which that requirement is weak and the call binds to a no-op.
/// See docs/native.md for the reasoning; every edit is an in-place byte write, so the copy keeps its layout.
/// </summary>
public sealed class ElfCompatibility
{
    const uint ShtDynsym = 11;
    const uint ShtGnuVersym = 0x6fffffff;
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlagWeak = 0x2;
    const int SymbolEntrySize = 24;

    /// <summary>Symbols whose versioned requirement can safely be dropped (name -> replacement with no arguments).</summary>
    static readonly Dictionary<string, string> SkippableSymbols = new()
    {
        // GCC 13 calls this from static initialisers of <iostream> users; older libstdc++ initialises the standard
        // streams from its own <iostream> users already loaded (libtorch), so a call to a harmless libc function does.
        ["_ZSt21ios_base_library_initv"] = "getpid",
    };

    readonly byte[] image;
    readonly List<VersionNeed> needs = new();
    readonly List<(int Index, uint NameOffset, string Name, ushort Version)> symbols = new();
    long versymOffset;
    long dynstrOffset;
    long dynstrSize;

    ElfCompatibility(byte[] image)
    {
        this.image = image;
        Parse();
    }

    public static ElfCompatibility Read(string path)
    {
        try
        {
            return new ElfCompatibility(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is not LoraBuildException)
        {
            throw new LoraBuildException(ErrorCodes.NativeIncompatible, $"Cannot read ELF file: {e.Message}", path, inner: e);
        }
    }

    /// <summary>Version names (e.g. GLIBCXX_3.4.32) this library requires from the named dependency.</summary>
    public IReadOnlyList<string> RequiredVersions(string library) =>
        needs.Where(n => n.File == library).Select(n => n.Version).ToList();

    /// <summary>Undefined symbols bound to a given required version.</summary>
    public IReadOnlyList<string> SymbolsRequiring(string library, string version)
    {
        var need = needs.FirstOrDefault(n => n.File == library && n.Version == version);
        if (need is null) return Array.Empty<string>();
        return symbols.Where(s => (s.Version & 0x7fff) == need.Index).Select(s => s.Name).ToList();
    }

    /// <summary>
    /// Returns the bytes of a copy that loads without <paramref name="missingVersions"/>, or throws LB0002 when a missing
    /// version is needed by a symbol that cannot be skipped safely (then the host really is too old).
    /// </summary>
    public byte[] CreateCompatibleCopy(string library, IReadOnlyCollection<string> missingVersions, string originalPath)
    {
        var copy = (byte[])image.Clone();
        foreach (var version in missingVersions)
        {
            var need = needs.FirstOrDefault(n => n.File == library && n.Version == version)
                ?? throw new LoraBuildException(ErrorCodes.NativeIncompatible, $"{library} version {version} is not required by this library.", originalPath);
            var users = symbols.Where(s => (s.Version & 0x7fff) == need.Index).ToList();
            var unsafeUsers = users.Where(s => !SkippableSymbols.ContainsKey(s.Name)).Select(s => s.Name).ToList();
            if (unsafeUsers.Count > 0)
            {
                throw new LoraBuildException(ErrorCodes.NativeIncompatible,
                    $"The host's {library} lacks {version}, which {Path.GetFileName(originalPath)} needs for {string.Join(", ", unsafeUsers)}. " +
                    "Install a newer libstdc++ (GCC 13 or later), or point TORCH_LIB_DIR at a PyTorch install built for this host.", originalPath);
            }

            BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan((int)need.FlagsOffset), (ushort)(need.Flags | VerFlagWeak));
            foreach (var symbol in users)
            {
                // Version index 1 = global: any definition of the (renamed) symbol binds.
                BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan((int)(versymOffset + 2L * symbol.Index)), 1);
                RenameInPlace(copy, symbol.NameOffset, symbol.Name, SkippableSymbols[symbol.Name], originalPath);
            }
        }
        return copy;
    }

    void RenameInPlace(byte[] copy, uint nameOffset, string oldName, string newName, string originalPath)
    {
        // A string table may share tails between names; refuse if another symbol's name starts inside this one.
        var start = nameOffset;
        var end = nameOffset + (uint)oldName.Length;
        if (symbols.Any(s => s.NameOffset > start && s.NameOffset < end) || newName.Length > oldName.Length)
            throw new LoraBuildException(ErrorCodes.NativeIncompatible, $"Cannot rename {oldName} in place.", originalPath);
        var at = copy.AsSpan((int)(dynstrOffset + nameOffset), oldName.Length);
        at.Clear();
        Encoding.ASCII.GetBytes(newName).CopyTo(at);
    }

    void Parse()
    {
        var span = image.AsSpan();
        if (span.Length < 64 || span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
            throw new LoraBuildException(ErrorCodes.NativeIncompatible, "Not an ELF file.");
        if (span[4] != 2 || span[5] != 1)
            throw new LoraBuildException(ErrorCodes.NativeIncompatible, "Only little-endian ELF64 libraries are supported.");

        var sectionTable = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        int sectionSize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int sectionCount = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        var sections = new List<(uint Type, long Offset, long Size, uint Link, uint Info)>();
        for (var i = 0; i < sectionCount; i++)
        {
            var header = Slice(sectionTable + (long)i * sectionSize, 64);
            sections.Add((
                BinaryPrimitives.ReadUInt32LittleEndian(header[4..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(header[0x18..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(header[0x20..]),
                BinaryPrimitives.ReadUInt32LittleEndian(header[0x28..]),
                BinaryPrimitives.ReadUInt32LittleEndian(header[0x2C..])));
        }

        var dynsym = sections.FirstOrDefault(s => s.Type == ShtDynsym);
        var versym = sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
        var verneed = sections.FirstOrDefault(s => s.Type == ShtGnuVerneed);
        if (dynsym.Type == 0) return; // nothing dynamic: nothing to require
        var dynstr = sections[(int)dynsym.Link];
        dynstrOffset = dynstr.Offset;
        dynstrSize = dynstr.Size;
        versymOffset = versym.Offset;

        if (verneed.Type != 0)
        {
            var entry = verneed.Offset;
            for (var i = 0; i < verneed.Info; i++)
            {
                var vn = Slice(entry, 16);
                int auxCount = BinaryPrimitives.ReadUInt16LittleEndian(vn[2..]);
                var file = ReadString(BinaryPrimitives.ReadUInt32LittleEndian(vn[4..]));
                var aux = entry + BinaryPrimitives.ReadUInt32LittleEndian(vn[8..]);
                for (var j = 0; j < auxCount; j++)
                {
                    var vna = Slice(aux, 16);
                    needs.Add(new VersionNeed(
                        file,
                        ReadString(BinaryPrimitives.ReadUInt32LittleEndian(vna[8..])),
                        BinaryPrimitives.ReadUInt16LittleEndian(vna[6..]),
                        BinaryPrimitives.ReadUInt16LittleEndian(vna[4..]),
                        aux + 4));
                    var nextAux = BinaryPrimitives.ReadUInt32LittleEndian(vna[12..]);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                var next = BinaryPrimitives.ReadUInt32LittleEndian(vn[12..]);
                if (next == 0) break;
                entry += next;
            }
        }

        var count = (int)(dynsym.Size / SymbolEntrySize);
        for (var i = 0; i < count; i++)
        {
            var sym = Slice(dynsym.Offset + (long)i * SymbolEntrySize, SymbolEntrySize);
            var nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(sym);
            var version = versym.Type == 0 ? (ushort)1 : BinaryPrimitives.ReadUInt16LittleEndian(Slice(versym.Offset + 2L * i, 2));
            symbols.Add((i, nameOffset, ReadString(nameOffset), version));
        }
    }

    ReadOnlySpan<byte> Slice(long offset, int length)
    {
        if (offset < 0 || offset + length > image.Length)
            throw new LoraBuildException(ErrorCodes.NativeIncompatible, "Truncated or malformed ELF file.");
        return image.AsSpan((int)offset, length);
    }

    string ReadString(uint offset)
    {
        if (offset >= dynstrSize) throw new LoraBuildException(ErrorCodes.NativeIncompatible, "Malformed ELF string table.");
        var start = (int)(dynstrOffset + offset);
        var end = Array.IndexOf(image, (byte)0, start);
        return Encoding.ASCII.GetString(image, start, end - start);
    }

    sealed record VersionNeed(string File, string Version, ushort Index, ushort Flags, long FlagsOffset);
}
