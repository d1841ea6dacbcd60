/* physscan: look at the whole physical address space from inside one guest.
   Its own RAM above 2 MiB was never written, so it must read as zeros (never
   another guest's bytes); every page above RAM up to the device area at
   0xFE000000 is written and read back, and must read as zeros (a hole, as
   QEMU's unassigned memory) after the write.  Prints how many words broke either rule. */
#include "kern.h"

#define SCAN_START 0x200000u
#define DEVICES    0xFE000000u   /* LAPIC, IOAPIC, firmware: not scanned */

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    serial_init();
    uint32_t end = 0x100000u + mbi->mem_upper * 1024u;
    /* The top 128 KiB the memory map reserves is RAM too. */
    uint32_t ram_end = (end + 0x20000u + 0xFFFFFu) & ~0xFFFFFu;

    uint32_t nonzero = 0;
    for (uint32_t a = SCAN_START; a < ram_end; a += 4)
        if (*(volatile uint32_t *)a != 0)
            nonzero++;

    uint32_t not_hole = 0, pages = 0;
    for (uint32_t a = ram_end; a < DEVICES; a += 0x1000) {
        volatile uint32_t *p = (volatile uint32_t *)a;
        p[0] = 0x5A5A5A5Au;
        p[1023] = a;
        if (p[0] != 0 || p[1023] != 0)
            not_hole++;
        pages++;
    }

    kprintf("physscan: RAM %x-%x: %u nonzero words; %u pages above RAM: %u not a hole\n",
            SCAN_START, ram_end - 1, nonzero, pages, not_hole);
    qemu_exit(nonzero == 0 && not_hole == 0 ? 0 : 1);
}
