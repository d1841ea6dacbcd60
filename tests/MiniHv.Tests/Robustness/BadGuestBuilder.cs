using System.Buffers.Binary;
using System.Text;
using Iced.Intel;
using Decoder = Iced.Intel.Decoder;
using MiniHv.Tests.Cpu;
using MiniHv.Tests.Loader;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Robustness;

/// <summary>How a bad guest's interrupt and exception handlers behave.</summary>
internal enum HandlerStyle
{
    /// <summary>Pop the error code if any and IRET: a fault re-executes the faulting instruction forever.</summary>
    Iret,

    /// <summary>Pop the error code, add 1-8 to the saved EIP, IRET: carry on somewhere after the fault.</summary>
    SkipAndIret,

    /// <summary>Acknowledge both PICs and IRET (for interrupt storms).</summary>
    EoiAndIret,

    /// <summary>HLT in a loop.</summary>
    Halt,

    /// <summary><c>jmp $</c>.</summary>
    Spin,

    /// <summary>UD2: the handler faults before it retires anything, and the #UD handler is itself.</summary>
    Ud2,

    /// <summary>Write to the debug-exit port.</summary>
    DebugExit,

    /// <summary>Read a wild address, then IRET: with paging on, a fault inside the handler.</summary>
    FaultAgain,

    /// <summary>INT to the next vector: deliveries nest until the stack runs out.</summary>
    Recurse,

    /// <summary>Random bytes.</summary>
    Random,
}

/// <summary>
/// Lays out one bad guest: code assembled by Iced at 1 MiB (a setup, then a payload), and data areas beside it
/// (descriptor tables, page tables, handler stubs, scratch bytes), all below 1.5 MiB so that the image loads
/// into the smallest guest (2 MiB). Every choice comes from one <see cref="System.Random"/>, so a seed names a
/// guest, and each is noted in <see cref="Recipe"/> for whoever has to reproduce a failure.
/// </summary>
internal sealed class BadGuestBuilder
{
    public const uint CodeBase = 0x100000;
    public const uint CodeEnd = 0x108000;

    /// <summary>GDTR and IDTR images (at +0 and +8), then random bytes: far pointers, stack contents, string sources.</summary>
    public const uint Scratch = 0x108000;

    public const int ScratchBytes = 0x4000;
    public const uint Gdt = 0x110000;
    public const int GdtBytes = 0x10000;
    public const uint Idt = 0x120000;
    public const uint Tss = 0x121000;
    public const int TssBytes = 0x3000;
    public const uint Ldt = 0x124000;
    public const uint PageDirectory = 0x130000;
    public const uint PageTableBase = 0x131000;
    public const int PageTableCount = 8;
    public const uint Stubs = 0x140000;
    public const int StubBytes = 32;
    public const uint StackTop = 0x160000;

    /// <summary>Selectors of the flat world <see cref="FlatWorld"/> installs.</summary>
    public const ushort KernelCode = 0x08, KernelData = 0x10, UserCode = 0x1B, UserData = 0x23, TssSelector = 0x28,
        Code16 = 0x30, Data16 = 0x38, LdtSelector = 0x40;

    /// <summary>GDT entries from here on are free for random descriptors.</summary>
    public const int FirstFreeGdtEntry = 9;

    private const int GdtrImage = 0, IdtrImage = 8;

    private readonly SortedDictionary<uint, byte[]> _areas = new();
    private readonly StringBuilder _recipe = new();

    public BadGuestBuilder(Random rng, long ramBytes)
    {
        Rng = rng;
        RamBytes = ramBytes;
        Asm = new Assembler(32);
    }

    public Random Rng { get; }

    public long RamBytes { get; }

    /// <summary>The code at <see cref="CodeBase"/>, the guest's entry point.</summary>
    public Assembler Asm { get; }

    public string Recipe => _recipe.ToString().TrimEnd();

    /// <summary>Records a choice, for the failure message.</summary>
    public void Note(string text) => _recipe.Append(text).Append("; ");

    /// <summary>The bytes of a data area, created zeroed on first use; it becomes a segment of the image.</summary>
    public byte[] Area(uint address, int size)
    {
        if (!_areas.TryGetValue(address, out byte[]? bytes))
            _areas[address] = bytes = new byte[size];
        return bytes;
    }

    public void Put32(uint address, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(AreaSpan(address, 4), value);

    public void Put64(uint address, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(AreaSpan(address, 8), value);

    public void PutBytes(uint address, ReadOnlySpan<byte> bytes) => bytes.CopyTo(AreaSpan(address, bytes.Length));

    /// <summary>The multiboot image; the code is cut short where the next area starts.</summary>
    public byte[] Build()
    {
        var stream = new MemoryStream();
        Asm.Assemble(new StreamCodeWriter(stream), CodeBase);
        byte[] code = stream.ToArray();
        uint end = _areas.Keys.Where(k => k > CodeBase).DefaultIfEmpty(CodeEnd).Min();
        if (code.Length > end - CodeBase)
            code = code[..(int)(end - CodeBase)];
        var elf = new MultibootElfBuilder { Entry = CodeBase }.AddSegment(CodeBase, code);
        foreach ((uint address, byte[] bytes) in _areas)
            elf.AddSegment(address, bytes, flags: 6);
        return elf.Build();
    }

    // ---- Random values -----------------------------------------------------------------

    public uint NextUInt() => (uint)Rng.NextInt64(0, 1L << 32);

    public bool Chance(double p) => Rng.NextDouble() < p;

    public T Pick<T>(params T[] choices) => choices[Rng.Next(choices.Length)];

    public byte[] RandomBytes(int count)
    {
        byte[] bytes = new byte[count];
        Rng.NextBytes(bytes);
        return bytes;
    }

    /// <summary>An address anywhere interesting: holes above RAM, the 4 GiB wrap, page 0, RAM, the guest's own tables and code.</summary>
    public uint WildAddress() => Rng.Next(8) switch
    {
        0 => (uint)(RamBytes + Rng.NextInt64(0, 0xFFFF_FFFFL - RamBytes)),
        1 => 0xFFFF_FFFF - (uint)Rng.Next(0x20),
        2 => (uint)Rng.Next(0x1000),
        3 => (uint)Rng.NextInt64(0, RamBytes),
        4 => (uint)RamBytes - (uint)Rng.Next(1, 0x20),
        5 => Pick(Gdt, Idt, PageDirectory, PageTableBase, Stubs, Tss) + (uint)Rng.Next(0x1000),
        6 => CodeBase + (uint)Rng.Next(0x8000),
        _ => NextUInt(),
    };

    /// <summary>A selector into the GDT or LDT, mostly to an entry that exists, with a random RPL.</summary>
    public ushort RandomSelector(int gdtEntries)
    {
        int index = Chance(0.8) ? Rng.Next(gdtEntries) : Rng.Next(8192);
        return (ushort)((index << 3) | (Chance(0.15) ? 4 : 0) | Rng.Next(4));
    }

    // ---- Code ------------------------------------------------------------------------------

    /// <summary>Random bytes, or a run of random instructions that Iced decodes as valid (they get further).</summary>
    public byte[] RandomCode(int length)
    {
        byte[] raw = RandomBytes(length * 2);
        if (Chance(0.4))
            return raw[..length];
        var reader = new ByteArrayCodeReader(raw);
        var decoder = Decoder.Create(32, reader, CodeBase);
        var code = new List<byte>(length);
        while (code.Count < length && reader.CanReadByte)
        {
            int start = (int)(decoder.IP - CodeBase);
            decoder.Decode(out Instruction ins);
            if (!ins.IsInvalid)
                code.AddRange(raw.AsSpan(start, ins.Length).ToArray());
            else if (decoder.LastError == DecoderError.NoMoreBytes)
                break;
        }

        return code.Count > length ? code.GetRange(0, length).ToArray() : code.ToArray();
    }

    /// <summary>The payload after the setup: random code of a random length.</summary>
    public void RandomPayload()
    {
        int length = Rng.Next(1, 0x1800);
        Note($"payload {length} bytes");
        Asm.db(RandomCode(length));
    }

    /// <summary>One instruction: <paramref name="opcode"/> with a ModRM of <paramref name="reg"/> and an absolute [disp32] operand.</summary>
    public void EmitDisp32(ReadOnlySpan<byte> opcode, int reg, uint displacement)
    {
        var bytes = new byte[opcode.Length + 5];
        opcode.CopyTo(bytes);
        bytes[opcode.Length] = (byte)((reg << 3) | 5);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(opcode.Length + 1), displacement);
        Asm.db(bytes);
    }

    /// <summary><c>mov dword [address], value</c> with an absolute address.</summary>
    public void StoreDword(uint address, uint value)
    {
        var bytes = new byte[10];
        bytes[0] = 0xC7;
        bytes[1] = 0x05;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(2), address);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(6), value);
        Asm.db(bytes);
    }

    /// <summary>JMP or CALL far to selector:offset (EA/9A ptr16:32).</summary>
    public void FarTransfer(bool call, ushort selector, uint offset)
    {
        var bytes = new byte[7];
        bytes[0] = call ? (byte)0x9A : (byte)0xEA;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(1), offset);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(5), selector);
        Asm.db(bytes);
    }

    // ---- Worlds ------------------------------------------------------------------------------

    /// <summary>
    /// A protected-mode world that works: flat ring 0 and ring 3 segments, a TSS with SS0:ESP0, 16-bit
    /// segments, an LDT, an IDT whose every gate leads to a stub of <paramref name="style"/> (or of random
    /// styles), loaded by code; <paramref name="randomDescriptors"/> random descriptors follow the fixed ones.
    /// Returns the number of GDT entries.
    /// </summary>
    public int FlatWorld(HandlerStyle? style, int randomDescriptors = 0)
    {
        int entries = FirstFreeGdtEntry + randomDescriptors;
        Area(Gdt, (entries * 8 + 0xFFF) & ~0xFFF);
        Area(Tss, TssBytes);
        Area(Scratch, ScratchBytes);
        PutBytes(Scratch + 16, RandomBytes(ScratchBytes - 16));

        Put64(Gdt + 1 * 8, Desc.FlatCode(0));
        Put64(Gdt + 2 * 8, Desc.FlatData(0));
        Put64(Gdt + 3 * 8, Desc.FlatCode(3));
        Put64(Gdt + 4 * 8, Desc.FlatData(3));
        Put64(Gdt + 5 * 8, Desc.Segment(Tss, 0x67 + (uint)Rng.Next(0x2000), 0x89, 0));
        Put64(Gdt + 6 * 8, Desc.Segment(0, 0xFFFF, 0x9A, 0));
        Put64(Gdt + 7 * 8, Desc.Segment(0, 0xFFFF, 0x92, 0));
        Put64(Gdt + 8 * 8, Desc.Segment(Ldt, (uint)Rng.Next(0x1000), 0x82, 0));
        for (int i = FirstFreeGdtEntry; i < entries; i++)
            Put64(Gdt + ((uint)i * 8), RandomDescriptor(entries));
        PutBytes(Ldt, RandomBytes(0x100));
        for (int i = 0; i < 32; i++)
            Put64(Ldt + 0x100 + ((uint)i * 8), RandomDescriptor(entries));

        // The TSS: SS0:ESP0 for interrupts from ring 3, an I/O bitmap of random bits.
        Put32(Tss + 4, StackTop - 0x100);
        Put32(Tss + 8, KernelData);
        PutBytes(Tss + 0x68, RandomBytes(0x2000));
        BinaryPrimitives.WriteUInt16LittleEndian(AreaSpan(Tss + 0x66, 2), (ushort)(Chance(0.7) ? 0x68 : Rng.Next(0x10000)));

        Note(style is null ? "handlers: mixed" : $"handlers: {style}");
        for (int v = 0; v < 256; v++)
        {
            HandlerStyle s = style ?? (HandlerStyle)Rng.Next(Enum.GetValues<HandlerStyle>().Length);
            uint stub = Stubs + ((uint)v * StubBytes);
            PutBytes(stub, StubCode(v, s, stub));
            Put64(Idt + ((uint)v * 8), Desc.Gate(KernelCode, stub, dpl: 3, trap: Chance(0.2)));
        }

        SetTableRegisters((ushort)((entries * 8) - 1), Gdt, 0x7FF, Idt);
        LoadTables(loadTr: true);
        return entries;
    }

    /// <summary>Puts GDTR and IDTR images in the scratch area.</summary>
    public void SetTableRegisters(ushort gdtLimit, uint gdtBase, ushort idtLimit, uint idtBase)
    {
        Area(Scratch, ScratchBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(AreaSpan(Scratch + GdtrImage, 2), gdtLimit);
        Put32(Scratch + GdtrImage + 2, gdtBase);
        BinaryPrimitives.WriteUInt16LittleEndian(AreaSpan(Scratch + IdtrImage, 2), idtLimit);
        Put32(Scratch + IdtrImage + 2, idtBase);
    }

    /// <summary>LGDT, data and stack segments reloaded with the flat selectors, LIDT, and LTR when asked.</summary>
    public void LoadTables(bool loadTr)
    {
        Asm.lgdt(__[(long)(Scratch + GdtrImage)]);
        Asm.mov(ax, KernelData);
        Asm.mov(ds, ax);
        Asm.mov(es, ax);
        Asm.mov(fs, ax);
        Asm.mov(gs, ax);
        Asm.mov(ss, ax);
        Asm.mov(esp, StackTop);
        Asm.lidt(__[(long)(Scratch + IdtrImage)]);
        if (loadTr)
        {
            Asm.mov(ax, TssSelector);
            Asm.ltr(ax);
        }
    }

    /// <summary>A descriptor of any kind: random bits, a plausible segment, a gate, a system segment.</summary>
    public ulong RandomDescriptor(int gdtEntries)
    {
        switch (Rng.Next(10))
        {
            case 0:
            case 1:
            case 2:
                return ((ulong)NextUInt() << 32) | NextUInt();
            case 3:
            case 4:
            case 5:
            case 6:
            {
                // Code or data: random base, limit, type, DPL, presence, granularity and size.
                byte access = (byte)(0x10 | Rng.Next(16) | (Rng.Next(4) << 5) | (Chance(0.85) ? 0x80 : 0));
                uint baseAddress = Chance(0.5) ? 0 : WildAddress() & ~0xFFFu;
                uint limit = Chance(0.5) ? 0xFFFFF : (uint)Rng.Next(0x100000);
                return Desc.Segment(baseAddress, limit, access, (byte)(Rng.Next(16) & 0xD));
            }

            case 7:
            case 8:
            {
                // Interrupt, trap, call or task gate to a random selector and offset.
                int type = Pick(0x4, 0x5, 0x6, 0x7, 0xC, 0xE, 0xF);
                uint offset = Chance(0.5) ? Stubs + (uint)Rng.Next(256 * StubBytes) : WildAddress();
                ulong d = offset & 0xFFFFu;
                d |= (ulong)RandomSelector(gdtEntries) << 16;
                d |= (ulong)(Rng.Next(4)) << 32; // a call gate's parameter count
                d |= (ulong)((Chance(0.85) ? 0x80 : 0) | (Rng.Next(4) << 5) | type) << 40;
                d |= (ulong)(offset >> 16) << 48;
                return d;
            }

            default:
            {
                // TSS (available or busy, 16- or 32-bit) or LDT with a random base and limit.
                byte type = Pick<byte>(0x1, 0x2, 0x3, 0x9, 0xB);
                return Desc.Segment(Chance(0.5) ? Tss : WildAddress(), (uint)Rng.Next(0x2000),
                    (byte)((Chance(0.85) ? 0x80 : 0) | (Rng.Next(4) << 5) | type), 0);
            }
        }
    }

    /// <summary>The code of vector <paramref name="vector"/>'s stub, at most <see cref="StubBytes"/> bytes.</summary>
    private byte[] StubCode(int vector, HandlerStyle style, uint address)
    {
        bool errorCode = vector is 8 or 10 or 11 or 12 or 13 or 14 or 17;
        var a = new Assembler(32);
        switch (style)
        {
            case HandlerStyle.Iret:
                if (errorCode)
                    a.add(esp, 4);
                a.iretd();
                break;
            case HandlerStyle.SkipAndIret:
                if (errorCode)
                    a.add(esp, 4);
                a.add(__dword_ptr[esp], Rng.Next(1, 9));
                a.iretd();
                break;
            case HandlerStyle.EoiAndIret:
                if (errorCode)
                    a.add(esp, 4);
                a.push(eax);
                a.mov(al, 0x20);
                a.@out(0xA0, al);
                a.@out(0x20, al);
                a.pop(eax);
                a.iretd();
                break;
            case HandlerStyle.Halt:
            {
                var top = a.CreateLabel();
                a.Label(ref top);
                a.hlt();
                a.jmp(top);
                break;
            }

            case HandlerStyle.Spin:
            {
                var top = a.CreateLabel();
                a.Label(ref top);
                a.jmp(top);
                break;
            }

            case HandlerStyle.Ud2:
                a.ud2();
                break;
            case HandlerStyle.DebugExit:
                a.mov(al, (byte)vector);
                a.@out(0xF4, al);
                a.hlt();
                break;
            case HandlerStyle.FaultAgain:
                a.mov(eax, __dword_ptr[(long)WildAddress()]);
                if (errorCode)
                    a.add(esp, 4);
                a.iretd();
                break;
            case HandlerStyle.Recurse:
                a.@int((byte)(vector + 1));
                a.iretd();
                break;
            default:
                return RandomBytes(StubBytes);
        }

        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        return stream.ToArray();
    }

    // ---- Paging --------------------------------------------------------------------------

    /// <summary>A page directory that maps the first 4 MiB one to one (a 4 MiB page with PSE, else a table); the rest empty.</summary>
    public void IdentityPageDirectory(bool pse, uint flags = 0x7)
    {
        Area(PageDirectory, 0x1000);
        if (pse)
        {
            Put32(PageDirectory, 0x80 | flags);
            return;
        }

        Put32(PageDirectory, PageTableBase | flags);
        for (uint i = 0; i < 1024; i++)
            Put32(PageTableBase + (i * 4), (i << 12) | flags);
    }

    /// <summary>Loads CR4 (PSE as asked, plus <paramref name="cr4Extra"/>), CR3 with <paramref name="directory"/>, then sets CR0.PG (and WP as asked).</summary>
    public void EnablePaging(uint directory, bool pse, bool wp, uint cr4Extra = 0)
    {
        Asm.mov(eax, (pse ? 0x10u : 0u) | cr4Extra);
        Asm.mov(cr4, eax);
        Asm.mov(eax, directory);
        Asm.mov(cr3, eax);
        Asm.mov(eax, cr0);
        Asm.or(eax, unchecked((int)(0x8000_0001u | (wp ? 0x10000u : 0u))));
        Asm.mov(cr0, eax);
    }

    private Span<byte> AreaSpan(uint address, int length)
    {
        foreach ((uint start, byte[] bytes) in _areas)
        {
            if (address >= start && address + length <= start + bytes.Length)
                return bytes.AsSpan((int)(address - start), length);
        }

        // Not inside an area yet: make one of whole pages around it.
        uint pageStart = address & ~0xFFFu;
        int size = (int)(((address + (uint)length + 0xFFF) & ~0xFFFu) - pageStart);
        foreach ((uint start, byte[] bytes) in _areas)
        {
            if (start < pageStart + size && start + bytes.Length > pageStart)
                throw new InvalidOperationException($"area at 0x{address:x} overlaps the one at 0x{start:x}");
        }

        return Area(pageStart, size).AsSpan((int)(address - pageStart), length);
    }
}
