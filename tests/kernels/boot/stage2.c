/* Stage 2 of the test boot disk, in 32-bit protected mode at 0x8000: check that the A20 gate is
   open, load the ELF kernel that starts at disk sector 16 through the IDE ports (each PT_LOAD
   segment to its physical address, the rest of its memory zeroed), and enter it with EAX = 0 (no
   multiboot) and EBX = the BIOS drive number the boot sector was started with. */
#include "boot.h"

#define KERNEL_LBA 16
#define BOOT_DRIVE 0x500
#define SCRATCH    0x10000              /* the ELF headers are read here */

static void putc(char c) { outb(0x3F8, c); }

static void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

/* One sector at a time, polled, from the master drive. */
static void read_sectors(uint8_t *dst, uint32_t lba, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++, lba++, dst += 512) {
        while (inb(0x1F7) & 0x80)
            ;
        outb(0x1F6, 0xE0 | ((lba >> 24) & 0x0F));
        outb(0x1F2, 1);
        outb(0x1F3, lba);
        outb(0x1F4, lba >> 8);
        outb(0x1F5, lba >> 16);
        outb(0x1F7, 0x20);
        while ((inb(0x1F7) & 0x88) != 0x08)    /* until not busy and data requested */
            ;
        insw(0x1F0, dst, 256);
    }
}

/* Bytes [offset, offset + n) of the kernel image to 'pa'; may write up to 511 bytes below 'pa'. */
static void read_image(uint32_t pa, uint32_t offset, uint32_t n)
{
    uint8_t *dst = (uint8_t *)(pa - offset % 512);
    uint32_t first = offset / 512, last = (offset + n + 511) / 512;
    read_sectors(dst, KERNEL_LBA + first, last - first);
}

__attribute__((section(".text.entry"), noreturn)) void stage2_main(void)
{
    volatile uint32_t *low = (volatile uint32_t *)phys(0x600), *high = (volatile uint32_t *)phys(0x100600);
    *low = 0x11111111;
    *high = 0x22222222;
    puts(*low == 0x11111111 ? "stage2: protected mode, A20 open\n" : "stage2: protected mode, A20 CLOSED\n");

    struct elf_header *elf = (struct elf_header *)SCRATCH;
    read_sectors((uint8_t *)elf, KERNEL_LBA, 8);
    if (elf->magic != ELF_MAGIC) {
        puts("stage2: no ELF kernel at sector 16\n");
        for (;;)
            asm volatile("hlt");
    }
    struct elf_program_header *ph = (struct elf_program_header *)(SCRATCH + elf->phoff);
    for (int i = 0; i < elf->phnum; i++, ph++) {
        if (ph->type != PT_LOAD)
            continue;
        read_image(ph->paddr, ph->offset, ph->filesz);
        for (uint8_t *p = (uint8_t *)ph->paddr + ph->filesz; p < (uint8_t *)ph->paddr + ph->memsz; p++)
            *p = 0;
    }
    puts("stage2: kernel loaded, entering it\n");
    uint32_t drive = *phys(BOOT_DRIVE);
    asm volatile("jmp *%2" : : "a"(0), "b"(drive), "r"(elf->entry));
    __builtin_unreachable();
}
