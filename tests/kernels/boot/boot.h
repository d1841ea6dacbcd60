/* What stage 2 needs: port I/O and the ELF32 headers it loads a kernel by. */
#ifndef BOOT_H
#define BOOT_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void insw(uint16_t port, void *dst, uint32_t words)
{
    asm volatile("cld; rep insw" : "+D"(dst), "+c"(words) : "d"(port) : "memory");
}

/* A pointer to physical address 'addr' that gcc cannot see through (low constants would warn). */
static inline volatile uint8_t *phys(uint32_t addr)
{
    asm("" : "+r"(addr));
    return (volatile uint8_t *)addr;
}

#define ELF_MAGIC 0x464C457Fu           /* "\x7FELF" */
#define PT_LOAD   1

struct elf_header {
    uint32_t magic;
    uint8_t ident[12];
    uint16_t type, machine;
    uint32_t version, entry, phoff, shoff, flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf_program_header {
    uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
};

#endif
