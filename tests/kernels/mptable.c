/* mptable: find the MP floating pointer where the MP spec says a kernel must look, check both
   checksums, print every entry of the configuration table, and check that the processor entry's
   APIC ID is the local APIC's and the I/O APIC entry's ID and address are the I/O APIC's. */
#include "kern.h"
#include "pc.h"

static const char *lint_type[] = { "INT", "NMI", "SMI", "ExtINT" };

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    kprintf("mptable: EBDA segment 0x%x, base memory %uK\n", bda_word(0x40E), bda_word(0x413));

    const char *where;
    struct mp_float *f = mp_find(&where);
    if (!f) {
        kprintf("mptable: no MP floating pointer\n");
        qemu_exit(2);
    }
    kprintf("mptable: floating pointer in %s, revision 1.%u, checksum ok, feature byte 1 = %u\n",
            where, f->revision, f->features[0]);
    struct mp_config *c = (struct mp_config *)f->config;
    int sig = c->signature[0] == 'P' && c->signature[1] == 'C' && c->signature[2] == 'M' && c->signature[3] == 'P';
    kprintf("mptable: configuration table %s, %u bytes, checksum %s, %u entries, local APIC at 0x%08x\n",
            sig ? "PCMP" : "without its signature", c->length, mp_sum(c, c->length) == 0 ? "ok" : "BAD",
            c->entries, c->lapic_address);

    uint32_t my_id = lapic_read(LAPIC_ID) >> 24;
    uint32_t ioapic_id = (ioapic_read(IOAPIC_ID) >> 24) & 0xF;
    int processors = 0, ioapics = 0, irqs = 0, good = sig && mp_sum(c, c->length) == 0;
    uint8_t *p = (uint8_t *)(c + 1), *end = (uint8_t *)c + c->length;
    for (uint32_t i = 0; i < c->entries && p < end; i++) {
        switch (*p) {
        case MP_PROCESSOR:
            processors++;
            kprintf("  processor: APIC ID %u, version 0x%x,%s%s signature 0x%x\n", p[1], p[2],
                    (p[3] & 1) ? " enabled," : " disabled,", (p[3] & 2) ? " bootstrap," : "", *(uint32_t *)(p + 4));
            if (p[1] != my_id)
                good = 0;
            p += 20;
            break;
        case MP_BUS:
            kprintf("  bus %u: %c%c%c%c%c%c\n", p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
            p += 8;
            break;
        case MP_IOAPIC:
            ioapics++;
            kprintf("  I/O APIC: ID %u, version 0x%x, at 0x%08x\n", p[1], p[2], *(uint32_t *)(p + 4));
            if (p[1] != ioapic_id || *(uint32_t *)(p + 4) != IOAPIC_BASE)
                good = 0;
            p += 8;
            break;
        case MP_IOINTR:
            irqs++;
            kprintf("  I/O interrupt: %s, bus %u IRQ %u -> I/O APIC %u pin %u\n", lint_type[p[1] & 3], p[4], p[5], p[6], p[7]);
            p += 8;
            break;
        case MP_LINTR:
            kprintf("  local interrupt: %s, -> LINT%u of APIC 0x%x\n", lint_type[p[1] & 3], p[7], p[6]);
            p += 8;
            break;
        default:
            kprintf("  unknown entry type %u\n", *p);
            good = 0;
            p = end;
            break;
        }
    }
    kprintf("mptable: %d processor, %d I/O APIC, %d I/O interrupts; local APIC ID %u, I/O APIC ID %u: %s\n",
            processors, ioapics, irqs, my_id, ioapic_id, good && processors == 1 && ioapics == 1 ? "ok" : "MISMATCH");
    qemu_exit(good ? 0 : 3);
}
