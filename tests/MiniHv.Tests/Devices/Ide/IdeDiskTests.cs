using MiniHv.Hv.Devices.Ide;

namespace MiniHv.Tests.Devices.Ide;

public class IdeDiskTests
{
    private static byte[] Pattern(int length, int seed = 7)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Sector(byte fill) => Enumerable.Repeat(fill, IdeDisk.SectorSize).ToArray();

    [Test]
    public void ByteImage_ReadsItsSectorsAndTakesWrites()
    {
        byte[] image = Pattern(4 * 512);
        using var disk = IdeDisk.FromBytes(image);
        Assert.That(disk.SectorCount, Is.EqualTo(4));

        var buffer = new byte[512];
        Assert.That(disk.ReadSector(2, buffer), Is.True);
        Assert.That(buffer, Is.EqualTo(image[1024..1536]));

        Assert.That(disk.WriteSector(3, Sector(0xAB)), Is.True);
        Assert.That(image[1536..2048], Is.All.EqualTo(0xAB));
    }

    [Test]
    public void SectorsPastTheEnd_AreRefused()
    {
        byte[] image = Pattern(2 * 512);
        byte[] before = (byte[])image.Clone();
        using var disk = IdeDisk.FromBytes(image);
        var buffer = new byte[512];
        Assert.That(disk.ReadSector(2, buffer), Is.False);
        Assert.That(disk.ReadSector(-1, buffer), Is.False);
        Assert.That(disk.WriteSector(2, Sector(1)), Is.False);
        Assert.That(disk.WriteSector(long.MaxValue, Sector(1)), Is.False);
        Assert.That(image, Is.EqualTo(before));
    }

    [Test]
    public void Snapshot_KeepsWritesInTheOverlay_AndLeavesTheImageUntouched()
    {
        byte[] image = Pattern(8 * 512);
        byte[] before = (byte[])image.Clone();
        using var disk = IdeDisk.FromBytes(image, snapshot: true);

        Assert.That(disk.WriteSector(5, Sector(0x11)), Is.True);
        Assert.That(disk.WriteSector(5, Sector(0x22)), Is.True);
        Assert.That(disk.Flush(), Is.True);

        var buffer = new byte[512];
        disk.ReadSector(5, buffer);
        Assert.That(buffer, Is.All.EqualTo(0x22));
        disk.ReadSector(4, buffer);
        Assert.That(buffer, Is.EqualTo(before[2048..2560]));
        Assert.That(disk.OverlaySectorCount, Is.EqualTo(1));
        Assert.That(image, Is.EqualTo(before));
    }

    [Test]
    public void SnapshotOfAFile_NeverChangesTheFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            byte[] contents = Pattern(16 * 512);
            File.WriteAllBytes(path, contents);
            DateTime written = File.GetLastWriteTimeUtc(path);
            using (IdeDisk disk = IdeDisk.Open(path, snapshot: true))
            {
                for (int lba = 0; lba < 16; lba++)
                    Assert.That(disk.WriteSector(lba, Sector((byte)lba)), Is.True);
                Assert.That(disk.Flush(), Is.True);
                var buffer = new byte[512];
                disk.ReadSector(9, buffer);
                Assert.That(buffer, Is.All.EqualTo(9));
            }
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(contents));
            Assert.That(File.GetLastWriteTimeUtc(path), Is.EqualTo(written));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ReadWriteFile_TakesWritesAfterFlush()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, new byte[4 * 512]);
            using (IdeDisk disk = IdeDisk.Open(path))
            {
                Assert.That(disk.WriteSector(1, Sector(0x5A)), Is.True);
                Assert.That(disk.Flush(), Is.True);
            }
            byte[] after = File.ReadAllBytes(path);
            Assert.That(after, Has.Length.EqualTo(4 * 512));
            Assert.That(after[512..1024], Is.All.EqualTo(0x5A));
            Assert.That(after[..512], Is.All.EqualTo(0));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void PartialLastSector_ReadsZeroPadded_AndWritesNeverGrowTheImage()
    {
        byte[] image = Pattern(1000);
        var stream = new MemoryStream();
        stream.Write(image);
        using var disk = IdeDisk.FromStream(stream);
        Assert.That(disk.SectorCount, Is.EqualTo(2));

        var buffer = new byte[512];
        Assert.That(disk.ReadSector(1, buffer), Is.True);
        Assert.That(buffer[..488], Is.EqualTo(image[512..]));
        Assert.That(buffer[488..], Is.All.EqualTo(0));

        Assert.That(disk.WriteSector(1, Sector(0x77)), Is.True);
        Assert.That(stream.Length, Is.EqualTo(1000));
        Assert.That(stream.ToArray()[512..], Is.All.EqualTo(0x77));
    }

    [Test]
    public void ReadOnlyStream_RefusesWritesUnlessSnapshot()
    {
        byte[] image = Pattern(2 * 512);
        using var readOnly = IdeDisk.FromStream(new MemoryStream(image, writable: false));
        Assert.That(readOnly.IsReadOnly, Is.True);
        Assert.That(readOnly.WriteSector(0, Sector(1)), Is.False);

        using var snapshot = IdeDisk.FromStream(new MemoryStream(image, writable: false), snapshot: true);
        Assert.That(snapshot.IsReadOnly, Is.False);
        Assert.That(snapshot.WriteSector(0, Sector(1)), Is.True);
    }

    [Test]
    public void HostIoError_IsReportedAsFalse_NotThrown()
    {
        var stream = new MemoryStream(Pattern(4 * 512));
        using var disk = IdeDisk.FromStream(stream, leaveOpen: true);
        stream.Dispose();

        Assert.That(disk.ReadSector(0, new byte[512]), Is.False);
        Assert.That(disk.WriteSector(0, Sector(1)), Is.False);
        Assert.That(disk.LastHostError, Is.InstanceOf<ObjectDisposedException>());
    }

    [Test]
    public void UnseekableStream_IsRefusedAtOnce()
    {
        Assert.Throws<ArgumentException>(() => IdeDisk.FromStream(new UnseekableStream()));
    }

    private sealed class UnseekableStream : MemoryStream
    {
        public override bool CanSeek => false;
    }
}
