/* A flat GDT, an IDT of interrupt gates, and the C side of trap dispatch. */
#include "kern.h"

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint32_t base;
};

/* null, ring-0 code 0x08 and ring-0 data 0x10, all base 0 limit 4 GiB */
static const uint64_t gdt[3] __attribute__((aligned(8))) = {
    0,
    0x00CF9A000000FFFFull,
    0x00CF92000000FFFFull,
};

static uint64_t idt[256] __attribute__((aligned(8)));
static trap_handler handlers[256];
extern const uint32_t trap_vectors[49];

void gdt_init(void)
{
    struct dtr d = { sizeof gdt - 1, (uint32_t)gdt };
    asm volatile(
        "lgdt %0\n\t"
        "ljmp %1, $1f\n"
        "1:\n\t"
        "movw %w2, %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        "movw %%ax, %%ss\n\t"
        : : "m"(d), "i"(KERNEL_CS), "i"(KERNEL_DS) : "eax", "memory");
}

static void set_gate(int vector, uint32_t addr, int dpl)
{
    /* 32-bit interrupt gate: present, type 0xE */
    uint32_t lo = (KERNEL_CS << 16) | (addr & 0xFFFF);
    uint32_t hi = (addr & 0xFFFF0000) | 0x8E00 | (dpl << 13);
    idt[vector] = ((uint64_t)hi << 32) | lo;
}

void idt_init(void)
{
    for (int v = 0; v < 48; v++)
        set_gate(v, trap_vectors[v], 0);
    set_gate(0x80, trap_vectors[48], 3);
    idt_load();
}

void idt_load(void)
{
    struct dtr d = { sizeof idt - 1, (uint32_t)idt };
    asm volatile("lidt %0" : : "m"(d));
}

void set_handler(int vector, trap_handler h)
{
    handlers[vector & 0xFF] = h;
}

void trap(struct trapframe *tf)
{
    trap_handler h = handlers[tf->vector & 0xFF];
    if (h) {
        h(tf);
        return;
    }
    kprintf("unexpected trap: vector %u err 0x%x eip 0x%08x\n", tf->vector, tf->err, tf->eip);
    qemu_exit(0x10);    /* any status but 1 tells the recorder this run failed */
}
