using System.Text;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Tests.Loader;

/// <summary>
/// bzImages built in the test boot through the 32-bit boot protocol: what their protected-mode code finds
/// (registers, boot segments, zero page, e820 map, command line, initrd) is printed by the code itself on COM1.
/// </summary>
public class BzImageLoaderTests
{
    private const long MiB = 1 << 20;

    /// <summary>Boots the image in a VM and returns its COM1 output and exit.</summary>
    internal static (string Serial, VmExit Exit) Boot(byte[] image, string commandLine, byte[]? initrd, long ram)
    {
        using var machine = MachineMemory.WithCapBytes(ram + (16 * MiB));
        var output = new List<byte>();
        var config = new VmConfig
        {
            Name = "linux",
            Image = image,
            CommandLine = commandLine,
            Initrd = initrd is null ? (ReadOnlyMemory<byte>?)null : initrd,
            MemoryBytes = ram,
            MaxInstructions = 50_000_000,
        };
        using var vm = new Vm(config, machine, output.Add);
        VmExit exit = vm.RunToEnd();
        return (Encoding.ASCII.GetString(output.ToArray()), exit);
    }

    internal static byte[] Initrd(int bytes, int seed = 21)
    {
        var data = new byte[bytes];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static Dictionary<string, string> Fields(string serial)
    {
        var fields = new Dictionary<string, string>();
        foreach (string line in serial.Split('\n'))
        {
            int eq = line.IndexOf('=');
            if (eq > 0 && !line.StartsWith("e820 ", StringComparison.Ordinal))
                fields[line[..eq]] = line[(eq + 1)..];
        }

        return fields;
    }

    private static string Hex(long value) => ((uint)value).ToString("x8");

    [Test]
    public void BzImage_EntersThe32BitProtocol_WithZeroPageCommandLineAndInitrd()
    {
        byte[] initrd = Initrd(300_000);
        var builder = new BzImageBuilder { Payload = ZeroPageReporter.Build(0x100000) };
        (string serial, VmExit exit) = Boot(builder.Build(), "console=ttyS0 answer=42 two  spaces", initrd, 64 * MiB);

        Dictionary<string, string> f = Fields(serial);
        // The initrd sits as high as the available RAM allows (the top 128 KiB are the firmware's), page aligned.
        long initrdAt = ((64 * MiB) - 0x20000 - initrd.Length) & ~0xFFFL;
        Assert.Multiple(() =>
        {
            Assert.That(exit.DebugExitStatus, Is.EqualTo(ZeroPageReporter.ExitStatus), serial);
            Assert.That(f["esi"], Is.EqualTo(Hex(BzImageLoader.ZeroPageAddress)));
            Assert.That(f["edi"], Is.EqualTo(Hex(0)));
            Assert.That(f["ebp"], Is.EqualTo(Hex(0)));
            Assert.That(f["ebx"], Is.EqualTo(Hex(0)));
            Assert.That(f["eflags"], Is.EqualTo(Hex(0x2)), "interrupts off");
            Assert.That(f["cs"], Is.EqualTo(Hex(0x10)));
            Assert.That(f["ds"], Is.EqualTo(Hex(0x18)));
            Assert.That(f["es"], Is.EqualTo(Hex(0x18)));
            Assert.That(f["ss"], Is.EqualTo(Hex(0x18)));
            Assert.That(f["gdt_cs_lo"] + f["gdt_cs_hi"], Is.EqualTo("0000ffff00cf9a00"), "flat 4 GiB execute/read code");
            Assert.That(f["gdt_ds_lo"] + f["gdt_ds_hi"], Is.EqualTo("0000ffff00cf9200"), "flat 4 GiB read/write data");
            Assert.That(f["version"], Is.EqualTo(Hex(0x020F)), "the setup header is copied");
            Assert.That(f["type_of_loader"], Is.EqualTo(Hex(0xFF)));
            Assert.That(f["loadflags"], Is.EqualTo(Hex(0x01)));
            Assert.That(f["code32_start"], Is.EqualTo(Hex(0x100000)));
            Assert.That(f["ramdisk_image"], Is.EqualTo(Hex(initrdAt)));
            Assert.That(f["ramdisk_size"], Is.EqualTo(Hex(initrd.Length)));
            Assert.That(f["cmdline_size"], Is.EqualTo(Hex(2047)));
            Assert.That(f["init_size"], Is.EqualTo(Hex(0x10000)));
            Assert.That(f["alt_mem_k"], Is.EqualTo(Hex((64 * 1024) - 1024 - 128)));
            Assert.That(f["cmdline"], Is.EqualTo("console=ttyS0 answer=42 two  spaces"));
            Assert.That(f["initrd_sum"], Is.EqualTo(Hex(ZeroPageReporter.Checksum(initrd))));
        });

        // The e820 map is the one a multiboot kernel gets in the same guest.
        string e820 = string.Concat(MultibootLoader.MemoryMap(64 * MiB).Select(e =>
            $"e820 base={Hex((long)e.Base)}\n length={Hex((long)e.Length)}\n type={Hex(e.Type)}\n"));
        Assert.That(f["e820_entries"], Is.EqualTo(Hex(6)));
        Assert.That(serial, Does.Contain(e820));
    }

    [Test]
    public void RelocatableKernel_LoadsAtItsPreferredAddress()
    {
        var builder = new BzImageBuilder
        {
            Relocatable = true,
            PreferredAddress = 0x1000000,
            Payload = ZeroPageReporter.Build(0x1000000),
        };
        (string serial, VmExit exit) = Boot(builder.Build(), "", null, 64 * MiB);

        Dictionary<string, string> f = Fields(serial);
        Assert.That(exit.DebugExitStatus, Is.EqualTo(ZeroPageReporter.ExitStatus), serial);
        Assert.That(f["code32_start"], Is.EqualTo(Hex(0x1000000)), "code32_start says where the code was loaded");
        Assert.That(f["ramdisk_image"] + f["ramdisk_size"], Is.EqualTo(Hex(0) + Hex(0)), "no initrd");
    }

    [Test]
    public void RelocatableKernel_WhosePreferredAddressDoesNotFit_LoadsAtCode32Start()
    {
        var builder = new BzImageBuilder
        {
            Relocatable = true,
            PreferredAddress = 0x1000000,
            InitSize = 0x800000,
            Payload = ZeroPageReporter.Build(0x100000),
        };
        (string serial, _) = Boot(builder.Build(), "", null, 16 * MiB);
        Assert.That(Fields(serial)["code32_start"], Is.EqualTo(Hex(0x100000)), serial);
    }

    [Test]
    public void Initrd_StaysBelowInitrdAddrMax()
    {
        using var pool = MachineMemory.WithCapBytes(128 * MiB);
        using var memory = new GuestPhysicalMemory(pool, 64 * MiB);
        var image = new BzImageBuilder { InitrdAddressMax = 0x1FF_FFFF }.Build();
        byte[] initrd = Initrd(5000);

        LinuxEntry entry = BzImageLoader.Load(memory, image, "", initrd);

        byte[] loaded = new byte[initrd.Length];
        memory.Read(entry.InitrdAddress, loaded);
        Assert.Multiple(() =>
        {
            Assert.That(entry.InitrdAddress, Is.EqualTo((0x200_0000 - 5000) & ~0xFFF));
            Assert.That(entry.InitrdAddress + entry.InitrdBytes - 1, Is.LessThanOrEqualTo(0x1FF_FFFF));
            Assert.That(loaded, Is.EqualTo(initrd));
        });
    }

    private static string Refusal(BzImageBuilder builder, Func<byte[], byte[]>? damage = null, byte[]? initrd = null, long ram = 64 * MiB)
    {
        using var pool = MachineMemory.WithCapBytes(128 * MiB);
        using var memory = new GuestPhysicalMemory(pool, ram);
        byte[] image = builder.Build();
        image = damage?.Invoke(image) ?? image;
        var e = Assert.Throws<InvalidImageException>(() => BzImageLoader.Load(memory, image, "", initrd))!;
        Assert.That(e.Message, Does.Not.Contain("\n"));
        return e.Message;
    }

    [Test]
    public void Refusals_NameWhatIsWrong()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Refusal(new BzImageBuilder { Payload = new byte[4096] }, f => f[..0x900]),
                Does.StartWith("truncated bzImage: the header says 4096 bytes of protected-mode code"));
            Assert.That(Refusal(new BzImageBuilder(), f => f[..0x300]), Does.StartWith("truncated bzImage"));
            Assert.That(Refusal(new BzImageBuilder { Signature = 0x12345678 }), Does.Contain("no setup header signature 'HdrS'"));
            Assert.That(Refusal(new BzImageBuilder { BootFlagValue = 0x1234 }), Does.Contain("the boot flag at 0x1fe is 0x1234"));
            Assert.That(Refusal(new BzImageBuilder { Protocol = 0x0206 }),
                Does.Contain("boot protocol 2.06").And.Contain("needs 2.07 or later"));
            Assert.That(Refusal(new BzImageBuilder { XLoadFlags = 1 }), Does.StartWith("a 64-bit (x86-64) kernel"));
            Assert.That(Refusal(new BzImageBuilder { LoadFlags = 0 }), Does.StartWith("a zImage"));
            Assert.That(Refusal(new BzImageBuilder(), initrd: new byte[15 * MiB], ram: 16 * MiB),
                Does.StartWith("the initrd is 15360 KiB, too big for the guest's RAM"));
            Assert.That(Refusal(new BzImageBuilder { InitSize = 0x2000000 }, ram: 16 * MiB),
                Does.Contain("give it more memory"));
        });
    }

    [Test]
    public void ABootFlagAlone_MarksLinux_UnlessTheFileCarriesAMultibootHeader()
    {
        var file = new byte[0x400];
        file[0x1FE] = 0x55;
        file[0x1FF] = 0xAA;
        Assert.That(BzImage.LooksLikeLinux(file), Is.True, "an old Linux boot sector, refused as one");

        // A flat multiboot image (the a.out kludge) whose bytes happen to hold 55 AA at 0x1FE.
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(0x40), MultibootImage.HeaderMagic);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(0x44), 0x10000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(0x48), unchecked(0u - MultibootImage.HeaderMagic - 0x10000));
        Assert.That(BzImage.LooksLikeLinux(file), Is.False);
    }

    [Test]
    public void CommandLineLongerThanCmdlineSize_IsRefused()
    {
        using var pool = MachineMemory.WithCapBytes(128 * MiB);
        using var memory = new GuestPhysicalMemory(pool, 64 * MiB);
        var e = Assert.Throws<InvalidImageException>(() =>
            BzImageLoader.Load(memory, new BzImageBuilder { CommandLineSize = 3 }.Build(), "four", null))!;
        Assert.That(e.Message, Is.EqualTo("the command line is 4 bytes; this kernel reads at most 3 (cmdline_size)"));
    }
}
