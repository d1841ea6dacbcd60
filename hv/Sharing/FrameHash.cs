using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MiniHv.Hv.Sharing;

/// <summary>
/// XXH3-64 (seed 0, the default secret) of one 4096-byte frame: the same number as
/// <see cref="XxHash3.HashToUInt64(ReadOnlySpan{byte}, long)"/>, written for the one size the sharing engine hashes.
/// </summary>
/// <remarks>
/// The library's vector code is generic over <c>Vector256&lt;T&gt;</c>, which ReadyToRun cannot precompile, so
/// it starts unoptimized (every vector operation a call) and is promoted late while guests start. The hot
/// methods here are marked <see cref="MethodImplOptions.AggressiveOptimization"/>: the JIT compiles them fully
/// optimized at their first call. For a frame the layout is fixed: three full blocks of 16 stripes of 64 bytes
/// (the secret advancing 8 bytes a stripe, a scramble after each block), 15 stripes of the last block, then the
/// last 64 bytes against the secret at offset 192 - 64 - 7.
/// </remarks>
public static class FrameHash
{
    public const int FrameSize = 4096;

    private const int StripeSize = 64;
    private const int SecretSize = 192;
    private const int StripesPerBlock = (SecretSize - StripeSize) / 8; // 16
    private const int BlockSize = StripesPerBlock * StripeSize; // 1024
    private const int FullBlocks = (FrameSize - 1) / BlockSize; // 3
    private const int LastBlockStripes = (FrameSize - 1 - FullBlocks * BlockSize) / StripeSize; // 15
    private const int ScrambleSecretOffset = SecretSize - StripeSize; // 128
    private const int LastStripeSecretOffset = SecretSize - StripeSize - 7; // 121
    private const int MergeSecretOffset = 11;

    private const ulong Prime32_1 = 0x9E3779B1;
    private const ulong Prime32_2 = 0x85EBCA77;
    private const ulong Prime32_3 = 0xC2B2AE3D;
    private const ulong Prime64_1 = 0x9E3779B185EBCA87;
    private const ulong Prime64_2 = 0xC2B2AE3D27D4EB4F;
    private const ulong Prime64_3 = 0x165667B19E3779F9;
    private const ulong Prime64_4 = 0x85EBCA77C2B2AE63;
    private const ulong Prime64_5 = 0x27D4EB2F165667C5;
    private const ulong PrimeMx1 = 0x165667919E3779F9;

    /// <summary>XXH3's published default secret (192 bytes).</summary>
    private static ReadOnlySpan<byte> DefaultSecret =>
    [
        0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
        0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
        0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
        0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
        0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
        0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
        0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
        0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
        0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
        0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
        0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
        0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
    ];

    /// <summary>The XXH3-64 of <paramref name="bytes"/>; a frame takes the fast path, any other size the library.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ulong Hash(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != FrameSize)
            return XxHash3.HashToUInt64(bytes);
        if (Avx2.IsSupported)
            return HashAvx2(bytes);
        if (Sse2.IsSupported)
            return HashSse2(bytes);
        return HashPortable(bytes);
    }

    /// <summary>Eight 64-bit accumulators in two 256-bit registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe ulong HashAvx2(ReadOnlySpan<byte> frame)
    {
        CheckFrame(frame);
        fixed (byte* input = frame)
        fixed (byte* secret = DefaultSecret)
        {
            Vector256<ulong> lo = Vector256.Create(Prime32_3, Prime64_1, Prime64_2, Prime64_3);
            Vector256<ulong> hi = Vector256.Create(Prime64_4, Prime32_2, Prime64_5, Prime32_1);
            Vector256<ulong> scrambleLo = Avx.LoadVector256((ulong*)(secret + ScrambleSecretOffset));
            Vector256<ulong> scrambleHi = Avx.LoadVector256((ulong*)(secret + ScrambleSecretOffset + 32));
            for (int block = 0; block < FullBlocks; block++)
            {
                byte* stripe = input + block * BlockSize;
                for (int s = 0; s < StripesPerBlock; s++, stripe += StripeSize)
                {
                    lo = Accumulate256(lo, stripe, secret + s * 8);
                    hi = Accumulate256(hi, stripe + 32, secret + s * 8 + 32);
                }

                lo = Scramble256(lo, scrambleLo);
                hi = Scramble256(hi, scrambleHi);
            }

            byte* last = input + FullBlocks * BlockSize;
            for (int s = 0; s < LastBlockStripes; s++, last += StripeSize)
            {
                lo = Accumulate256(lo, last, secret + s * 8);
                hi = Accumulate256(hi, last + 32, secret + s * 8 + 32);
            }

            byte* end = input + FrameSize - StripeSize;
            lo = Accumulate256(lo, end, secret + LastStripeSecretOffset);
            hi = Accumulate256(hi, end + 32, secret + LastStripeSecretOffset + 32);

            ulong* acc = stackalloc ulong[8];
            Avx.Store(acc, lo);
            Avx.Store(acc + 4, hi);
            return Merge(acc, secret);
        }
    }

    /// <summary>Eight 64-bit accumulators in four 128-bit registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe ulong HashSse2(ReadOnlySpan<byte> frame)
    {
        CheckFrame(frame);
        fixed (byte* input = frame)
        fixed (byte* secret = DefaultSecret)
        {
            Vector128<ulong> a0 = Vector128.Create(Prime32_3, Prime64_1);
            Vector128<ulong> a1 = Vector128.Create(Prime64_2, Prime64_3);
            Vector128<ulong> a2 = Vector128.Create(Prime64_4, Prime32_2);
            Vector128<ulong> a3 = Vector128.Create(Prime64_5, Prime32_1);
            for (int block = 0; block <= FullBlocks; block++)
            {
                byte* stripe = input + block * BlockSize;
                int stripes = block < FullBlocks ? StripesPerBlock : LastBlockStripes;
                for (int s = 0; s < stripes; s++, stripe += StripeSize)
                {
                    byte* key = secret + s * 8;
                    a0 = Accumulate128(a0, stripe, key);
                    a1 = Accumulate128(a1, stripe + 16, key + 16);
                    a2 = Accumulate128(a2, stripe + 32, key + 32);
                    a3 = Accumulate128(a3, stripe + 48, key + 48);
                }

                if (block < FullBlocks)
                {
                    byte* key = secret + ScrambleSecretOffset;
                    a0 = Scramble128(a0, Sse2.LoadVector128((ulong*)key));
                    a1 = Scramble128(a1, Sse2.LoadVector128((ulong*)(key + 16)));
                    a2 = Scramble128(a2, Sse2.LoadVector128((ulong*)(key + 32)));
                    a3 = Scramble128(a3, Sse2.LoadVector128((ulong*)(key + 48)));
                }
            }

            byte* end = input + FrameSize - StripeSize;
            byte* endKey = secret + LastStripeSecretOffset;
            a0 = Accumulate128(a0, end, endKey);
            a1 = Accumulate128(a1, end + 16, endKey + 16);
            a2 = Accumulate128(a2, end + 32, endKey + 32);
            a3 = Accumulate128(a3, end + 48, endKey + 48);

            ulong* acc = stackalloc ulong[8];
            Sse2.Store(acc, a0);
            Sse2.Store(acc + 2, a1);
            Sse2.Store(acc + 4, a2);
            Sse2.Store(acc + 6, a3);
            return Merge(acc, secret);
        }
    }

    /// <summary>The algorithm one 64-bit lane at a time, for hosts without SSE2 (and as the tests' reference path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe ulong HashPortable(ReadOnlySpan<byte> frame)
    {
        CheckFrame(frame);
        fixed (byte* input = frame)
        fixed (byte* secret = DefaultSecret)
        {
            ulong* acc = stackalloc ulong[8] { Prime32_3, Prime64_1, Prime64_2, Prime64_3, Prime64_4, Prime32_2, Prime64_5, Prime32_1 };
            for (int block = 0; block <= FullBlocks; block++)
            {
                byte* stripe = input + block * BlockSize;
                int stripes = block < FullBlocks ? StripesPerBlock : LastBlockStripes;
                for (int s = 0; s < stripes; s++, stripe += StripeSize)
                    AccumulatePortable(acc, stripe, secret + s * 8);
                if (block < FullBlocks)
                    ScramblePortable(acc, secret + ScrambleSecretOffset);
            }

            AccumulatePortable(acc, input + FrameSize - StripeSize, secret + LastStripeSecretOffset);
            return Merge(acc, secret);
        }
    }

    /// <summary>One half stripe (32 bytes): each lane adds the data of its pair's other lane, and the product of the keyed data's two 32-bit halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<ulong> Accumulate256(Vector256<ulong> acc, byte* data, byte* key)
    {
        Vector256<ulong> value = Avx.LoadVector256((ulong*)data);
        Vector256<ulong> keyed = Avx2.Xor(value, Avx.LoadVector256((ulong*)key));
        Vector256<ulong> product = Avx2.Multiply(keyed.AsUInt32(), Avx2.ShiftRightLogical(keyed, 32).AsUInt32());
        Vector256<ulong> swapped = Avx2.Shuffle(value.AsUInt32(), 0b01_00_11_10).AsUInt64(); // 64-bit lanes 0<->1, 2<->3
        return Avx2.Add(Avx2.Add(acc, swapped), product);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Scramble256(Vector256<ulong> acc, Vector256<ulong> key)
    {
        Vector256<ulong> mixed = Avx2.Xor(Avx2.Xor(acc, Avx2.ShiftRightLogical(acc, 47)), key);
        Vector256<uint> prime = Vector256.Create(Prime32_1).AsUInt32();
        Vector256<ulong> low = Avx2.Multiply(mixed.AsUInt32(), prime);
        Vector256<ulong> high = Avx2.Multiply(Avx2.ShiftRightLogical(mixed, 32).AsUInt32(), prime);
        return Avx2.Add(low, Avx2.ShiftLeftLogical(high, 32)); // mixed * Prime32_1 modulo 2^64
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<ulong> Accumulate128(Vector128<ulong> acc, byte* data, byte* key)
    {
        Vector128<ulong> value = Sse2.LoadVector128((ulong*)data);
        Vector128<ulong> keyed = Sse2.Xor(value, Sse2.LoadVector128((ulong*)key));
        Vector128<ulong> product = Sse2.Multiply(keyed.AsUInt32(), Sse2.ShiftRightLogical(keyed, 32).AsUInt32());
        Vector128<ulong> swapped = Sse2.Shuffle(value.AsUInt32(), 0b01_00_11_10).AsUInt64();
        return Sse2.Add(Sse2.Add(acc, swapped), product);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> Scramble128(Vector128<ulong> acc, Vector128<ulong> key)
    {
        Vector128<ulong> mixed = Sse2.Xor(Sse2.Xor(acc, Sse2.ShiftRightLogical(acc, 47)), key);
        Vector128<uint> prime = Vector128.Create(Prime32_1).AsUInt32();
        Vector128<ulong> low = Sse2.Multiply(mixed.AsUInt32(), prime);
        Vector128<ulong> high = Sse2.Multiply(Sse2.ShiftRightLogical(mixed, 32).AsUInt32(), prime);
        return Sse2.Add(low, Sse2.ShiftLeftLogical(high, 32));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AccumulatePortable(ulong* acc, byte* stripe, byte* key)
    {
        for (int i = 0; i < 8; i++)
        {
            ulong value = ReadLittleEndian(stripe + i * 8);
            ulong keyed = value ^ ReadLittleEndian(key + i * 8);
            acc[i ^ 1] += value;
            acc[i] += (keyed & 0xFFFF_FFFF) * (keyed >> 32);
        }
    }

    private static unsafe void ScramblePortable(ulong* acc, byte* key)
    {
        for (int i = 0; i < 8; i++)
        {
            ulong mixed = acc[i] ^ (acc[i] >> 47) ^ ReadLittleEndian(key + i * 8);
            acc[i] = mixed * Prime32_1;
        }
    }

    /// <summary>Folds the eight accumulators into the 64-bit result, keyed by the secret from byte 11, and avalanches it.</summary>
    private static unsafe ulong Merge(ulong* acc, byte* secret)
    {
        ulong result = unchecked(FrameSize * Prime64_1);
        for (int i = 0; i < 4; i++)
        {
            byte* key = secret + MergeSecretOffset + i * 16;
            ulong high = Math.BigMul(acc[2 * i] ^ ReadLittleEndian(key), acc[2 * i + 1] ^ ReadLittleEndian(key + 8), out ulong low);
            result += high ^ low;
        }

        result ^= result >> 37;
        result *= PrimeMx1;
        return result ^ (result >> 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe ulong ReadLittleEndian(byte* p)
    {
        ulong value = Unsafe.ReadUnaligned<ulong>(p);
        return BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);
    }

    /// <summary>Small enough to be inlined into the hot paths; the throw is out of line.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckFrame(ReadOnlySpan<byte> frame)
    {
        if (frame.Length != FrameSize)
            ThrowNotAFrame(frame.Length);
    }

    [DoesNotReturn]
    private static void ThrowNotAFrame(int length)
        => throw new ArgumentException($"a frame is {FrameSize} bytes, not {length}", "frame");
}
