using System.IO.Compression;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace MiniHv.Hv.Sharing;

/// <summary>
/// The 4 KiB pages of the regular files in a Linux initramfs, by content: a guest frame that holds one of them
/// is that file's page cache (the kernel unpacks the archive into rootfs, a file system that lives in its page
/// cache), or a private copy of it.
/// </summary>
/// <remarks>
/// The archive is a "newc" cpio (magic 070701: a 110-byte header of hexadecimal fields, the name, the data, each
/// padded to 4 bytes), gzip-compressed or not, possibly several concatenated, as Documentation/driver-api/
/// early-userspace/buffer-format.rst describes. A file's last page is matched with zeros after its end, as
/// the page cache holds it. An archive that cannot be read gives no pages: attribution is a statistic, never a
/// reason to refuse a guest the kernel itself may boot.
/// </remarks>
public sealed class InitramfsPages
{
    private const int PageSize = 4096;
    private const int HeaderSize = 110;
    private const uint RegularFile = 0x8000, FileType = 0xF000;

    private readonly Dictionary<ulong, List<byte[]>> _pages = new();

    private InitramfsPages()
    {
    }

    /// <summary>How many distinct file pages the archive has.</summary>
    public int Count => _pages.Values.Sum(l => l.Count);

    /// <summary>The file pages of <paramref name="initrd"/> (an empty set when it is not a readable newc archive).</summary>
    public static InitramfsPages Of(ReadOnlyMemory<byte> initrd)
    {
        var pages = new InitramfsPages();
        try
        {
            pages.AddFiles(Unpacked(initrd));
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or ArgumentOutOfRangeException)
        {
            pages._pages.Clear();
        }

        return pages;
    }

    /// <summary>Whether the 4 KiB <paramref name="frame"/> is byte for byte a page of one of the archive's files.</summary>
    public bool Contains(ReadOnlySpan<byte> frame)
    {
        if (!_pages.TryGetValue(XxHash3.HashToUInt64(frame), out List<byte[]>? same))
            return false;
        foreach (byte[] page in same)
        {
            if (frame.SequenceEqual(page))
                return true;
        }

        return false;
    }

    private static byte[] Unpacked(ReadOnlyMemory<byte> initrd)
    {
        byte[] bytes = MemoryMarshal.TryGetArray(initrd, out ArraySegment<byte> array) && array.Offset == 0 && array.Count == array.Array!.Length
            ? array.Array : initrd.ToArray();
        if (bytes.Length < 2 || bytes[0] != 0x1F || bytes[1] != 0x8B)
            return bytes;
        using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
        var output = new MemoryStream();
        gzip.CopyTo(output);
        return output.ToArray();
    }

    private void AddFiles(byte[] archive)
    {
        int at = 0;
        while (at + HeaderSize <= archive.Length)
        {
            if (archive[at] == 0) // zero padding between concatenated archives
            {
                at++;
                continue;
            }

            if (Encoding.ASCII.GetString(archive, at, 6) != "070701")
                throw new FormatException("not a newc cpio header");
            uint Field(int index) => uint.Parse(Encoding.ASCII.GetString(archive, at + 6 + (index * 8), 8), System.Globalization.NumberStyles.AllowHexSpecifier);
            uint mode = Field(1), size = Field(6), nameSize = Field(11);
            int name = at + HeaderSize;
            int data = Align4(name + (int)nameSize);
            if (data + (long)size > archive.Length)
                throw new FormatException("a file runs past the archive's end");
            if (Encoding.ASCII.GetString(archive, name, (int)Math.Max(0, nameSize - 1)) == "TRAILER!!!")
                return;
            if ((mode & FileType) == RegularFile)
                AddFile(archive.AsSpan(data, (int)size));
            at = Align4(data + (int)size);
        }
    }

    private void AddFile(ReadOnlySpan<byte> file)
    {
        for (int offset = 0; offset < file.Length; offset += PageSize)
        {
            var page = new byte[PageSize];
            file[offset..Math.Min(file.Length, offset + PageSize)].CopyTo(page);
            ulong hash = XxHash3.HashToUInt64(page);
            if (!_pages.TryGetValue(hash, out List<byte[]>? same))
                _pages[hash] = same = new List<byte[]>();
            if (!same.Exists(p => p.AsSpan().SequenceEqual(page)))
                same.Add(page);
        }
    }

    private static int Align4(int n) => (n + 3) & ~3;
}
