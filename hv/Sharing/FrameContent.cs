namespace MiniHv.Hv.Sharing;

/// <summary>What a guest frame holds, as its guest's image and page tables tell it.</summary>
public enum FrameContent
{
    /// <summary>An executable segment of the kernel image.</summary>
    KernelText,

    /// <summary>The kernel image's other segments: data, bss, and read-only data where it has a segment of its own.</summary>
    KernelData,

    /// <summary>Memory only the kernel maps: its heap, page arrays, free pages.</summary>
    KernelOther,

    /// <summary>
    /// A page of a file in the guest's Linux initramfs, by content, that no user mapping shows: the file's page
    /// cache in rootfs (or a copy of it the kernel keeps).
    /// </summary>
    InitramfsFile,

    /// <summary>A user page mapped read-only and not copy-on-write: program text and read-only data.</summary>
    UserText,

    /// <summary>A user page mapped writable or copy-on-write: program data, bss, heap.</summary>
    UserData,

    /// <summary>A user stack or exception stack page.</summary>
    Stack,

    /// <summary>A page directory or page table the shadow MMU was built from.</summary>
    PageTable,

    /// <summary>All zeros: put back on the zero frame by the sharing engine.</summary>
    Zero,
}
