using System.Text;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Memory;
using static MiniHv.Tests.Loader.MultibootElfBuilder;

namespace MiniHv.Tests.Loader;

public class MultibootLoaderTests
{
    private const long MiB = 1 << 20;

    private MachineMemory _pool = null!;

    [SetUp]
    public void SetUp() => _pool = MachineMemory.WithCapBytes(256 * MiB);

    [TearDown]
    public void TearDown() => _pool.Dispose();

    private GuestPhysicalMemory Guest(long ram = 64 * MiB) => new(_pool, ram);

    [Test]
    public void Segments_LandAtTheirPhysicalAddresses_WithBssZeroed()
    {
        MultibootElfBuilder builder = Typical();
        using GuestPhysicalMemory memory = Guest();
        memory.Fill(0x100000, 0x10000, 0xAA);   // dirty RAM: the loader must clear the bss itself

        KernelEntry entry = MultibootLoader.Load(memory, builder.Build(), "kernel");

        byte[] text = new byte[builder.Segments[0].Data.Length];
        memory.Read(0x100000, text);
        byte[] data = new byte[0x300];
        memory.Read(0x102000, data);
        byte[] bss = new byte[0x5000 - 0x300];
        memory.Read(0x102300, bss);
        byte[] gap = new byte[0x2000 - text.Length];
        memory.Read(0x100000 + (uint)text.Length, gap);
        Assert.Multiple(() =>
        {
            Assert.That(text, Is.EqualTo(builder.Segments[0].Data));
            Assert.That(data, Is.EqualTo(builder.Segments[1].Data));
            Assert.That(bss.All(b => b == 0), Is.True, "bss is zero");
            Assert.That(gap.All(b => b == 0), Is.True, "the gap between segments is zero");
            Assert.That(entry.EntryPoint, Is.EqualTo(0x100010));
            Assert.That(entry.Eax, Is.EqualTo(0x2BADB002));
            Assert.That(entry.Ebx, Is.EqualTo(0x9500));
            Assert.That(entry.KernelStart, Is.EqualTo(0x100000));
            Assert.That(entry.KernelEnd, Is.EqualTo(0x107000));
        });
    }

    [Test]
    public void MultibootInformation_IsWhatQemuHandsOver()
    {
        // The values of tests/golden/kernels/hello.txt, recorded from qemu-system-i386 -m 64M.
        using GuestPhysicalMemory memory = Guest(64 * MiB);
        KernelEntry entry = MultibootLoader.Load(memory, Typical().Build(), "/images/hello.elf console=ttyS0 answer=42  two-spaces");

        uint mbi = entry.Ebx;
        Assert.Multiple(() =>
        {
            Assert.That(memory.ReadUInt32(mbi), Is.EqualTo(0x24F), "flags: memory, boot device, cmdline, mods, mmap, loader name");
            Assert.That(memory.ReadUInt32(mbi + 4), Is.EqualTo(639), "mem_lower");
            Assert.That(memory.ReadUInt32(mbi + 8), Is.EqualTo(64384), "mem_upper");
            Assert.That(memory.ReadUInt32(mbi + 12), Is.EqualTo(0x8000FFFF), "boot_device");
            Assert.That(ReadString(memory, memory.ReadUInt32(mbi + 16)), Is.EqualTo("/images/hello.elf console=ttyS0 answer=42  two-spaces"));
            Assert.That(memory.ReadUInt32(mbi + 16), Is.EqualTo(0x107000), "the command line follows the page-aligned kernel, as in QEMU");
            Assert.That(memory.ReadUInt32(mbi + 20), Is.Zero, "mods_count");
            Assert.That(memory.ReadUInt32(mbi + 44), Is.EqualTo(144), "mmap_length");
            Assert.That(memory.ReadUInt32(mbi + 48), Is.EqualTo(0x9000), "mmap_addr");
            Assert.That(ReadString(memory, memory.ReadUInt32(mbi + 64)), Is.EqualTo("minihv"));
            Assert.That(entry.CommandLineAddress, Is.EqualTo(0x107000));
        });

        var map = ReadMemoryMap(memory, memory.ReadUInt32(mbi + 48), memory.ReadUInt32(mbi + 44));
        Assert.That(map, Is.EqualTo(new[]
        {
            "0000000000000000-000000000009fbff type 1",
            "000000000009fc00-000000000009ffff type 2",
            "00000000000f0000-00000000000fffff type 2",
            "0000000000100000-0000000003fdffff type 1",
            "0000000003fe0000-0000000003ffffff type 2",
            "00000000fffc0000-00000000ffffffff type 2",
        }));
    }

    [TestCase(2, 896u)]
    [TestCase(96, 97152u)]
    [TestCase(256, 260992u)]
    public void MemUpper_MatchesQemu(int ramMiB, uint expectedKiB)
        => Assert.That(MultibootLoader.MemUpperKiB(ramMiB * MiB), Is.EqualTo(expectedKiB));

    [Test]
    public void QemuCommandLine_IsThePathASpaceAndTheAppendText()
    {
        Assert.That(MultibootLoader.QemuCommandLine("k/hello.elf", ""), Is.EqualTo("k/hello.elf "));
        Assert.That(MultibootLoader.QemuCommandLine("hello.elf", "a b"), Is.EqualTo("hello.elf a b"));
    }

    [Test]
    public void VirtualEntryInAnExecutableSegment_IsMovedToItsPhysicalAddress()
    {
        var builder = new MultibootElfBuilder { Entry = 0xF010000C }
            .AddSegment(0x100000, new byte[0x100], vaddr: 0xF0100000);
        using GuestPhysicalMemory memory = Guest();
        Assert.That(MultibootLoader.Load(memory, builder.Build(), "").EntryPoint, Is.EqualTo(0x10000C));
    }

    [Test]
    public void AoutKludge_LoadsTheRangeTheHeaderGives()
    {
        // A flat binary linked at 1 MiB with the header at file offset 0x40.
        byte[] file = new byte[0x900];
        for (int i = 0x60; i < file.Length; i++)
            file[i] = (byte)i;
        WriteMultibootHeader(file, 0x40, 0x10003);
        Put32(file, 0x4C, 0x100040);  // header_addr
        Put32(file, 0x50, 0x100000);  // load_addr
        Put32(file, 0x54, 0);         // load_end_addr: to the end of the file
        Put32(file, 0x58, 0x103000);  // bss_end_addr
        Put32(file, 0x5C, 0x100060);  // entry_addr
        using GuestPhysicalMemory memory = Guest();
        memory.Fill(0x100000, 0x4000, 0xCC);

        KernelEntry entry = MultibootLoader.Load(memory, file, "x");

        byte[] loaded = new byte[file.Length];
        memory.Read(0x100000, loaded);
        byte[] bss = new byte[0x3000 - file.Length];
        memory.Read(0x100000 + (uint)file.Length, bss);
        Assert.Multiple(() =>
        {
            Assert.That(loaded, Is.EqualTo(file));
            Assert.That(bss.All(b => b == 0), Is.True);
            Assert.That(entry.EntryPoint, Is.EqualTo(0x100060));
            Assert.That(entry.KernelEnd, Is.EqualTo(0x103000));
        });
    }

    [Test]
    public void TheTestKernels_LoadWhenBuilt()
    {
        string dir = Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../../kernels/build");
        string[] images = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.elf") : [];
        if (images.Length == 0)
            Assert.Ignore("tests/kernels/build has no images (make -C tests/kernels)");
        foreach (string image in images)
        {
            using GuestPhysicalMemory memory = Guest();
            KernelEntry entry = MultibootLoader.LoadFile(memory, image, "");
            Assert.That(entry.KernelStart, Is.EqualTo(0x100000), image);
            Assert.That(ReadString(memory, entry.CommandLineAddress), Is.EqualTo(image + " "));
        }
    }

    // ---- Bad images ----------------------------------------------------------------------

    internal static IEnumerable<TestCaseData> BadImages()
    {
        yield return Bad("empty", [], "empty");
        var random = new byte[4096];
        new Random(7).NextBytes(random);
        yield return Bad("random bytes", random, "no multiboot header");
        yield return Bad("no multiboot header", Mutated(Typical(), f => Array.Clear(f, 52 + 64, 12)), "no multiboot header");
        yield return Bad("bad checksum", Mutated(Typical(), f => Put32(f, 52 + 64 + 8, 0x12345678)), "bad checksum");
        yield return Bad("ELF64", Mutated(Typical(), f => { f[OffsetOfClass] = 2; Put16(f, OffsetOfMachine, 62); }), "64-bit");
        yield return Bad("ELF64 without multiboot", Mutated(Typical(), f => { f[OffsetOfClass] = 2; Array.Clear(f, 52 + 64, 12); }), "64-bit");
        yield return Bad("wrong machine", Mutated(Typical(), f => Put16(f, OffsetOfMachine, 40)), "ELF machine 40 is not i386");
        yield return Bad("big-endian", Mutated(Typical(), f => f[OffsetOfData] = 2), "big-endian");
        yield return Bad("not executable", Mutated(Typical(), f => Put16(f, OffsetOfType, 3)), "not an executable");
        yield return Bad("not ELF", Mutated(Typical(), f => f[1] = (byte)'X'), "not an ELF file");
        yield return Bad("no program headers", Mutated(Typical(), f => Put16(f, OffsetOfPhNum, 0)), "no program headers");
        yield return Bad("truncated program headers", Mutated(Typical(), f => Put16(f, OffsetOfPhNum, 400)), "truncated program headers");
        yield return Bad("program headers past the end", Mutated(Typical(), f => Put32(f, OffsetOfPhOffset, 0xFFFFFFF0)), "truncated program headers");
        yield return Bad("truncated segment data", Typical().Build()[..0x200], "truncated segment data");
        yield return Bad("segment offset past the end", Mutated(Typical(), f => Put32(f, ProgramHeaderAt(1) + 4, 0xFFFFFF00)), "truncated segment data");
        yield return Bad("filesz above memsz", Mutated(Typical(), f => Put32(f, ProgramHeaderAt(1) + 20, 0x10)), "p_filesz");
        yield return Bad("segment outside RAM", Image(b => b.AddSegment(0x5000000, new byte[16])), "outside the guest's RAM");
        yield return Bad("segment wraps past 4 GiB", Image(b => b.AddSegment(0xFFFFF000, new byte[16], memorySize: 0x2000)), "past 4 GiB");
        yield return Bad("image larger than RAM", Image(b => b.AddSegment(0x200000, new byte[16], memorySize: 0x5000000)), "only 65536 KiB of RAM");
        yield return Bad("segment over the multiboot information", Image(b => b.AddSegment(0x8000, new byte[0x1200])), "overlaps the multiboot information");
        yield return Bad("overlapping segments", Image(b => b.AddSegment(0x100800, new byte[16])), "overlap");
        yield return Bad("no loadable segments", Mutated(Typical(), f => { Put32(f, ProgramHeaderAt(0), 4); Put32(f, ProgramHeaderAt(1), 6); }), "no loadable");
        yield return Bad("entry outside RAM", Mutated(Typical(), f => Put32(f, 24, 0x7000000)), "entry point");
        yield return Bad("truncated multiboot header fields", KludgeHeaderOnly(), "truncated multiboot header");
    }

    private static TestCaseData Bad(string name, byte[] image, string messagePart)
        => new TestCaseData(image, messagePart).SetName($"BadImage_IsRefusedWithAClearMessage({name})");

    private static byte[] Mutated(MultibootElfBuilder builder, Action<byte[]> change)
    {
        byte[] file = builder.Build();
        change(file);
        return file;
    }

    private static byte[] Image(Action<MultibootElfBuilder> configure)
    {
        MultibootElfBuilder builder = Typical();
        configure(builder);
        return builder.Build();
    }

    private static byte[] KludgeHeaderOnly()
    {
        byte[] file = new byte[20];
        WriteMultibootHeader(file, 0, 0x10000);
        return file;
    }

    [TestCaseSource(nameof(BadImages))]
    public void BadImage_IsRefusedWithAClearMessage(byte[] image, string messagePart)
    {
        using GuestPhysicalMemory memory = Guest(64 * MiB);
        var e = Assert.Throws<InvalidImageException>(() => MultibootLoader.Load(memory, image, "cmd"));
        Assert.That(e!.Message, Does.Contain(messagePart));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void Layout_IsCheckedBeforeAnythingIsWritten()
    {
        using GuestPhysicalMemory memory = Guest(64 * MiB);
        Assert.Throws<InvalidImageException>(() =>
            MultibootLoader.Load(memory, Image(b => b.AddSegment(0x5000000, new byte[16])), ""));
        Assert.That(memory.PrivateFrames, Is.Zero);
    }

    [Test]
    public void CommandLineTooLongForRam_IsRefused()
    {
        using GuestPhysicalMemory memory = Guest(2 * MiB);
        var e = Assert.Throws<InvalidImageException>(() => MultibootLoader.Load(memory, Typical().Build(), new string('x', 2 << 20)));
        Assert.That(e!.Message, Does.Contain("beyond the guest's RAM"));
    }

    [Test]
    public void GuestTooSmall_IsRefused()
    {
        using GuestPhysicalMemory memory = Guest(1 * MiB);
        var e = Assert.Throws<InvalidImageException>(() => MultibootLoader.Load(memory, Typical().Build(), ""));
        Assert.That(e!.Message, Does.Contain("too small"));
    }

    [Test]
    public void MissingFile_IsRefusedWithItsPath()
    {
        using GuestPhysicalMemory memory = Guest();
        var e = Assert.Throws<InvalidImageException>(() => MultibootLoader.LoadFile(memory, "/nonexistent/kernel.elf", ""));
        Assert.That(e!.Message, Does.Contain("/nonexistent/kernel.elf"));
    }

    [Test]
    public void RandomMutationsAndTruncations_OnlyEverGiveInvalidImage()
    {
        var random = new Random(12345);
        byte[] valid = Typical().Build();
        byte[] kludge = KludgeImage();
        using GuestPhysicalMemory memory = Guest(4 * MiB);
        int loaded = 0, refused = 0;
        for (int i = 0; i < 600; i++)
        {
            byte[] image = (i % 3 == 0 ? kludge : valid).ToArray();
            int mutations = random.Next(1, 6);
            for (int m = 0; m < mutations; m++)
            {
                // Mostly the headers, where the offsets and sizes live; sometimes anywhere.
                int at = random.Next(4) == 0 ? random.Next(image.Length) : random.Next(Math.Min(image.Length, 160));
                image[at] = random.Next(3) switch
                {
                    0 => (byte)random.Next(256),
                    1 => 0xFF,
                    _ => (byte)(image[at] ^ (1 << random.Next(8))),
                };
            }
            if (random.Next(4) == 0)
                image = image[..random.Next(image.Length + 1)];

            try
            {
                MultibootLoader.Load(memory, image, "fuzz");
                loaded++;
            }
            catch (InvalidImageException e)
            {
                Assert.That(e.Message, Is.Not.Empty);
                refused++;
            }
        }
        Assert.That(refused, Is.GreaterThan(100));
        Assert.That(loaded, Is.GreaterThan(10));
    }

    private static byte[] KludgeImage()
    {
        byte[] file = new byte[0x400];
        WriteMultibootHeader(file, 0, 0x10000);
        Put32(file, 12, 0x100000);
        Put32(file, 16, 0x100000);
        Put32(file, 20, 0x100400);
        Put32(file, 24, 0x102000);
        Put32(file, 28, 0x100020);
        return file;
    }

    private static string ReadString(GuestPhysicalMemory memory, uint address)
    {
        var bytes = new List<byte>();
        for (byte b; (b = memory.ReadByte(address)) != 0; address++)
            bytes.Add(b);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>The memory map as the hello test kernel prints it.</summary>
    private static List<string> ReadMemoryMap(GuestPhysicalMemory memory, uint address, uint length)
    {
        var lines = new List<string>();
        for (uint p = address; p < address + length; p += memory.ReadUInt32(p) + 4)
        {
            ulong start = memory.ReadUInt64(p + 4), size = memory.ReadUInt64(p + 12);
            lines.Add($"{start:x16}-{start + size - 1:x16} type {memory.ReadUInt32(p + 20)}");
        }
        return lines;
    }
}
