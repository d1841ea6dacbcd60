using MiniHv.Hv.Loader;
using MiniHv.Hv.Sharing;

namespace MiniHv.Tests.Sharing;

/// <summary>Where a Linux kernel's text and data lie once it runs, from its System.map.</summary>
public class LinuxSystemMapTests
{
    // The shape of a 6.1 i386 build's map, with a few symbols around the ones that matter.
    private const string Map = """
        01000000 A phys_startup_32
        c1000000 T _text
        c1000000 T startup_32
        c1012345 t some_function
        c1133be0 T _etext
        c1134000 D __start_rodata
        c1174000 D __end_rodata
        c1174000 D _sdata
        c11ffa30 D _edata
        c1201000 D __init_begin
        c1231000 B __bss_start
        c1231000 ? __init_end
        c1266000 B __bss_stop
        c137c000 B _end
        """;

    [Test]
    public void Segments_AreTheTextRodataDataAndBss_AtPhysicalAddresses_WithoutTheInitSections()
    {
        IReadOnlyList<LoadSegment> s = LinuxSystemMap.Segments(Map);
        Assert.That(s, Is.EqualTo(new[]
        {
            new LoadSegment(0x1000000, 0, 0x133be0, 0x133be0, Executable: true, Writable: false),
            new LoadSegment(0x1134000, 0, 0x40000, 0x40000, Executable: false, Writable: false),
            new LoadSegment(0x1174000, 0, 0x8ba30, 0x8ba30, Executable: false, Writable: true),
            new LoadSegment(0x1231000, 0, 0x35000, 0x35000, Executable: false, Writable: true),
        }));
    }

    [Test]
    public void AMapWithoutTheKernelsSymbols_IsRefused_NamingWhatIsMissing()
    {
        string withoutBss = string.Join('\n', Map.Split('\n').Where(l => !l.Contains("__bss_")));
        var e = Assert.Throws<FormatException>(() => LinuxSystemMap.Segments(withoutBss));
        Assert.That(e!.Message, Is.EqualTo("no __bss_start, __bss_stop: not the System.map of an i386 Linux kernel"));
    }

    [TestCase("not a map at all", "line 1 is not 'ADDRESS TYPE SYMBOL' as in a System.map")]
    [TestCase("01000000 A phys_startup_32\nc10000zz T _text", "line 2 is not 'ADDRESS TYPE SYMBOL' as in a System.map")]
    public void ALineThatIsNotASymbol_IsRefused_WithItsNumber(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => LinuxSystemMap.Segments(text));
        Assert.That(e!.Message, Is.EqualTo(message));
    }

    [Test]
    public void ASymbolBelowTheKernelsMapping_IsRefused()
    {
        string broken = Map.Replace("c1134000 D __start_rodata", "00001000 D __start_rodata");
        var e = Assert.Throws<FormatException>(() => LinuxSystemMap.Segments(broken));
        Assert.That(e!.Message, Does.StartWith("__start_rodata 0x1000 and __end_rodata 0xc1174000 are not a range"));
    }
}
