using System.Runtime.InteropServices;
using MiniHv.Hv.Loader;
using MiniHv.Hv.Machine;
using MiniHv.Hv.Memory;

namespace MiniHv.Hv.Sharing;

/// <summary>
/// Says what the frames the sharing engine merged hold, from each guest's own kernel image and page tables:
/// KSM cannot tell what it shares; a hypervisor that sees the guests' tables can.
/// </summary>
/// <remarks>
/// A frame is kernel text or data when a segment of the kernel image was loaded there (for a Linux guest, where its
/// System.map says the unpacked kernel lies, <see cref="LinuxSystemMap"/>, and without one nowhere); a page table when a
/// shadow was built from it; user text, data or stack when a user-accessible mapping in one of the guest's
/// address spaces (its CR3 and every directory the shadow MMU keeps) points at it; else kernel memory. Stacks
/// and the user half follow the layout of this repository's JOS-style guests (guests/inc/memlayout.h: user
/// stacks in 0xEE000000-0xEEFFFFFF, read-only kernel views from 0xEF000000); for other kernels, user pages
/// below 0xEE000000 count as text or data by their permissions. A merged frame left as kernel memory whose bytes
/// are a page of a file in the guest's initramfs (<see cref="InitramfsPages"/>) is that file's page cache.
/// </remarks>
public static class SharedContentAttribution
{
    // Each initrd's pages, worked out once however many guests boot it and however often a run attributes.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<byte[], InitramfsPages> InitrdPages = new();

    private const uint StackRegion = 0xEE000000, KernelViews = 0xEF000000;
    private const uint P = 1, RW = 2, US = 4, PS = 0x80, Cow = 0x800;

    /// <summary>For every guest frame on a shared frame or put on the zero frame by the engine: how many hold what.</summary>
    /// <param name="kernels">
    /// Per guest, in <paramref name="vms"/>' order, where its kernel really lies when that is not where its image was
    /// loaded (a Linux guest's System.map), or null (the list or an entry) for the loaded image's segments.
    /// </param>
    public static IReadOnlyDictionary<FrameContent, long> Attribute(IReadOnlyList<Vm> vms, SharingEngine engine,
        IReadOnlyList<IReadOnlyList<LoadSegment>?>? kernels = null)
    {
        var counts = Enum.GetValues<FrameContent>().ToDictionary(c => c, _ => 0L);
        Span<byte> frame = stackalloc byte[4096];
        for (int i = 0; i < vms.Count; i++)
        {
            Vm vm = vms[i];
            FrameContent[] content = Classify(vm, kernels?[i]);
            InitramfsPages? files = vm.Config.Initrd is ReadOnlyMemory<byte> initrd ? PagesOf(initrd) : null;
            foreach (var (gfn, zero) in engine.MergedFrames(vm.Memory))
            {
                FrameContent kind = zero ? FrameContent.Zero : content[gfn];
                if (kind == FrameContent.KernelOther && files != null)
                {
                    vm.Memory.PeekFrame(gfn, frame);
                    if (files.Contains(frame))
                        kind = FrameContent.InitramfsFile;
                }

                counts[kind]++;
            }
        }

        return counts;
    }

    private static InitramfsPages PagesOf(ReadOnlyMemory<byte> initrd)
        => System.Runtime.InteropServices.MemoryMarshal.TryGetArray(initrd, out ArraySegment<byte> array) && array.Offset == 0
           && array.Count == array.Array!.Length
            ? InitrdPages.GetValue(array.Array, bytes => InitramfsPages.Of(bytes))
            : InitramfsPages.Of(initrd);

    /// <summary>What each of a guest's frames holds, as far as its kernel's segments and its tables say.</summary>
    /// <param name="kernel">The kernel's segments, or null for those its image was loaded as.</param>
    public static FrameContent[] Classify(Vm vm, IReadOnlyList<LoadSegment>? kernel = null)
    {
        GuestPhysicalMemory memory = vm.Memory;
        var content = new FrameContent[memory.FrameCount];
        Array.Fill(content, FrameContent.KernelOther);
        // A bzImage's loaded segment is the compressed kernel, which unpacks itself elsewhere and is then overwritten:
        // without its System.map, a Linux guest's kernel is counted as kernel memory, not as text or data.
        foreach (var s in kernel ?? (vm.Linux != null ? [] : vm.KernelSegments))
        {
            for (long a = s.PhysicalAddress & ~0xFFFL; a < s.End && (a >> 12) < memory.FrameCount; a += 4096)
                content[a >> 12] = s.Executable ? FrameContent.KernelText : FrameContent.KernelData;
        }

        var directories = new HashSet<uint> { vm.Cpu.Cr3 >> 12 };
        if (vm.Shadow != null)
            directories.UnionWith(vm.Shadow.CachedDirectories);
        bool pse = (vm.Cpu.Cr4 & MiniHv.Cpu.Cpu.CR4_PSE) != 0;
        if (vm.Cpu.PagingEnabled)
        {
            foreach (uint directory in directories)
                ClassifyUserPages(memory, directory, pse, content);
        }

        for (uint gfn = 0; gfn < memory.FrameCount; gfn++)
        {
            if (vm.Shadow?.IsGuestTable(gfn) == true)
                content[gfn] = FrameContent.PageTable;
        }

        return content;
    }

    private static void ClassifyUserPages(GuestPhysicalMemory memory, uint directory, bool pse, FrameContent[] content)
    {
        if (directory >= memory.FrameCount)
            return;

        // Whole frames peeked, not entries read one by one: this runs on the scanner's thread beside the guest in a
        // parallel run, and a peek neither swaps a frame in nor otherwise changes the guest's memory.
        Span<byte> directoryBytes = stackalloc byte[MachineMemory.FrameSize];
        Span<byte> tableBytes = stackalloc byte[MachineMemory.FrameSize];
        memory.PeekFrame(directory, directoryBytes);
        ReadOnlySpan<uint> pdes = MemoryMarshal.Cast<byte, uint>(directoryBytes);
        ReadOnlySpan<uint> ptes = MemoryMarshal.Cast<byte, uint>(tableBytes);
        for (uint pdi = 0; pdi < (KernelViews >> 22); pdi++)
        {
            uint pde = pdes[(int)pdi];
            if ((pde & (P | US)) != (P | US) || (pse && (pde & PS) != 0))
                continue;
            uint table = pde >> 12;
            if (table >= memory.FrameCount)
                continue;
            memory.PeekFrame(table, tableBytes);
            for (uint pti = 0; pti < 1024; pti++)
            {
                uint pte = ptes[(int)pti];
                uint gfn = pte >> 12;
                if ((pte & (P | US)) != (P | US) || gfn >= memory.FrameCount)
                    continue;
                uint linear = (pdi << 22) | (pti << 12);
                content[gfn] = linear >= StackRegion ? FrameContent.Stack
                    : (pte & (RW | Cow)) != 0 && (pde & RW) != 0 ? FrameContent.UserData
                    : FrameContent.UserText;
            }
        }
    }
}
