using System.Text;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace MiniHv.Tests.Loader;

/// <summary>
/// The protected-mode payload of the test bzImages, assembled with Iced for its load address: it prints on COM1,
/// one "name=hex" line each, the registers the 32-bit boot protocol defines, the boot segments (reloaded from the
/// GDT, so the descriptors must be real), the zero page's fields and e820 map, then the command line and a checksum
/// of the initrd, and ends the run through port 0xf4 with <see cref="ExitValue"/>.
/// </summary>
internal static class ZeroPageReporter
{
    public const byte ExitValue = 0x10;

    /// <summary>minihv's exit status after the payload's write to port 0xf4: QEMU's (v &lt;&lt; 1) | 1.</summary>
    public const int ExitStatus = (ExitValue << 1) | 1;

    private const int StringsOffset = 0x1000;
    private const ushort Com1 = 0x3F8;
    private const uint Stack = 0x90000;
    private const uint GdtScratch = 0x80000;

    /// <summary>The initrd checksum the payload prints: for each byte, rotate left by 5 and add it.</summary>
    public static uint Checksum(ReadOnlySpan<byte> bytes)
    {
        uint sum = 0;
        foreach (byte b in bytes)
            sum = uint.RotateLeft(sum, 5) + b;
        return sum;
    }

    public static byte[] Build(uint loadAddress)
    {
        var strings = new List<byte>();
        uint Text(string s)
        {
            uint at = loadAddress + StringsOffset + (uint)strings.Count;
            strings.AddRange(Encoding.ASCII.GetBytes(s + "\0"));
            return at;
        }

        var a = new Assembler(32);
        Label puts = a.CreateLabel(), hex = a.CreateLabel(), putc = a.CreateLabel();

        // Entry state first, before anything changes it.
        a.mov(esp, Stack);                              // the protocol gives no stack
        a.pushfd();
        a.push(ebx);
        a.push(ebp);
        a.push(edi);
        a.push(esi);
        a.mov(ebp, esi);                                // the zero page from here on
        foreach (string name in new[] { "esi", "edi", "ebp", "ebx", "eflags" })
        {
            a.mov(ecx, Text(name + "="));
            a.call(puts);
            a.pop(eax);
            a.call(hex);
        }

        void Segment(string name, Action load)
        {
            a.mov(ecx, Text(name + "="));
            a.call(puts);
            load();
            a.movzx(eax, ax);
            a.call(hex);
        }

        Segment("cs", () => a.mov(ax, cs));
        Segment("ds", () => a.mov(ax, ds));
        Segment("es", () => a.mov(ax, es));
        Segment("ss", () => a.mov(ax, ss));

        // The GDT's boot descriptors, read through GDTR, and the data one loaded afresh (a bad descriptor faults).
        a.sgdt(__[GdtScratch]);
        a.mov(ebx, __dword_ptr[GdtScratch + 2]);
        foreach ((string name, int offset) in new[] { ("gdt_cs_lo", 0x10), ("gdt_cs_hi", 0x14), ("gdt_ds_lo", 0x18), ("gdt_ds_hi", 0x1C) })
        {
            a.mov(ecx, Text(name + "="));
            a.call(puts);
            a.mov(eax, __dword_ptr[ebx + offset]);
            a.call(hex);
        }

        a.mov(eax, 0x18);
        a.mov(ds, ax);
        a.mov(ss, ax);

        void Field(string name, int offset, int size)
        {
            a.mov(ecx, Text(name + "="));
            a.call(puts);
            switch (size)
            {
                case 1: a.movzx(eax, __byte_ptr[ebp + offset]); break;
                case 2: a.movzx(eax, __word_ptr[ebp + offset]); break;
                default: a.mov(eax, __dword_ptr[ebp + offset]); break;
            }
            a.call(hex);
        }

        Field("version", 0x206, 2);
        Field("type_of_loader", 0x210, 1);
        Field("loadflags", 0x211, 1);
        Field("code32_start", 0x214, 4);
        Field("ramdisk_image", 0x218, 4);
        Field("ramdisk_size", 0x21C, 4);
        Field("cmd_line_ptr", 0x228, 4);
        Field("cmdline_size", 0x238, 4);
        Field("init_size", 0x260, 4);
        Field("alt_mem_k", 0x1E0, 4);
        Field("e820_entries", 0x1E8, 1);

        // Every e820 entry: base and length (low dwords; all lie below 4 GiB) and type.
        Label entries = a.CreateLabel(), entriesDone = a.CreateLabel();
        a.movzx(edi, __byte_ptr[ebp + 0x1E8]);
        a.lea(esi, __[ebp + 0x2D0]);
        a.Label(ref entries);
        a.test(edi, edi);
        a.jz(entriesDone);
        foreach ((string name, int offset) in new[] { ("e820 base", 0), (" length", 8), (" type", 16) })
        {
            a.mov(ecx, Text(name + "="));
            a.call(puts);
            a.mov(eax, __dword_ptr[esi + offset]);
            a.call(hex);
        }
        a.add(esi, 20);
        a.dec(edi);
        a.jmp(entries);
        a.Label(ref entriesDone);

        a.mov(ecx, Text("cmdline="));
        a.call(puts);
        a.mov(ecx, __dword_ptr[ebp + 0x228]);
        a.call(puts);
        a.mov(al, (byte)'\n');
        a.call(putc);

        // The initrd's checksum over ramdisk_size bytes from ramdisk_image.
        Label sum = a.CreateLabel(), sumDone = a.CreateLabel();
        a.mov(esi, __dword_ptr[ebp + 0x218]);
        a.mov(edi, __dword_ptr[ebp + 0x21C]);
        a.xor(ebx, ebx);
        a.Label(ref sum);
        a.test(edi, edi);
        a.jz(sumDone);
        a.rol(ebx, 5);
        a.movzx(eax, __byte_ptr[esi]);
        a.add(ebx, eax);
        a.inc(esi);
        a.dec(edi);
        a.jmp(sum);
        a.Label(ref sumDone);
        a.mov(ecx, Text("initrd_sum="));
        a.call(puts);
        a.mov(eax, ebx);
        a.call(hex);

        a.mov(al, ExitValue);
        a.@out(0xF4, al);
        a.hlt();

        // putc: AL to COM1.
        a.Label(ref putc);
        a.push(edx);
        a.mov(dx, Com1);
        a.@out(dx, al);
        a.pop(edx);
        a.ret();

        // puts: the NUL-terminated string at ECX.
        Label putsLoop = a.CreateLabel(), putsDone = a.CreateLabel();
        a.Label(ref puts);
        a.push(eax);
        a.Label(ref putsLoop);
        a.mov(al, __byte_ptr[ecx]);
        a.test(al, al);
        a.jz(putsDone);
        a.call(putc);
        a.inc(ecx);
        a.jmp(putsLoop);
        a.Label(ref putsDone);
        a.pop(eax);
        a.ret();

        // hex: EAX as eight hex digits and a newline.
        Label digit = a.CreateLabel(), letter = a.CreateLabel(), emit = a.CreateLabel();
        a.Label(ref hex);
        a.push(ecx);
        a.push(edx);
        a.mov(edx, eax);
        a.mov(ecx, 8);
        a.Label(ref digit);
        a.rol(edx, 4);
        a.mov(eax, edx);
        a.and(eax, 0xF);
        a.cmp(eax, 10);
        a.jae(letter);
        a.add(eax, '0');
        a.jmp(emit);
        a.Label(ref letter);
        a.add(eax, 'a' - 10);
        a.Label(ref emit);
        a.call(putc);
        a.dec(ecx);
        a.jnz(digit);
        a.mov(al, (byte)'\n');
        a.call(putc);
        a.pop(edx);
        a.pop(ecx);
        a.ret();

        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), loadAddress);
        if (stream.Length > StringsOffset)
            throw new InvalidOperationException("the payload's code grew into its strings");
        var payload = new byte[StringsOffset + strings.Count];
        stream.ToArray().CopyTo(payload, 0);
        strings.CopyTo(payload, StringsOffset);
        return payload;
    }
}
