using System.IO.Hashing;
using System.Runtime.Intrinsics.X86;
using MiniHv.Hv.Sharing;

namespace MiniHv.Tests.Sharing;

/// <summary>The engine's frame hash gives the library's XxHash3 number on every path: AVX2, SSE2 and portable.</summary>
public class FrameHashTests
{
    /// <summary>The first and last byte of each stripe and block, and the last stripe's start (4032).</summary>
    private static readonly int[] Boundaries = [0, 63, 64, 1023, 1024, 3071, 3072, 4031, 4032, 4095];

    public static IEnumerable<TestCaseData> Paths()
    {
        yield return new TestCaseData(new Func<byte[], ulong>(b => FrameHash.Hash(b)), true).SetArgDisplayNames("dispatch");
        yield return new TestCaseData(new Func<byte[], ulong>(b => FrameHash.HashAvx2(b)), Avx2.IsSupported).SetArgDisplayNames("avx2");
        yield return new TestCaseData(new Func<byte[], ulong>(b => FrameHash.HashSse2(b)), Sse2.IsSupported).SetArgDisplayNames("sse2");
        yield return new TestCaseData(new Func<byte[], ulong>(b => FrameHash.HashPortable(b)), true).SetArgDisplayNames("portable");
    }

    [TestCaseSource(nameof(Paths))]
    public void Random_frames_hash_as_the_library_does(Func<byte[], ulong> hash, bool supported)
    {
        RequireHost(supported);
        var random = new Random(18);
        var frame = new byte[FrameHash.FrameSize];
        for (int i = 0; i < 3000; i++)
        {
            random.NextBytes(frame);
            Assert.That(hash(frame), Is.EqualTo(XxHash3.HashToUInt64(frame)), $"frame {i}");
        }
    }

    [TestCaseSource(nameof(Paths))]
    public void Uniform_frames_hash_as_the_library_does(Func<byte[], ulong> hash, bool supported)
    {
        RequireHost(supported);
        var zero = new byte[FrameHash.FrameSize];
        var ones = Enumerable.Repeat((byte)0xFF, FrameHash.FrameSize).ToArray();
        Assert.That(hash(zero), Is.EqualTo(XxHash3.HashToUInt64(zero)));
        Assert.That(hash(ones), Is.EqualTo(XxHash3.HashToUInt64(ones)));
        Assert.That(hash(zero), Is.Not.EqualTo(hash(ones)));
    }

    [TestCaseSource(nameof(Paths))]
    public void One_byte_changed_at_each_boundary_changes_the_hash_as_the_library_does(Func<byte[], ulong> hash, bool supported)
    {
        RequireHost(supported);
        var random = new Random(4096);
        var frame = new byte[FrameHash.FrameSize];
        random.NextBytes(frame);
        ulong original = hash(frame);
        var seen = new HashSet<ulong> { original };
        foreach (int offset in Boundaries)
        {
            byte kept = frame[offset];
            frame[offset] ^= 0x5A;
            ulong changed = hash(frame);
            Assert.That(changed, Is.EqualTo(XxHash3.HashToUInt64(frame)), $"byte {offset}");
            Assert.That(seen.Add(changed), Is.True, $"byte {offset}: the hash did not change");
            frame[offset] = kept;
        }

        Assert.That(hash(frame), Is.EqualTo(original));
    }

    [Test]
    public void Other_sizes_go_to_the_library()
    {
        var random = new Random(7);
        foreach (int size in new[] { 0, 1, 16, 240, 241, 4095, 4097, 8192 })
        {
            var bytes = new byte[size];
            random.NextBytes(bytes);
            Assert.That(FrameHash.Hash(bytes), Is.EqualTo(XxHash3.HashToUInt64(bytes)), $"{size} bytes");
        }
    }

    [Test]
    public void The_paths_refuse_anything_but_a_frame()
    {
        var bytes = new byte[4095];
        Assert.Throws<ArgumentException>(() => FrameHash.HashPortable(bytes));
        Assert.Throws<ArgumentException>(() => FrameHash.HashSse2(bytes));
        Assert.Throws<ArgumentException>(() => FrameHash.HashAvx2(bytes));
    }

    private static void RequireHost(bool supported)
    {
        if (!supported)
            Assert.Ignore("this host lacks the instruction set of the path");
    }
}
