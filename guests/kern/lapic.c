/*
 * The jos-lapic flavour's interrupt hardware (make builds build/jos-lapic.elf with -DJOS_LAPIC):
 * the MP table says where the local APIC and the I/O APIC are and which I/O APIC pin COM1 is
 * wired to; the local APIC timer ticks at TIMER_HZ instead of the PIT; the I/O APIC delivers
 * COM1's interrupts instead of the 8259A.  Registers as the Intel SDM (vol. 3, ch. 10), the
 * 82093AA datasheet and the MultiProcessor Specification 1.4 describe them.
 */
#include "kern.h"

#ifndef TIMER_HZ
#define TIMER_HZ	100
#endif

/* The APIC timer counts the bus clock: 1 GHz on QEMU and on MiniHv.  A kernel for real hardware
 * would measure it against the PIT first. */
#define BUS_HZ		1000000000u
#define TIMER_DIVIDE	16
#define TIMER_DIVIDE_CODE 0x3

/* Local APIC registers, as byte offsets. */
#define LAPIC_ID	0x020
#define LAPIC_EOI	0x0B0
#define LAPIC_SVR	0x0F0
#define LAPIC_TPR	0x080
#define LAPIC_TIMER	0x320
#define LAPIC_LINT0	0x350
#define LAPIC_LINT1	0x360
#define LAPIC_TICR	0x380
#define LAPIC_TDCR	0x3E0
#define LVT_MASKED	(1u << 16)
#define LVT_PERIODIC	(1u << 17)

#define IOAPIC_REDTBL(pin) (0x10 + 2 * (pin))

struct mp_float {
	char signature[4];		/* "_MP_" */
	uint32_t config;
	uint8_t length, revision, checksum, type;
	uint8_t features[4];
} __attribute__((packed));

struct mp_config {
	char signature[4];		/* "PCMP" */
	uint16_t length;
	uint8_t revision, checksum;
	char oem[20];
	uint32_t oem_table;
	uint16_t oem_length, entries;
	uint32_t lapic_address;
	uint16_t ext_length;
	uint8_t ext_checksum, reserved;
} __attribute__((packed));

static physaddr_t lapic_pa, ioapic_pa;
static int com1_pin = IRQ_COM1;
static volatile uint32_t *lapic;
static volatile uint32_t *ioapic;

/* The sum of len bytes at p, modulo 256: 0 for a good MP structure. */
static uint8_t sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s += b[i];
	return s;
}

/* The floating pointer in [pa, pa+len), or NULL. */
static struct mp_float *mp_search(physaddr_t pa, size_t len)
{
	for (physaddr_t a = pa; a + sizeof(struct mp_float) <= pa + len; a += 16) {
		struct mp_float *f = KADDR(a);
		if (memcmp(f->signature, "_MP_", 4) == 0 && sum(f, sizeof(*f)) == 0)
			return f;
	}
	return NULL;
}

/* Where the MP spec says to look: the EBDA's first KiB, base memory's last KiB, the BIOS ROM. */
static struct mp_float *mp_find(void)
{
	uint8_t *bda = KADDR(0x400);
	physaddr_t ebda = (physaddr_t)(bda[0x0F] << 8 | bda[0x0E]) << 4;
	physaddr_t base_kib = bda[0x14] << 8 | bda[0x13];
	struct mp_float *f;
	if (ebda && (f = mp_search(ebda, 1024)))
		return f;
	if ((f = mp_search(base_kib * 1024 - 1024, 1024)))
		return f;
	return mp_search(0xF0000, 0x10000);
}

/* Reads the MP configuration table: the APICs' addresses and COM1's I/O APIC pin. */
void mp_init(void)
{
	struct mp_float *f = mp_find();
	if (f == NULL || f->config == 0)
		panic("jos-lapic: no MP configuration table");
	struct mp_config *c = KADDR(f->config);
	if (memcmp(c->signature, "PCMP", 4) != 0 || sum(c, c->length) != 0)
		panic("jos-lapic: bad MP configuration table");
	lapic_pa = c->lapic_address;
	int isa = -1;
	uint8_t *p = (uint8_t *)(c + 1);
	for (int i = 0; i < c->entries; i++) {
		switch (p[0]) {
		case 0:				/* processor: 20 bytes */
			p += 20;
			continue;
		case 1:				/* bus */
			if (memcmp(p + 2, "ISA", 3) == 0)
				isa = p[1];
			break;
		case 2:				/* I/O APIC */
			ioapic_pa = *(uint32_t *)(p + 4);
			break;
		case 3:				/* I/O interrupt: INT from an ISA IRQ */
			if (p[1] == 0 && p[4] == isa && p[5] == IRQ_COM1)
				com1_pin = p[7];
			break;
		}
		p += 8;
	}
	if (ioapic_pa == 0)
		panic("jos-lapic: the MP table lists no I/O APIC");
}

/* Maps one page of device registers at va, uncached, into the kernel's page tables. */
static volatile uint32_t *mmio_map(uintptr_t va, physaddr_t pa)
{
	pte_t *pte = pgdir_walk(kern_pgdir, (void *)va, 1);
	if (pte == NULL)
		panic("jos-lapic: out of memory mapping the APICs");
	*pte = pa | PTE_P | PTE_W | PTE_PCD | PTE_PWT;
	invlpg((void *)va);
	return (volatile uint32_t *)va;
}

static void lapic_write(int reg, uint32_t v)
{
	lapic[reg / 4] = v;
	(void)lapic[LAPIC_ID / 4];	/* wait for the write to finish, as the SDM suggests */
}

static void ioapic_write(int reg, uint32_t v)
{
	ioapic[0] = reg;		/* IOREGSEL */
	ioapic[4] = v;			/* IOWIN, at +0x10 */
}

void lapic_init(void)
{
	lapic = mmio_map(MMIOBASE, lapic_pa);
	ioapic = mmio_map(MMIOBASE + PGSIZE, ioapic_pa);

	/* Enabled; its spurious vector is the PIC's (trap.c sends it no EOI). */
	lapic_write(LAPIC_SVR, 0x100 | (IRQ_OFFSET + IRQ_SPURIOUS));
	lapic_write(LAPIC_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LINT1, LVT_MASKED);
	lapic_write(LAPIC_TPR, 0);

	lapic_write(LAPIC_TDCR, TIMER_DIVIDE_CODE);
	lapic_write(LAPIC_TIMER, LVT_PERIODIC | (IRQ_OFFSET + IRQ_TIMER));
	lapic_write(LAPIC_TICR, BUS_HZ / TIMER_DIVIDE / TIMER_HZ);

	/* COM1 to this CPU: fixed, physical destination, edge, active high. */
	uint32_t id = lapic[LAPIC_ID / 4] >> 24;
	ioapic_write(IOAPIC_REDTBL(com1_pin) + 1, id << 24);
	ioapic_write(IOAPIC_REDTBL(com1_pin), IRQ_OFFSET + IRQ_COM1);
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}
