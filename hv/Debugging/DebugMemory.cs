using MiniHv.Hv.Machine;

namespace MiniHv.Hv.Debugging;

/// <summary>
/// A debugger's view of a guest's memory by linear address, as QEMU's gdbstub gives it: through the guest's
/// own page tables, without setting Accessed or Dirty and without faults, ignoring the pages' protection.
/// A write takes the store path of the guest-physical memory, so a shared frame is broken for this guest only
/// (copy-on-write), and then tells whoever caches the frame: the decoded-block cache and, for a guest page
/// table, the shadow MMU, exactly as after a guest's own store.
/// </summary>
/// <remarks>Only on the guest's thread, with its CPU stopped.</remarks>
public static class DebugMemory
{
    /// <summary>Reads up to <paramref name="length"/> bytes from <paramref name="linear"/> as <paramref name="cpu"/> (default the boot processor) maps it; fewer when an unmapped page comes first.</summary>
    public static byte[] Read(Vm vm, uint linear, int length, MiniHv.Cpu.Cpu? cpu = null)
    {
        cpu ??= vm.Cpu;
        var result = new byte[length];
        int done = 0;
        while (done < length)
        {
            uint at = linear + (uint)done;
            if (!cpu.TryTranslateQuiet(at, out uint physical) || !vm.Memory.IsRam(physical))
                break;
            int n = Math.Min(length - done, 0x1000 - (int)(at & 0xFFF));
            vm.Memory.Read(physical, result.AsSpan(done, n));
            done += n;
        }

        return done == length ? result : result[..done];
    }

    /// <summary>Writes <paramref name="bytes"/> at <paramref name="linear"/>; false (with nothing written) when a page is unmapped.</summary>
    public static bool Write(Vm vm, uint linear, ReadOnlySpan<byte> bytes, MiniHv.Cpu.Cpu? cpu = null)
    {
        cpu ??= vm.Cpu;
        // Translate every page first, so that a write either happens whole or not at all.
        for (long checkedBytes = 0; checkedBytes < bytes.Length;)
        {
            uint at = linear + (uint)checkedBytes;
            if (!cpu.TryTranslateQuiet(at, out uint physical) || !vm.Memory.IsRam(physical))
                return false;
            checkedBytes += 0x1000 - (at & 0xFFF);
        }

        int done = 0;
        while (done < bytes.Length)
        {
            uint at = linear + (uint)done;
            cpu.TryTranslateQuiet(at, out uint physical);
            int n = Math.Min(bytes.Length - done, 0x1000 - (int)(at & 0xFFF));
            vm.Memory.Write(physical, bytes.Slice(done, n)); // breaks a shared or zero frame for this guest
            uint gfn = physical >> 12;
            vm.Cpu.NotifyFrameWritten(gfn);
            if (vm.Shadow is { } shadow && shadow.IsGuestTable(gfn))
                shadow.WriteCompleted(at, physical, n);
            done += n;
        }

        return true;
    }
}
