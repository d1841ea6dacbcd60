/* hello: print what the multiboot loader handed over, then exit. */
#include "kern.h"

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    serial_init();
    kprintf("hello: MiniHv test kernel\n");
    kprintf("magic 0x%08x (%s)\n", magic,
            magic == MULTIBOOT_BOOTLOADER_MAGIC ? "multiboot" : "unexpected");
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
        qemu_exit(0x11);

    kprintf("flags 0x%08x\n", mbi->flags);
    if (mbi->flags & (1u << 0))
        kprintf("mem_lower %u KiB, mem_upper %u KiB\n", mbi->mem_lower, mbi->mem_upper);
    else
        kprintf("no memory info\n");

    if (mbi->flags & (1u << 2)) {
        /* QEMU (like GRUB) puts the image's path first on the command line.
           Print only the file name of that first word, so the transcript does
           not depend on where the image was built, then the rest verbatim. */
        const char *s = (const char *)mbi->cmdline;
        const char *name = s;
        while (*s && *s != ' ') {
            if (*s == '/')
                name = s + 1;
            s++;
        }
        kprintf("image \"");
        while (name < s)
            serial_putc(*name++);
        kprintf("\"\n");
        if (*s == ' ')
            s++;
        kprintf("args \"%s\"\n", s);
    } else {
        kprintf("no command line\n");
    }

    if (mbi->flags & (1u << 3))
        kprintf("modules %u\n", mbi->mods_count);

    if (mbi->flags & (1u << 6)) {
        kprintf("memory map, %u bytes:\n", mbi->mmap_length);
        uint32_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
        while (p < end) {
            const struct multiboot_mmap_entry *e = (const void *)p;
            uint64_t last = e->addr + e->len - 1;
            kprintf("  %08x%08x-%08x%08x type %u\n",
                    (uint32_t)(e->addr >> 32), (uint32_t)e->addr,
                    (uint32_t)(last >> 32), (uint32_t)last, e->type);
            p += e->size + 4;
        }
    } else {
        kprintf("no memory map\n");
    }

    kprintf("bye\n");
    qemu_exit(0);
}
