namespace MiniHv.Tests.EndToEnd;

/// <summary>Where the test build leaves the guest images, and the golden transcripts recorded on QEMU.</summary>
internal static class TestImages
{
    private static readonly Lazy<string> Root = new(FindRepositoryRoot);

    /// <summary>The checkout's top directory (the one holding MiniHv.sln).</summary>
    public static string RepositoryRoot => Root.Value;

    /// <summary>The JOS-style guest, built by make through the CLI project.</summary>
    public static string Jos => Path.Combine(RepositoryRoot, "guests", "build", "jos.elf");

    /// <summary>The JOS-style guest on the local APIC timer, the I/O APIC and the MP table (make's jos-lapic flavour).</summary>
    public static string JosLapic => Path.Combine(RepositoryRoot, "guests", "build", "jos-lapic.elf");

    /// <summary>The multiprocessor flavour of the JOS-style guest (guests/README.md).</summary>
    public static string JosSmp => Path.Combine(RepositoryRoot, "guests", "build", "jos-smp.elf");

    /// <summary>A test kernel from tests/kernels, built by make through this project.</summary>
    public static string TestKernel(string name) => TestKernelFile(name + ".elf");

    /// <summary>A file the tests/kernels build makes, such as bootdisk.img.</summary>
    public static string TestKernelFile(string file) => Path.Combine(RepositoryRoot, "tests", "kernels", "build", file);

    public static string GoldenDirectory(string set) => Path.Combine(RepositoryRoot, "tests", "golden", set);

    /// <summary>A golden transcript, byte for byte as QEMU printed it.</summary>
    public static string Golden(string set, string name) => File.ReadAllText(Path.Combine(GoldenDirectory(set), name + ".txt"));

    /// <summary>The lines of a golden set's manifest, split on '|'.</summary>
    public static IEnumerable<string[]> Manifest(string set)
        => File.ReadAllLines(Path.Combine(GoldenDirectory(set), "manifest.txt"))
            .Where(line => line.Length > 0)
            .Select(line => line.Split('|'));

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MiniHv.sln")))
                return dir.FullName;
        }

        throw new InvalidOperationException("cannot find MiniHv.sln above the test directory");
    }
}
