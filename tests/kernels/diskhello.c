/* diskhello: the kernel on the test boot disk (build/bootdisk.img), entered by boot/stage2.c
   rather than by a multiboot loader: EAX = 0, EBX = the BIOS drive number the boot sector found in DL. */
#include "kern.h"
#include "pc.h"

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    uint32_t drive = (uint32_t)mbi;
    serial_init();
    kprintf("diskhello: %s, BIOS drive 0x%x\n", magic == MULTIBOOT_BOOTLOADER_MAGIC ? "booted by multiboot" : "booted from the disk",
            drive);
    uint32_t cr0 = read_cr0();
    kprintf("diskhello: CR0.PE %u, CR0.PG %u, running at %p\n", cr0 & 1, (cr0 >> 31) & 1, (void *)kmain);
    volatile uint32_t *low = phys32(0x200700), *high = phys32(0x300700);   /* differ only in bit 20 */
    *low = 1;
    *high = 2;
    kprintf("diskhello: A20 %s\n", *low == 1 ? "open" : "closed");
    const char *where;
    kprintf("diskhello: MP table %s\n", mp_find(&where) ? "found" : "missing");
    qemu_exit(magic == 0 && drive == 0x80 && *low == 1 ? 0 : 2);
}
