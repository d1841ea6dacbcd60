/* descr: LAR, LSL, VERR and VERW on one GDT slot holding, in turn, every system descriptor type and
   every code and data type, at DPL 0 and 3, through RPL 0 and 3.  One line per case: ZF and the value
   LAR or LSL loaded.  Two checks of the manual are not here because QEMU 7.2 does otherwise: ICEBP
   (0xF1) is #UD there, not #DB, and a read through an execute-only CS does not fault (TCG checks no
   segment rights on data accesses); MiniHv follows the manual in both, as in its limit checks. */
#include "kern.h"

#define SLOT_SEL 0x18

static uint64_t gdt[4] __attribute__((aligned(8))) = {
    0,
    0x00CF9A000000FFFFull,      /* 0x08: ring-0 code, as lib/desc.c's */
    0x00CF92000000FFFFull,      /* 0x10: ring-0 data */
    0,                          /* 0x18: the slot under test */
};

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint32_t base;
};

/* Base 0x123456, limit 0x6789A (byte granular), the access byte given, flags 4 (32-bit). */
static void fill_slot(uint8_t access)
{
    gdt[3] = (uint64_t)(0x00460012u | (uint32_t)access << 8) << 32 | 0x3456789Au;
}

static uint32_t lar(uint32_t sel, int *zf)
{
    uint32_t v = 0xEEEEEEEEu;
    uint8_t z;
    asm volatile("lar %2, %0\n\tsetz %1" : "+r"(v), "=q"(z) : "r"(sel) : "cc");
    *zf = z;
    return v;
}

static uint32_t lsl(uint32_t sel, int *zf)
{
    uint32_t v = 0xEEEEEEEEu;
    uint8_t z;
    asm volatile("lsl %2, %0\n\tsetz %1" : "+r"(v), "=q"(z) : "r"(sel) : "cc");
    *zf = z;
    return v;
}

static int verr(uint16_t sel)
{
    uint8_t z;
    asm volatile("verr %1\n\tsetz %0" : "=q"(z) : "r"(sel) : "cc");
    return z;
}

static int verw(uint16_t sel)
{
    uint8_t z;
    asm volatile("verw %1\n\tsetz %0" : "=q"(z) : "r"(sel) : "cc");
    return z;
}

static void check(uint8_t access)
{
    fill_slot(access);
    for (int rpl = 0; rpl <= 3; rpl += 3) {
        int lz, sz;
        uint32_t sel = SLOT_SEL | rpl;
        uint32_t l = lar(sel, &lz), s = lsl(sel, &sz);
        kprintf("access %02x rpl %d: lar %d %08x lsl %d %08x verr %d verw %d\n",
                access, rpl, lz, l, sz, s, verr(sel), verw(sel));
    }
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    gdt_init();
    idt_init();
    struct dtr d = { sizeof gdt - 1, (uint32_t)gdt };
    asm volatile("lgdt %0" : : "m"(d));

    for (int t = 0; t < 16; t++)
        check(0x80 | t);                /* system types, DPL 0 */
    for (int t = 0; t < 16; t++)
        check(0x90 | t);                /* data and code types, DPL 0 */
    for (int t = 0; t < 16; t++)
        check(0xF0 | t);                /* data and code types, DPL 3 */
    check(0xE9);                        /* a 32-bit TSS at DPL 3 */
    check(0xEC);                        /* a call gate at DPL 3 */
    check(0x12);                        /* not present */

    qemu_exit(0);
}
