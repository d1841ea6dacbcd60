using Iced.Intel;
using MiniHv.Tests.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static MiniHv.Tests.Robustness.BadGuestBuilder;

namespace MiniHv.Tests.Robustness;

/// <summary>What a bad guest does wrong.</summary>
internal enum BadGuestKind
{
    /// <summary>Random bytes as code at 1 MiB, nothing else.</summary>
    RandomBytes,

    /// <summary>A random GDT and IDT (random descriptors, limits and bases) loaded, random selectors, then random code.</summary>
    RandomTables,

    /// <summary>Paging on over random page directory and table entries, PSE on or off, CR3 random or at random bytes.</summary>
    RandomPaging,

    /// <summary>ESP (or SS, or the TSS's ESP0) at unmapped or non-RAM memory, then an interrupt, call or push.</summary>
    BadStack,

    /// <summary>An IDT whose handlers fault again, re-execute the faulting instruction, spin or recurse.</summary>
    FaultLoop,

    /// <summary>Random far jumps and calls, segment loads, RETFs and IRETs with random stack contents.</summary>
    FarTransfers,

    /// <summary>String instructions with huge counts over holes and across the 4 GiB wrap.</summary>
    HugeStrings,

    /// <summary>Port I/O to random ports and to every device with random data, interrupts on.</summary>
    PortIo,

    /// <summary>Code that rewrites itself, its tables and the block it is running, then runs the result.</summary>
    SelfModifying,

    /// <summary>
    /// Random interprocessor interrupts through the local APIC's ICR (INIT and STARTUP to random pages of random
    /// bytes, NMIs, fixed and lowest-priority IPIs to random destinations and shorthands), random I/O APIC entries,
    /// then random code: on a multiprocessor guest, the application processors start running garbage.
    /// </summary>
    RandomIpis,
}

/// <summary>One generated guest: its multiboot image, RAM size, and the recipe it was built from.</summary>
internal sealed record BadGuest(int Seed, BadGuestKind Kind, long MemoryBytes, byte[] Image, string Recipe)
{
    public override string ToString() => $"seed {Seed} ({Kind}, {MemoryBytes >> 20} MiB): {Recipe}";
}

/// <summary>
/// Builds misbehaving multiboot guests, each fully determined by its seed: the kind is the seed modulo the
/// number of kinds (so any run of consecutive seeds covers them evenly), and every other choice comes from a
/// <see cref="System.Random"/> seeded with it. Most kinds first set up just enough of a working machine (flat
/// segments, an IDT with handler stubs, identity paging) for the bad part to be reached, then do it, then run
/// random code.
/// </summary>
internal static class BadGuestGenerator
{
    public static readonly int KindCount = Enum.GetValues<BadGuestKind>().Length;

    /// <summary>Where far transfers land: a page of random code.</summary>
    public const uint Landing = 0x144000;

    /// <summary>The random code a self-modifying guest rewrites and then runs.</summary>
    public const uint RewrittenCode = 0x104000;

    private static readonly int[] RamMiB = [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64];

    private static readonly AssemblerRegisterSegment[] DataSegments = [ds, es, fs, gs, ss];

    public static BadGuest Create(int seed)
    {
        var rng = new Random(seed);
        var kind = (BadGuestKind)((uint)seed % (uint)KindCount);
        long ram = (long)RamMiB[rng.Next(RamMiB.Length)] << 20;
        var g = new BadGuestBuilder(rng, ram);
        switch (kind)
        {
            case BadGuestKind.RandomBytes: RandomBytes(g); break;
            case BadGuestKind.RandomTables: RandomTables(g); break;
            case BadGuestKind.RandomPaging: RandomPaging(g); break;
            case BadGuestKind.BadStack: BadStack(g); break;
            case BadGuestKind.FaultLoop: FaultLoop(g); break;
            case BadGuestKind.FarTransfers: FarTransfers(g); break;
            case BadGuestKind.HugeStrings: HugeStrings(g); break;
            case BadGuestKind.PortIo: PortIo(g); break;
            case BadGuestKind.RandomIpis: RandomIpis(g); break;
            default: SelfModifying(g); break;
        }

        return new BadGuest(seed, kind, ram, g.Build(), g.Recipe);
    }

    // (a) ---------------------------------------------------------------------------------

    private static void RandomBytes(BadGuestBuilder g)
    {
        int length = g.Rng.Next(1, 0x7000);
        g.Note($"{length} random bytes");
        g.Asm.db(g.RandomBytes(length));
    }

    // (b) ---------------------------------------------------------------------------------

    private static void RandomTables(BadGuestBuilder g)
    {
        int entries = g.Rng.Next(1, 2048);
        bool keepFlat = g.Chance(0.6);
        g.Area(Gdt, ((entries * 8) + 0xFFF) & ~0xFFF);
        for (int i = 0; i < entries; i++)
            g.Put64(Gdt + ((uint)i * 8), g.RandomDescriptor(entries));
        if (keepFlat && entries > 2)
        {
            g.Put64(Gdt + 8, Desc.FlatCode(0));
            g.Put64(Gdt + 16, Desc.FlatData(0));
        }

        g.Area(Idt, 0x800);
        for (int v = 0; v < 256; v++)
            g.Put64(Idt + ((uint)v * 8), g.RandomDescriptor(entries));
        g.Area(Stubs, 256 * StubBytes);
        g.PutBytes(Stubs, g.RandomCode(256 * StubBytes));

        ushort gdtLimit = (ushort)(g.Chance(0.6) ? (entries * 8) - 1 : g.Rng.Next(0x10000));
        uint gdtBase = g.Chance(0.85) ? Gdt : g.WildAddress();
        ushort idtLimit = (ushort)(g.Chance(0.6) ? 0x7FF : g.Rng.Next(0x10000));
        uint idtBase = g.Chance(0.85) ? Idt : g.WildAddress();
        g.Note($"gdt {entries} entries at {gdtBase:x} limit {gdtLimit:x}, flat kept {keepFlat}; idt at {idtBase:x} limit {idtLimit:x}");
        g.SetTableRegisters(gdtLimit, gdtBase, idtLimit, idtBase);
        g.Asm.lgdt(__[(long)Scratch]);
        g.Asm.lidt(__[(long)(Scratch + 8)]);

        int loads = g.Rng.Next(5);
        for (int i = 0; i < loads; i++)
        {
            g.Asm.mov(ax, g.RandomSelector(entries));
            g.Asm.mov(g.Pick(DataSegments), ax);
        }

        if (g.Chance(0.3))
        {
            g.Asm.mov(ax, g.RandomSelector(entries));
            g.Asm.ltr(ax);
        }

        if (g.Chance(0.3))
        {
            g.Asm.mov(ax, g.RandomSelector(entries));
            g.Asm.lldt(ax);
        }

        switch (g.Rng.Next(4))
        {
            case 0: g.Asm.@int((byte)g.Rng.Next(256)); break;
            case 1: g.Asm.ud2(); break;
            case 2: g.Asm.sti(); break;
        }

        g.RandomPayload();
    }

    // (c) ---------------------------------------------------------------------------------

    private static void RandomPaging(BadGuestBuilder g)
    {
        if (g.Chance(0.7))
            g.FlatWorld(null);
        bool pse = g.Chance(0.5);
        g.Area(PageDirectory, 0x1000);
        g.Area(PageTableBase, PageTableCount * 0x1000);
        for (uint i = 0; i < 1024; i++)
            g.Put32(PageDirectory + (i * 4), RandomPde(g));
        for (uint t = 0; t < PageTableCount; t++)
        {
            for (uint i = 0; i < 1024; i++)
                g.Put32(PageTableBase + (t * 0x1000) + (i * 4), RandomPte(g, (t * 1024) + i));
        }

        if (g.Chance(0.75))
        {
            // Keep the code and tables mapped, so that what follows runs with paging on.
            bool large = pse && g.Chance(0.5);
            uint flags = 0x1 | (g.Chance(0.9) ? 0x2u : 0) | (g.Chance(0.3) ? 0x4u : 0) | (g.Chance(0.3) ? 0x60u : 0);
            g.Put32(PageDirectory, large ? 0x80 | flags : PageTableBase | flags);
            if (!large)
            {
                for (uint i = 0; i < 1024; i++)
                    g.Put32(PageTableBase + (i * 4), (i << 12) | flags | (g.Chance(0.05) ? 0x100u : 0));
            }

            g.Note($"low 4 MiB mapped ({(large ? "4 MiB page" : "table")}, flags {flags:x})");
        }

        if (g.Chance(0.5))
            g.Put32(PageDirectory + ((uint)g.Rng.Next(1024) * 4), PageDirectory | 0x7); // the directory as a table (UVPT)

        uint cr3 = g.Rng.Next(6) switch
        {
            0 => g.NextUInt(),
            1 => Scratch,
            2 => Gdt,
            3 => g.WildAddress() & ~0xFFFu,
            _ => PageDirectory | (uint)(g.Rng.Next(4) << 3),
        };
        bool wp = g.Chance(0.5);
        uint cr4Extra = g.Chance(0.2) ? (uint)g.Rng.Next(0x400) & ~0x20u : 0;
        if (g.Chance(0.05))
            cr4Extra |= 0x20; // PAE: reserved here, #GP
        g.Note($"pse {pse} wp {wp} cr3 {cr3:x} cr4 extra {cr4Extra:x}");
        g.EnablePaging(cr3, pse, wp, cr4Extra);

        if (g.Chance(0.5))
        {
            MemoryStress(g, g.Rng.Next(8, 64));
            g.Asm.hlt();
        }

        g.RandomPayload();
    }

    private static uint RandomPde(BadGuestBuilder g)
    {
        uint flags = (uint)g.Rng.Next(0x1000);
        return g.Rng.Next(10) switch
        {
            0 or 1 or 2 => g.NextUInt(),
            3 or 4 => 0,
            5 or 6 or 7 => (PageTableBase + ((uint)g.Rng.Next(PageTableCount) * 0x1000)) | (flags & ~0x80u) | 1,
            _ => (g.WildAddress() & 0xFFC00000) | flags | 0x81,
        };
    }

    private static uint RandomPte(BadGuestBuilder g, uint index)
    {
        uint flags = (uint)g.Rng.Next(0x1000);
        return g.Rng.Next(10) switch
        {
            0 or 1 or 2 => g.NextUInt(),
            3 => 0,
            4 or 5 or 6 or 7 => (index << 12) | flags | 1,
            _ => (g.WildAddress() & ~0xFFFu) | flags | 1,
        };
    }

    /// <summary>Loads, stores, stack operations, INVLPG and CR3 loads at wild addresses.</summary>
    private static void MemoryStress(BadGuestBuilder g, int operations)
    {
        g.Note($"{operations} wild memory operations");
        for (int i = 0; i < operations; i++)
        {
            uint address = g.WildAddress();
            switch (g.Rng.Next(9))
            {
                case 0: g.Asm.mov(eax, __dword_ptr[(long)address]); break;
                case 1: g.StoreDword(address, g.NextUInt()); break;
                case 2:
                    g.Asm.mov(esp, address);
                    g.Asm.push(eax);
                    g.Asm.pop(ebx);
                    break;
                case 3: g.Asm.invlpg(__[(long)address]); break;
                case 4:
                    g.Asm.mov(eax, g.Chance(0.5) ? PageDirectory : address & ~0xFFFu);
                    g.Asm.mov(cr3, eax);
                    break;
                case 5:
                    // Rewrite a live page-table entry, then touch what it maps.
                    g.StoreDword(PageDirectory + ((uint)g.Rng.Next(1024) * 4), RandomPde(g));
                    g.Asm.mov(eax, __dword_ptr[(long)address]);
                    break;
                case 6: g.Asm.add(__byte_ptr[(long)address], 1); break;
                case 7:
                    g.Asm.mov(esi, address);
                    g.Asm.mov(edi, g.WildAddress());
                    g.Asm.mov(ecx, g.Rng.Next(1, 0x3000));
                    g.Asm.rep.movsb();
                    break;
                default: g.Asm.mov(ax, __word_ptr[(long)(address | 0xFFF)]); break; // crosses a page
            }
        }
    }

    // (d) ---------------------------------------------------------------------------------

    private static void BadStack(BadGuestBuilder g)
    {
        int entries = g.FlatWorld(g.Chance(0.5) ? null : g.Pick(HandlerStyle.Iret, HandlerStyle.SkipAndIret, HandlerStyle.Halt),
            randomDescriptors: 8);
        var a = g.Asm;

        // Stack segments that go wrong: expand-down with a random limit, a tiny limit, 16-bit with a wild base, not present.
        g.Put64(Gdt + (9 * 8), Desc.Segment(0, (uint)g.Rng.Next(0x100000), 0x96, (byte)(g.Chance(0.5) ? 0xC : 0x4)));
        g.Put64(Gdt + (10 * 8), Desc.Segment(0, (uint)g.Rng.Next(0x100), 0x92, 0x4));
        g.Put64(Gdt + (11 * 8), Desc.Segment(g.WildAddress(), 0xFFFF, 0x92, 0));
        g.Put64(Gdt + (12 * 8), Desc.Segment(0, 0xFFFFF, 0x12, 0xC));

        bool paging = g.Chance(0.5);
        if (paging)
        {
            bool pse = g.Chance(0.5);
            g.IdentityPageDirectory(pse);
            g.EnablePaging(PageDirectory, pse, wp: g.Chance(0.5));
        }

        uint badEsp = g.Rng.Next(7) switch
        {
            0 => (uint)g.RamBytes + (uint)g.Rng.Next(0x10000),
            1 => 0,
            2 => (uint)g.Rng.Next(1, 8),
            3 => 0xFFFF_FFFF - (uint)g.Rng.Next(8),
            4 => 0x8000_0000 + (uint)g.Rng.Next(0x1000),
            5 => (uint)g.RamBytes - (uint)g.Rng.Next(16),
            _ => g.NextUInt(),
        };
        g.Note($"paging {paging}, esp {badEsp:x}");

        if (g.Chance(0.3))
        {
            // The ring 0 stack the next interrupt from ring 3 switches to is the bad one.
            g.Put32(Tss + 4, badEsp);
            if (g.Chance(0.3))
                g.Put32(Tss + 8, g.RandomSelector(entries));
            g.Note("bad esp0, then ring 3");
            a.push(UserData);
            a.push(StackTop - 0x1000);
            a.push(g.Chance(0.5) ? 0x202 : 0x2);
            a.push(UserCode);
            a.db(0xE8, 0, 0, 0, 0);     // call the next instruction: its address on the stack
            a.db(0x58);                 // pop eax
            a.db(0x83, 0xC0, 6);        // add eax, 6: the address after the IRETD below
            a.db(0x50);                 // push eax
            a.iretd();
        }
        else if (g.Chance(0.3))
        {
            ushort ssSelector = (ushort)g.Pick(9 * 8, 10 * 8, 11 * 8, 12 * 8);
            g.Note($"ss {ssSelector:x}");
            a.mov(ax, ssSelector);
            a.mov(ss, ax);
            a.mov(esp, badEsp);
        }
        else
        {
            a.mov(esp, badEsp);
        }

        int triggers = g.Rng.Next(1, 5);
        for (int i = 0; i < triggers; i++)
        {
            switch (g.Rng.Next(10))
            {
                case 0: a.@int((byte)g.Rng.Next(256)); break;
                case 1: a.int3(); break;
                case 2:
                {
                    var next = a.CreateLabel();
                    a.call(next);
                    a.Label(ref next);
                    break;
                }

                case 3: a.push(eax); break;
                case 4: a.pushad(); break;
                case 5: a.enter((ushort)g.Rng.Next(0x10000), (byte)g.Rng.Next(32)); break;
                case 6: a.ud2(); break;
                case 7:
                    a.xor(ecx, ecx);
                    a.div(ecx);
                    break;
                case 8:
                    StartTimer(g, count: (ushort)g.Rng.Next(1, 0x100));
                    a.sti();
                    a.hlt();
                    break;
                default: a.iretd(); break;
            }
        }

        g.RandomPayload();
    }

    /// <summary>Programs both PICs (vectors 0x20 and 0x28, all unmasked) and PIT channel 0 as a rate generator.</summary>
    private static void StartTimer(BadGuestBuilder g, ushort count)
    {
        var a = g.Asm;
        foreach ((byte port, byte value) in new (byte, byte)[]
                 {
                     (0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, 0x01), (0x21, 0x00),
                     (0xA0, 0x11), (0xA1, 0x28), (0xA1, 0x02), (0xA1, 0x01), (0xA1, 0x00),
                     (0x43, 0x34), (0x40, (byte)count), (0x40, (byte)(count >> 8)),
                 })
        {
            a.mov(al, value);
            a.@out(port, al);
        }
    }

    // (e) ---------------------------------------------------------------------------------

    private static void FaultLoop(BadGuestBuilder g)
    {
        var a = g.Asm;
        int pattern = g.Rng.Next(9);
        switch (pattern)
        {
            case 0:
            {
                // The #PF handler's own code is not mapped: each fetch of it page-faults again.
                g.FlatWorld(HandlerStyle.Iret);
                g.Put64(Idt + (14 * 8), Desc.Gate(KernelCode, 0x0080_0000 + (uint)g.Rng.Next(0x1000)));
                IdentityPaging(g);
                g.Note("#PF handler unmapped");
                a.mov(eax, __dword_ptr[0x0090_0000]);
                break;
            }

            case 1:
                // Every handler reads a wild address and returns: with paging on, faults inside the handler.
                g.FlatWorld(HandlerStyle.FaultAgain);
                IdentityPaging(g);
                g.Note("handlers fault again");
                a.mov(eax, __dword_ptr[0x0090_0000]);
                break;
            case 2:
                // #GP returns to the faulting instruction, which faults again.
                g.FlatWorld(HandlerStyle.Iret);
                g.Note("#GP re-executes");
                a.mov(ax, 0x7FF8);
                a.mov(ds, ax);
                break;
            case 3:
                // #UD's handler is UD2: nothing ever retires, and every delivery pushes another frame.
                g.FlatWorld(HandlerStyle.Ud2);
                if (g.Chance(0.5))
                    IdentityPaging(g);
                g.Note("#UD handler is UD2");
                a.ud2();
                break;
            case 4:
                g.FlatWorld(HandlerStyle.Spin);
                g.Note("handlers spin");
                a.ud2();
                break;
            case 5:
            {
                // Every handler lies in a hole above RAM: fetching it raises #UD, whose handler lies there too.
                g.FlatWorld(HandlerStyle.Iret);
                uint hole = (uint)g.RamBytes + (uint)g.Rng.Next(0x100000);
                for (int v = 0; v < 256; v++)
                    g.Put64(Idt + ((uint)v * 8), Desc.Gate(KernelCode, hole + ((uint)v * 16)));
                g.Note($"handlers in a hole at {hole:x}");
                a.int3();
                break;
            }

            case 6:
                // #GP's gate is not present (#NP while delivering #GP: double fault); #DF returns and it starts over.
                g.FlatWorld(HandlerStyle.Iret);
                g.Put64(Idt + (13 * 8), Desc.Gate(KernelCode, Stubs + (13 * StubBytes), present: false));
                g.Note("#GP not present, #DF returns");
                a.mov(ax, 0x7FF8);
                a.mov(ds, ax);
                break;
            case 7:
                g.FlatWorld(HandlerStyle.Recurse);
                g.Note("handlers recurse");
                a.@int((byte)g.Rng.Next(256));
                break;
            default:
                // Handlers at a random vector's stub of a random style, with the stack somewhere wild.
                g.FlatWorld(null);
                uint wildEsp = g.WildAddress();
                g.Note($"mixed handlers, esp {wildEsp:x}");
                a.mov(esp, wildEsp);
                a.db(g.RandomCode(64));
                break;
        }

        if (g.Chance(0.3))
        {
            a.sti();
            StartTimer(g, (ushort)g.Rng.Next(1, 0x1000));
        }

        g.RandomPayload();
    }

    private static void IdentityPaging(BadGuestBuilder g)
    {
        bool pse = g.Chance(0.5);
        g.IdentityPageDirectory(pse, flags: 0x3);
        g.EnablePaging(PageDirectory, pse, wp: g.Chance(0.5));
    }

    // (f) ---------------------------------------------------------------------------------

    private static void FarTransfers(BadGuestBuilder g)
    {
        int entries = g.FlatWorld(g.Chance(0.5) ? null : HandlerStyle.SkipAndIret, randomDescriptors: g.Rng.Next(8, 64));
        var a = g.Asm;
        g.Area(Landing, 0x1000);
        g.PutBytes(Landing, g.RandomCode(0x1000));
        if (g.Chance(0.5))
        {
            a.mov(ax, LdtSelector);
            a.lldt(ax);
        }

        int steps = g.Rng.Next(4, 32);
        g.Note($"{steps} far transfers and segment loads");
        for (int i = 0; i < steps; i++)
        {
            ushort selector = g.Chance(0.3) ? g.Pick(KernelCode, UserCode, Code16, TssSelector) : g.RandomSelector(entries);
            uint offset = g.Chance(0.6) ? Landing + (uint)g.Rng.Next(0x1000) : g.WildAddress();
            switch (g.Rng.Next(10))
            {
                case 0: g.FarTransfer(call: false, selector, offset); break;
                case 1: g.FarTransfer(call: true, selector, offset); break;
                case 2:
                case 3:
                {
                    // Random stack contents, then a far return or an interrupt return through them.
                    int words = g.Rng.Next(2, 7);
                    for (int w = 0; w < words; w++)
                    {
                        uint value = g.Rng.Next(4) switch
                        {
                            0 => g.RandomSelector(entries),
                            1 => Landing + (uint)g.Rng.Next(0x1000),
                            2 => (uint)g.Rng.Next(0x400000) | 0x2,
                            _ => g.NextUInt(),
                        };
                        a.push(value);
                    }

                    switch (g.Rng.Next(4))
                    {
                        case 0: a.retf(); break;
                        case 1: a.retf((ushort)g.Rng.Next(64)); break;
                        case 2: a.iretd(); break;
                        default: a.db(0x66, 0xCF); break; // 16-bit IRET
                    }

                    break;
                }

                case 4:
                    a.mov(ax, selector);
                    a.mov(g.Pick(DataSegments), ax);
                    break;
                case 5:
                {
                    // LDS/LES/LFS/LGS/LSS from a far pointer in the scratch area.
                    uint pointer = Scratch + 16 + ((uint)g.Rng.Next(0x3F0) * 8);
                    g.Put32(pointer, offset);
                    g.Put32(pointer + 4, g.RandomSelector(entries));
                    byte[] opcode = g.Pick<byte[]>([0xC5], [0xC4], [0x0F, 0xB4], [0x0F, 0xB5], [0x0F, 0xB2]);
                    g.EmitDisp32(opcode, g.Rng.Next(8), pointer);
                    break;
                }

                case 6:
                    a.mov(ax, selector);
                    switch (g.Rng.Next(5))
                    {
                        case 0: a.ltr(ax); break;
                        case 1: a.lldt(ax); break;
                        case 2: a.lar(ebx, eax); break;
                        case 3: a.lsl(ebx, eax); break;
                        default: a.arpl(bx, ax); break;
                    }

                    break;
                case 7:
                {
                    uint pointer = Scratch + 16 + ((uint)g.Rng.Next(0x3F0) * 8);
                    g.Put32(pointer, offset);
                    g.Put32(pointer + 4, selector);
                    g.EmitDisp32([0xFF], g.Chance(0.5) ? 3 : 5, pointer); // call far / jmp far [m16:32]
                    break;
                }

                case 8:
                    a.push(g.NextUInt() & 0x003F7FD7 | 0x2); // NT, IOPL, AC, VM, ID... whatever the guest likes
                    a.popfd();
                    break;
                default: a.@int((byte)g.Rng.Next(256)); break;
            }
        }

        g.RandomPayload();
    }

    // (g) ---------------------------------------------------------------------------------

    private static void HugeStrings(BadGuestBuilder g)
    {
        g.FlatWorld(g.Chance(0.5) ? null : HandlerStyle.SkipAndIret, randomDescriptors: 4);
        var a = g.Asm;
        if (g.Chance(0.3))
            IdentityPaging(g);

        int ops = g.Rng.Next(1, 7);
        g.Note($"{ops} string instructions");
        for (int i = 0; i < ops; i++)
        {
            uint count = g.Rng.Next(5) switch
            {
                0 => 0xFFFF_FFFF,
                1 => 0x8000_0000,
                2 => 0x4000_0000 + (uint)g.Rng.Next(0x1000),
                3 => (uint)g.Rng.Next(0x10000),
                _ => g.NextUInt(),
            };
            a.mov(ecx, count);
            a.mov(esi, g.WildAddress());
            a.mov(edi, g.WildAddress());
            a.mov(eax, g.Chance(0.5) ? 0xFFFF_FFFF : g.NextUInt());
            a.mov(edx, g.Chance(0.5) ? (uint)g.Rng.Next(0x10000) : g.Pick<uint>(0x3F8, 0x80, 0x3DA, 0x71, 0x40));
            if (g.Chance(0.5))
                a.std();
            else
                a.cld();

            var bytes = new List<byte>();
            if (g.Chance(0.2))
                bytes.Add(g.Pick<byte>(0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65)); // segment override
            if (g.Chance(0.2))
                bytes.Add(0x67); // 16-bit addressing: CX, SI, DI
            if (g.Chance(0.2))
                bytes.Add(0x66); // 16-bit operands
            bytes.Add(g.Chance(0.8) ? (byte)0xF3 : (byte)0xF2);
            bytes.Add(g.Pick<byte>(0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF, 0x6C, 0x6D, 0x6E, 0x6F));
            g.Note($"{Convert.ToHexString(bytes.ToArray())} ecx {count:x}");
            a.db(bytes.ToArray());
        }

        a.hlt();
        g.RandomPayload();
    }

    // (h) ---------------------------------------------------------------------------------

    private static readonly ushort[] DevicePorts =
    [
        0x20, 0x21, 0xA0, 0xA1, 0x40, 0x41, 0x42, 0x43, 0x61, 0x70, 0x71,
        0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF,
        0x3D4, 0x3D5, 0x3D8, 0x3D9, 0x3DA, 0xF4, 0xF5, 0xF6, 0xF7,
        0x1F, 0x3F7, 0xF3, 0xFFFF, 0xFFFE, 0xFFFD,
    ];

    private static void PortIo(BadGuestBuilder g)
    {
        g.FlatWorld(g.Chance(0.5) ? HandlerStyle.EoiAndIret : null);
        var a = g.Asm;
        if (g.Chance(0.5))
            StartTimer(g, (ushort)g.Rng.Next(0x10000));

        int ops = g.Rng.Next(16, 400);
        g.Note($"{ops} port accesses");
        for (int i = 0; i < ops; i++)
        {
            ushort port = g.Chance(0.8) ? g.Pick(DevicePorts) : (ushort)g.Rng.Next(0x10000);
            if (port == 0xF4 && g.Chance(0.9))
                port = 0x3F8; // the debug exit ends the guest: only now and then
            int size = g.Pick(1, 1, 1, 2, 4);
            uint value = g.Chance(0.3) ? (uint)g.Rng.Next(4) : g.NextUInt();
            a.mov(edx, port);
            a.mov(eax, value);
            switch (g.Rng.Next(12))
            {
                case 0:
                    a.sti();
                    break;
                case 1:
                    a.cli();
                    break;
                case 2:
                    a.sti();
                    a.hlt();
                    break;
                case 3:
                    // A short REP INS or OUTS through the scratch area.
                    a.mov(ecx, g.Rng.Next(1, 64));
                    a.mov(esi, Scratch + 16);
                    a.mov(edi, Scratch + 0x2000);
                    a.db(0xF3, g.Pick<byte>(0x6C, 0x6D, 0x6E, 0x6F));
                    break;
                case 4:
                case 5:
                case 6:
                    if (size == 1)
                        a.@in(al, dx);
                    else if (size == 2)
                        a.@in(ax, dx);
                    else
                        a.@in(eax, dx);
                    break;
                default:
                    if (size == 1)
                        a.@out(dx, al);
                    else if (size == 2)
                        a.@out(dx, ax);
                    else
                        a.@out(dx, eax);
                    break;
            }
        }

        if (g.Chance(0.5))
        {
            a.sti();
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.hlt();
            a.jmp(spin);
        }

        g.RandomPayload();
    }

    // (j) ---------------------------------------------------------------------------------

    private const uint IcrLow = 0xFEE0_0300, IcrHigh = 0xFEE0_0310, IoApicSelect = 0xFEC0_0000, IoApicWindow = 0xFEC0_0010;

    private static void RandomIpis(BadGuestBuilder g)
    {
        g.FlatWorld(g.Chance(0.5) ? HandlerStyle.EoiAndIret : null);
        var a = g.Asm;

        // Random bytes where STARTUP vectors point (pages 1-0x9F below the EBDA), so a started AP runs garbage.
        int pages = g.Rng.Next(1, 4);
        for (int p = 0; p < pages; p++)
        {
            uint page = (uint)g.Rng.Next(1, 0x9F) << 12;
            for (int i = 0; i < 64; i++)
                a.mov(__dword_ptr[page + (uint)(4 * i)], g.NextUInt());
        }

        int ipis = g.Rng.Next(4, 64);
        g.Note($"{pages} pages of garbage below 640 KiB, {ipis} IPIs and I/O APIC writes");
        for (int i = 0; i < ipis; i++)
        {
            if (g.Chance(0.2))
            {
                a.mov(__dword_ptr[IoApicSelect], (uint)g.Rng.Next(0x10, 0x40));
                a.mov(__dword_ptr[IoApicWindow], g.NextUInt());
                continue;
            }

            uint mode = g.Pick(0u, 1u, 4u, 5u, 6u, 6u, 7u, 2u); // fixed, lowest, NMI, INIT, STARTUP (twice as often), ExtINT, SMI
            uint low = (mode << 8) | (uint)g.Rng.Next(0x100) | (g.Chance(0.3) ? 1u << 11 : 0) | (g.Chance(0.5) ? 1u << 14 : 0)
                | (g.Chance(0.3) ? 1u << 15 : 0) | ((uint)g.Rng.Next(4) << 18);
            a.mov(__dword_ptr[IcrHigh], (uint)g.Pick(0, 1, 2, 3, 0xFF, g.Rng.Next(0x100)) << 24);
            a.mov(__dword_ptr[IcrLow], low);
            if (g.Chance(0.2))
                a.sti();
        }

        g.RandomPayload();
    }

    // (i) ---------------------------------------------------------------------------------

    private static void SelfModifying(BadGuestBuilder g)
    {
        g.FlatWorld(g.Chance(0.5) ? null : HandlerStyle.SkipAndIret);
        var a = g.Asm;
        if (g.Chance(0.4))
            IdentityPaging(g);

        int length = g.Rng.Next(0x100, 0x2000);
        g.Area(RewrittenCode, 0x2000);
        g.PutBytes(RewrittenCode, g.RandomCode(length));
        int steps = g.Rng.Next(2, 16);
        g.Note($"{steps} code rewrites");
        for (int i = 0; i < steps; i++)
        {
            switch (g.Rng.Next(7))
            {
                case 0:
                    // A dword anywhere in the code, ahead or behind.
                    g.StoreDword(CodeBase + (uint)g.Rng.Next(0x2000), g.NextUInt());
                    break;
                case 1:
                    // Bytes of the payload before it runs.
                    g.StoreDword(RewrittenCode + (uint)g.Rng.Next(0x100), g.NextUInt());
                    break;
                case 2:
                {
                    // The next instruction of this very block: its opcode becomes a random byte.
                    a.db(0xE8, 0, 0, 0, 0);                     // call the next instruction: its address on the stack
                    a.db(0x5F);                                 // pop edi
                    a.db(0xC6, 0x47, 5, (byte)g.Rng.Next(256)); // mov byte [edi + 5], imm8: the opcode after this
                    a.mov(eax, 0x1234_5678);
                    break;
                }

                case 3:
                {
                    // A loop that scatters pseudo-random dwords over the payload's first page.
                    var top = a.CreateLabel();
                    a.mov(ebx, g.NextUInt());
                    a.mov(ecx, g.Rng.Next(1, 200));
                    a.mov(edi, RewrittenCode);
                    a.Label(ref top);
                    a.imul(ebx, ebx, 1103515245);
                    a.add(ebx, 12345);
                    a.mov(edx, ebx);
                    a.and(edx, 0xFFC);
                    a.mov(__dword_ptr[edi + edx], ebx);
                    a.loop(top);
                    break;
                }

                case 4:
                    // The tables in use.
                    g.StoreDword(g.Pick(Idt, Gdt) + (uint)(g.Rng.Next(0x100) * 4), g.NextUInt());
                    a.@int((byte)g.Rng.Next(256));
                    break;
                case 5:
                    // A bulk copy of random bytes over the payload, then into it.
                    a.mov(esi, Scratch + 16 + (uint)g.Rng.Next(0x1000));
                    a.mov(edi, RewrittenCode);
                    a.mov(ecx, g.Rng.Next(1, 0x800));
                    a.rep.movsb();
                    break;
                default:
                    // Copy the payload elsewhere in the code area and run the copy.
                    a.mov(esi, RewrittenCode);
                    a.mov(edi, CodeBase + 0x6000);
                    a.mov(ecx, 0x400);
                    a.rep.movsd();
                    a.mov(eax, CodeBase + 0x6000 + (uint)g.Rng.Next(0x100));
                    a.jmp(eax);
                    break;
            }
        }

        a.mov(eax, RewrittenCode);
        a.jmp(eax);
    }
}
