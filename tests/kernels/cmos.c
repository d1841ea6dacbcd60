/* cmos: read the memory sizes the BIOS keeps in CMOS NVRAM and compare them
   with what the multiboot loader reports. */
#include "kern.h"

static uint8_t cmos_read(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static uint32_t cmos_word(uint8_t lo)
{
    return cmos_read(lo) | (uint32_t)cmos_read(lo + 1) << 8;
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    serial_init();
    kprintf("cmos: NVRAM memory size\n");

    uint32_t base = cmos_word(0x15);
    uint32_t ext = cmos_word(0x17);
    uint32_t ext2 = cmos_word(0x30);
    uint32_t high = cmos_word(0x34);
    kprintf("0x15/0x16 base memory        %u KiB (0x%04x)\n", base, base);
    kprintf("0x17/0x18 extended memory    %u KiB (0x%04x)\n", ext, ext);
    kprintf("0x30/0x31 extended memory    %u KiB (0x%04x)\n", ext2, ext2);
    kprintf("0x34/0x35 memory above 16M   %u x 64 KiB (0x%04x) = %u KiB\n", high, high, high * 64);
    if (high)
        kprintf("total from 0x34/0x35         %u KiB\n", 16 * 1024 + high * 64);
    else
        kprintf("total from 0x17/0x18         %u KiB\n", 1024 + ext);

    if (mbi->flags & 1)
        kprintf("multiboot mem_lower %u KiB, mem_upper %u KiB\n", mbi->mem_lower, mbi->mem_upper);
    else
        kprintf("multiboot: no memory info\n");
    qemu_exit(0);
}
