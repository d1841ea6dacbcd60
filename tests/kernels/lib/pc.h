/* The PC's interrupt controllers and firmware tables, through their documented registers
   (Intel SDM vol. 3 ch. 10 for the local APIC, the 82093AA datasheet for the I/O APIC,
   the MultiProcessor Specification 1.4 for the MP tables). */
#ifndef PC_H
#define PC_H

#include <stdint.h>

/* A 16-bit word of low memory (the BIOS data area), read so that gcc does not
   take the constant address for an out-of-bounds pointer. */
static inline uint16_t bda_word(uint32_t addr)
{
    uint16_t v;
    asm volatile("movw (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

/* A pointer to physical address 'addr' that gcc cannot see through (low constants would warn). */
static inline volatile uint32_t *phys32(uint32_t addr)
{
    asm("" : "+r"(addr));
    return (volatile uint32_t *)addr;
}

/* ---- local APIC, memory-mapped at its reset base ---- */
#define LAPIC_BASE   0xFEE00000u
#define LAPIC_ID     0x020
#define LAPIC_VER    0x030
#define LAPIC_TPR    0x080
#define LAPIC_EOI    0x0B0
#define LAPIC_SVR    0x0F0      /* bit 8: software enable */
#define LAPIC_LDR    0x0D0      /* logical destination: bits 31-24 in the flat model */
#define LAPIC_DFR    0x0E0      /* destination format: all ones for the flat model */
#define LAPIC_ISR    0x100      /* in service, 8 registers 0x10 apart */
#define LAPIC_ESR    0x280
#define LAPIC_ICRLO  0x300
#define LAPIC_ICRHI  0x310
#define LAPIC_TIMER  0x320      /* LVT timer: bit 17 periodic, bit 16 masked */
#define LAPIC_LINT0  0x350
#define LAPIC_LINT1  0x360
#define LAPIC_ERROR  0x370
#define LAPIC_TICR   0x380      /* initial count */
#define LAPIC_TCCR   0x390      /* current count */
#define LAPIC_TDCR   0x3E0      /* divide configuration */
#define LVT_MASKED   (1u << 16)
#define LVT_PERIODIC (1u << 17)

uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t value);
void lapic_eoi(void);
/* The divide configuration register's encoding of 1, 2, 4, ... 128. */
uint32_t lapic_divide_code(uint32_t divide);

/* ---- I/O APIC: an index register and a data window ---- */
#define IOAPIC_BASE  0xFEC00000u
#define IOAPIC_ID    0x00
#define IOAPIC_VER   0x01
#define IOAPIC_REDTBL(pin) (0x10 + 2 * (pin))

uint32_t ioapic_read(uint32_t reg);
void ioapic_write(uint32_t reg, uint32_t value);
/* Pin to vector on the APIC 'dest': fixed delivery, physical, edge, active high, unmasked. */
void ioapic_route(int pin, int vector, int dest);
void ioapic_mask(int pin);

/* ---- MP tables ---- */
struct mp_float {               /* "_MP_", 16 bytes, on a 16-byte boundary */
    char signature[4];
    uint32_t config;            /* physical address of the configuration table */
    uint8_t length;             /* in 16-byte units: 1 */
    uint8_t revision;           /* 1 or 4 */
    uint8_t checksum;
    uint8_t type;               /* 0: there is a configuration table */
    uint8_t features[4];
} __attribute__((packed));

struct mp_config {              /* "PCMP" */
    char signature[4];
    uint16_t length;            /* of the base table, header included */
    uint8_t revision;
    uint8_t checksum;
    char oem[8];
    char product[12];
    uint32_t oem_table;
    uint16_t oem_length;
    uint16_t entries;
    uint32_t lapic_address;
    uint16_t ext_length;
    uint8_t ext_checksum;
    uint8_t reserved;
} __attribute__((packed));

#define MP_PROCESSOR 0          /* 20-byte entries; the others are 8 bytes */
#define MP_BUS       1
#define MP_IOAPIC    2
#define MP_IOINTR    3
#define MP_LINTR     4

/* Searches where the spec says (first KiB of the EBDA, last KiB of base memory, the
   BIOS ROM at 0xF0000) for a floating pointer with a good checksum; 0 if none. */
struct mp_float *mp_find(const char **where);
/* The bytes' sum modulo 256: 0 for a good table. */
uint8_t mp_sum(const void *p, uint32_t len);
/* The I/O APIC pin of ISA IRQ 'irq' by the MP table's interrupt entries, or 'irq' if none. */
int mp_isa_pin(struct mp_config *c, int irq);

/* ---- 8254 channel 0 on IRQ 0 ---- */
#define PIT_HZ 1193182u
void pit_periodic(uint32_t hz);

#endif
