/* unassigned: physical memory that is neither RAM nor a device, read and written at a few addresses
   between the end of RAM and the PCI hole (0xE0000000 up, where QEMU's firmware places device BARs).
   QEMU reads 0 there and ignores writes; a real PC's open bus would read all ones. */
#include "kern.h"

static const uint32_t addresses[] = { 0x08000000, 0x10000000, 0x40000000, 0x80000000u, 0xC0000000u, 0xDFFFFFFCu };

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    serial_init();
    uint32_t ram_end = 0x100000u + mbi->mem_upper * 1024u;
    kprintf("unassigned: RAM ends below %x\n", ram_end + 0x20000u);
    for (unsigned i = 0; i < sizeof addresses / sizeof addresses[0]; i++) {
        volatile uint32_t *p = (volatile uint32_t *)addresses[i];
        uint32_t before = *p;
        *p = 0x5A5A5A5Au;
        uint32_t after = *p;
        uint8_t byte = *(volatile uint8_t *)p;
        uint16_t word = *(volatile uint16_t *)((uint32_t)p + 1);
        kprintf("%08x: read %08x, after a write %08x, byte %02x, word %04x\n",
                addresses[i], before, after, byte, word);
    }
    qemu_exit(0);
}
