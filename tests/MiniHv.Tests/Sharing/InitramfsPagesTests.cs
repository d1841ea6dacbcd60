using System.IO.Compression;
using System.Text;
using MiniHv.Hv.Sharing;

namespace MiniHv.Tests.Sharing;

/// <summary>The pages of an initramfs's files, which a Linux guest's page cache holds once it has unpacked the archive.</summary>
public class InitramfsPagesTests
{
    // A newc cpio entry: the 110-byte header of hexadecimal fields (magic, ino, mode, uid, gid, nlink, mtime,
    // filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check), the name with its NUL, the data, each padded to 4.
    private static byte[] Entry(string name, uint mode, byte[] data)
    {
        var s = new MemoryStream();
        void Pad() { while (s.Length % 4 != 0) s.WriteByte(0); }
        uint[] fields = [1, mode, 0, 0, 1, 0, (uint)data.Length, 0, 0, 0, 0, (uint)name.Length + 1, 0];
        s.Write(Encoding.ASCII.GetBytes("070701" + string.Concat(fields.Select(f => f.ToString("X8")))));
        s.Write(Encoding.ASCII.GetBytes(name + "\0"));
        Pad();
        s.Write(data);
        Pad();
        return s.ToArray();
    }

    private static readonly byte[] Program = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7 + 1)).ToArray();

    private static byte[] Archive()
        => [.. Entry("dev", 0x41ED, []), .. Entry("init", 0x81ED, Program), .. Entry("TRAILER!!!", 0, [])];

    private static byte[] Page(int offset)
    {
        var page = new byte[4096];
        Program.AsSpan(offset, Math.Min(4096, Program.Length - offset)).CopyTo(page);
        return page;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        var s = new MemoryStream();
        using (var gzip = new GZipStream(s, CompressionLevel.Optimal, leaveOpen: true))
            gzip.Write(bytes);
        return s.ToArray();
    }

    [Test]
    public void EveryPageOfEveryFile_IsFound_TheLastOneWithZerosAfterTheFilesEnd()
    {
        foreach (byte[] initrd in new[] { Archive(), Gzip(Archive()) })
        {
            InitramfsPages pages = InitramfsPages.Of(initrd);
            Assert.Multiple(() =>
            {
                Assert.That(pages.Count, Is.EqualTo(2), "two pages of /init; a directory has none");
                Assert.That(pages.Contains(Page(0)), Is.True);
                Assert.That(pages.Contains(Page(4096)), Is.True);
            });
        }
    }

    [Test]
    public void AFrameThatDiffersInOneByte_IsNotAFilePage()
    {
        byte[] almost = Page(4096);
        almost[4095] = 1; // past the file's end, where the page cache has zeros
        Assert.That(InitramfsPages.Of(Archive()).Contains(almost), Is.False);
    }

    [Test]
    public void AnArchiveThatCannotBeRead_HasNoPages_RatherThanFailingTheRun()
    {
        Assert.Multiple(() =>
        {
            Assert.That(InitramfsPages.Of(Encoding.ASCII.GetBytes(new string('x', 300))).Count, Is.Zero);
            Assert.That(InitramfsPages.Of(Archive()[..300]).Count, Is.Zero, "a file cut short");
            Assert.That(InitramfsPages.Of(new byte[] { 0x1F, 0x8B, 1, 2, 3 }).Count, Is.Zero, "a broken gzip stream");
        });
    }
}
