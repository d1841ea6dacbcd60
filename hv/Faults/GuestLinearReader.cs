using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Faults;

/// <summary>
/// Reads guest memory at a linear address without side effects: no Accessed or Dirty bits, no fault, no
/// frame allocated. Fills <paramref name="destination"/> from its start and returns how many bytes it read,
/// stopping at the first byte that is not mapped or not RAM. Never throws for any address.
/// </summary>
public delegate int GuestLinearReader(uint linear, Span<byte> destination);

/// <summary>Translates a linear address without side effects, as <c>Cpu.TryTranslateQuiet</c> does; false when unmapped.</summary>
public delegate bool QuietTranslator(uint linear, out uint physical);

/// <summary>A <see cref="GuestLinearReader"/> over a quiet translation and a guest's RAM.</summary>
public static class QuietLinearReader
{
    private const int PageSize = 4096;

    /// <summary>
    /// Reads page by page through <paramref name="translate"/> (for a CPU: <c>cpu.TryTranslateQuiet</c>) from
    /// <paramref name="memory"/>. A page whose translation lands outside RAM ends the read, so a wild page
    /// table never reads as the all-ones of an unclaimed bus.
    /// </summary>
    public static GuestLinearReader Create(QuietTranslator translate, GuestPhysicalMemory memory)
    {
        ArgumentNullException.ThrowIfNull(translate);
        ArgumentNullException.ThrowIfNull(memory);
        return (linear, destination) =>
        {
            int done = 0;
            while (done < destination.Length)
            {
                uint address = unchecked(linear + (uint)done);
                if (!translate(address, out uint physical) || !memory.IsRam(physical))
                    break;
                int n = Math.Min(destination.Length - done, PageSize - (int)(address & (PageSize - 1)));

                // The rest of this linear page is the rest of one guest frame: one copy.
                memory.Read(physical, destination.Slice(done, n));
                done += n;
            }

            return done;
        };
    }
}
