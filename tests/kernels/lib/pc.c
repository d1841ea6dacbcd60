/* Local APIC, I/O APIC, MP table search and the PIT, shared by the PC test kernels. */
#include "kern.h"
#include "pc.h"

uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t *)(LAPIC_BASE + reg); }

void lapic_write(uint32_t reg, uint32_t value)
{
    *(volatile uint32_t *)(LAPIC_BASE + reg) = value;
    (void)lapic_read(LAPIC_ID);         /* the SDM's habit: a read makes the write take effect */
}

void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

uint32_t lapic_divide_code(uint32_t divide)
{
    /* Bits 0, 1 and 3: 0b000 = 2, 0b001 = 4, 0b010 = 8, 0b011 = 16, 0b1000 = 32 ... 0b1011 = 1. */
    switch (divide) {
    case 1:   return 0xB;
    case 2:   return 0x0;
    case 4:   return 0x1;
    case 8:   return 0x2;
    case 16:  return 0x3;
    case 32:  return 0x8;
    case 64:  return 0x9;
    default:  return 0xA;               /* 128 */
    }
}

uint32_t ioapic_read(uint32_t reg)
{
    *(volatile uint32_t *)IOAPIC_BASE = reg;
    return *(volatile uint32_t *)(IOAPIC_BASE + 0x10);
}

void ioapic_write(uint32_t reg, uint32_t value)
{
    *(volatile uint32_t *)IOAPIC_BASE = reg;
    *(volatile uint32_t *)(IOAPIC_BASE + 0x10) = value;
}

void ioapic_route(int pin, int vector, int dest)
{
    ioapic_write(IOAPIC_REDTBL(pin) + 1, (uint32_t)dest << 24);
    ioapic_write(IOAPIC_REDTBL(pin), (uint32_t)vector);
}

void ioapic_mask(int pin) { ioapic_write(IOAPIC_REDTBL(pin), 1u << 16); }

uint8_t mp_sum(const void *p, uint32_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum += b[i];
    return sum;
}

static struct mp_float *mp_scan(uint32_t start, uint32_t len)
{
    for (uint32_t a = start; a + 16 <= start + len; a += 16) {
        struct mp_float *f = (struct mp_float *)a;
        if (f->signature[0] == '_' && f->signature[1] == 'M' && f->signature[2] == 'P' && f->signature[3] == '_'
            && mp_sum(f, 16u * f->length) == 0)
            return f;
    }
    return 0;
}

struct mp_float *mp_find(const char **where)
{
    struct mp_float *f;
    uint32_t ebda = (uint32_t)bda_word(0x40E) << 4;
    uint32_t base_kib = bda_word(0x413);
    if (ebda != 0 && (f = mp_scan(ebda, 1024)) != 0) {
        *where = "the EBDA's first KiB";
        return f;
    }
    if ((f = mp_scan(base_kib * 1024 - 1024, 1024)) != 0) {
        *where = "base memory's last KiB";
        return f;
    }
    *where = "the BIOS ROM";
    return mp_scan(0xF0000, 0x10000);
}

void pit_periodic(uint32_t hz)
{
    uint32_t divisor = (PIT_HZ + hz / 2) / hz;
    outb(0x43, 0x34);                   /* channel 0, lobyte/hibyte, mode 2 */
    outb(0x40, divisor & 0xFF);
    outb(0x40, divisor >> 8);
}

int mp_isa_pin(struct mp_config *c, int irq)
{
    int isa = -1;
    uint8_t *p = (uint8_t *)(c + 1);
    for (uint32_t i = 0; i < c->entries; i++) {
        if (*p == MP_PROCESSOR) {
            p += 20;
            continue;
        }
        if (*p == MP_BUS && p[2] == 'I' && p[3] == 'S' && p[4] == 'A')
            isa = p[1];
        /* I/O interrupt entry: type INT (byte 1 = 0), source bus, source IRQ, destination pin */
        if (*p == MP_IOINTR && p[1] == 0 && p[4] == isa && p[5] == irq)
            return p[7];
        p += 8;
    }
    return irq;
}
