/* memfill: fill all RAM above 2 MiB with words that depend on this guest's seed
   and on the address, then read everything back twice.  Several guests run it
   side by side with different seeds to show that none sees another's bytes. */
#include "kern.h"

#define FILL_START 0x200000u

/* The value of the word at addr for this seed: a cheap, well-mixed hash. */
static uint32_t pattern(uint32_t seed, uint32_t addr)
{
    uint32_t x = addr * 0x9E3779B1u ^ seed * 0x85EBCA77u;
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    x ^= x >> 12;
    return x;
}

/* seed=N from the command line, or 1. */
static uint32_t seed_from(const char *cmdline)
{
    for (const char *p = cmdline; *p; p++) {
        if ((p == cmdline || p[-1] == ' ') && p[0] == 's' && p[1] == 'e' && p[2] == 'e' && p[3] == 'd' && p[4] == '=') {
            uint32_t n = 0;
            for (p += 5; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (uint32_t)(*p - '0');
            return n;
        }
    }
    return 1;
}

static uint32_t verify(uint32_t seed, uint32_t end, uint32_t *sum)
{
    uint32_t bad = 0;
    *sum = 0;
    for (uint32_t a = FILL_START; a < end; a += 4) {
        uint32_t v = *(volatile uint32_t *)a;
        *sum = (*sum << 1 | *sum >> 31) ^ v;
        if (v != pattern(seed, a)) {
            if (bad < 4)
                kprintf("memfill: MISMATCH at %x: %x, expected %x\n", a, v, pattern(seed, a));
            bad++;
        }
    }
    return bad;
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    serial_init();
    uint32_t seed = seed_from((const char *)mbi->cmdline);
    uint32_t end = 0x100000u + mbi->mem_upper * 1024u;
    kprintf("memfill: seed %u, filling %x-%x\n", seed, FILL_START, end - 1);
    for (uint32_t a = FILL_START; a < end; a += 4)
        *(volatile uint32_t *)a = pattern(seed, a);
    uint32_t sum1, sum2;
    uint32_t bad = verify(seed, end, &sum1);
    bad += verify(seed, end, &sum2);
    kprintf("memfill: %u KiB checked twice, %u mismatches, checksum %x\n", (end - FILL_START) / 1024, bad, sum1);
    qemu_exit(sum1 == sum2 && bad == 0 ? 0 : 1);
}
