using System.Buffers.Binary;

namespace MiniHv.Hv.Loader;

/// <summary>One PT_LOAD program header of an ELF32 file, checked against the file's length.</summary>
internal readonly record struct ElfProgramHeader(
    int Index, uint Offset, uint VirtualAddress, uint PhysicalAddress, uint FileSize, uint MemorySize, bool Executable, bool Writable);

/// <summary>
/// The parts of the ELF32 format every reader of an i386 image needs: the identification and header
/// checks, and the loadable program headers. The multiboot loader and the symbol reader both build on it,
/// so an image is judged the same way by both.
/// </summary>
internal static class Elf32File
{
    public const int HeaderBytes = 52;
    public const int ProgramHeaderBytes = 32;
    private const byte Class32 = 1, Class64 = 2;
    private const byte DataLittle = 1, DataBig = 2;
    private const ushort TypeRelocatable = 1, TypeExecutable = 2, TypeShared = 3;
    private const ushort MachineI386 = 3, MachineX86_64 = 62;
    private const uint ProgramLoad = 1;
    private const uint FlagExecute = 1, FlagWrite = 2;

    /// <summary>True when <paramref name="file"/> starts with the ELF magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> file)
        => file.Length >= 4 && file[0] == 0x7F && file[1] == (byte)'E' && file[2] == (byte)'L' && file[3] == (byte)'F';

    /// <summary>
    /// Checks that <paramref name="file"/> is a little-endian ELF32 i386 executable (or, with
    /// <paramref name="allowShared"/>, a shared object) with a whole header.
    /// </summary>
    /// <exception cref="InvalidImageException">It is not.</exception>
    public static void CheckHeader(ReadOnlySpan<byte> file, bool allowShared)
    {
        if (file.Length < HeaderBytes)
            throw new InvalidImageException(
                $"truncated ELF header: the file has {file.Length} bytes, an ELF32 header needs {HeaderBytes}");
        byte elfClass = file[4];
        ushort machine = U16(file, 18);
        if (elfClass == Class64 || machine == MachineX86_64)
            throw new InvalidImageException("64-bit ELF file (x86-64): MiniHv takes 32-bit i386 images (ELFCLASS32, EM_386)");
        if (elfClass != Class32)
            throw new InvalidImageException($"unknown ELF class {elfClass} (ELFCLASS32 = 1 expected)");
        if (file[5] == DataBig)
            throw new InvalidImageException("big-endian ELF file: i386 images are little-endian (ELFDATA2LSB)");
        if (file[5] != DataLittle)
            throw new InvalidImageException($"unknown ELF data encoding {file[5]} (ELFDATA2LSB = 1 expected)");
        if (machine != MachineI386)
            throw new InvalidImageException($"ELF machine {machine} is not i386 (EM_386 = 3)");
        ushort type = U16(file, 16);
        if (allowShared && type == TypeRelocatable)
            throw new InvalidImageException("a relocatable object (ET_REL, a .o file): its code has no addresses until it is linked");
        if (allowShared && type != TypeExecutable && type != TypeShared)
            throw new InvalidImageException($"ELF type {type} is neither an executable (ET_EXEC = 2) nor a shared object (ET_DYN = 3)");
        if (!allowShared && type != TypeExecutable)
            throw new InvalidImageException($"ELF type {type} is not an executable (ET_EXEC = 2)");
    }

    /// <summary>The entry point, e_entry.</summary>
    public static uint Entry(ReadOnlySpan<byte> file) => U32(file, 24);

    /// <summary>
    /// The PT_LOAD program headers with a size in memory, in file order, each one's bytes inside the file
    /// and p_filesz within p_memsz. The header must have been checked first.
    /// </summary>
    /// <exception cref="InvalidImageException">The table or a segment is truncated or malformed.</exception>
    public static List<ElfProgramHeader> LoadSegments(ReadOnlySpan<byte> file)
    {
        uint tableOffset = U32(file, 28);
        ushort entrySize = U16(file, 42);
        ushort count = U16(file, 44);
        if (count == 0)
            throw new InvalidImageException("the ELF file has no program headers: nothing of it is loaded");
        if (entrySize != ProgramHeaderBytes)
            throw new InvalidImageException($"ELF program header entries are {entrySize} bytes, ELF32 has {ProgramHeaderBytes}");
        long tableEnd = (long)tableOffset + ((long)count * ProgramHeaderBytes);
        if (tableEnd > file.Length)
            throw new InvalidImageException(
                $"truncated program headers: {count} entries at file offset 0x{tableOffset:x} end at 0x{tableEnd:x}, but the file ends at 0x{file.Length:x}");

        var segments = new List<ElfProgramHeader>();
        for (int i = 0; i < count; i++)
        {
            int ph = (int)tableOffset + (i * ProgramHeaderBytes);
            if (U32(file, ph) != ProgramLoad)
                continue;
            uint offset = U32(file, ph + 4), fileSize = U32(file, ph + 16), memorySize = U32(file, ph + 20), flags = U32(file, ph + 24);
            if (memorySize == 0)
                continue; // QEMU skips empty segments too
            if (fileSize > memorySize)
                throw new InvalidImageException($"ELF segment {i}: p_filesz 0x{fileSize:x} is larger than p_memsz 0x{memorySize:x}");
            if ((long)offset + fileSize > file.Length)
                throw new InvalidImageException(
                    $"truncated segment data: ELF segment {i} needs file bytes 0x{offset:x}-0x{(long)offset + fileSize:x}, but the file ends at 0x{file.Length:x}");
            segments.Add(new ElfProgramHeader(i, offset, U32(file, ph + 8), U32(file, ph + 12), fileSize, memorySize,
                (flags & FlagExecute) != 0, (flags & FlagWrite) != 0));
        }

        return segments;
    }

    public static uint U32(ReadOnlySpan<byte> bytes, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(offset, 4));

    public static ushort U16(ReadOnlySpan<byte> bytes, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(offset, 2));
}
