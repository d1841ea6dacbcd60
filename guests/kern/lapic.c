/*
 * The jos-lapic flavour's interrupt hardware (make builds build/jos-lapic.elf with -DJOS_LAPIC):
 * the MP table says where the local APIC and the I/O APIC are and which I/O APIC pin COM1 is
 * wired to; the local APIC timer ticks at TIMER_HZ instead of the PIT; the I/O APIC delivers
 * COM1's interrupts instead of the 8259A.  jos-smp (-DJOS_SMP too) also takes the table's
 * processors, starts each CPU's timer, and sends INIT, STARTUP and fixed IPIs.  Registers as the
 * Intel SDM (vol. 3, ch. 10), the 82093AA datasheet and the MultiProcessor Specification 1.4
 * describe them.
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
#define LAPIC_ICRLO	0x300
#define LAPIC_ICRHI	0x310
#define LAPIC_TICR	0x380
#define LAPIC_TCCR	0x390
#define LAPIC_TDCR	0x3E0
#define LVT_MASKED	(1u << 16)
#define LVT_PERIODIC	(1u << 17)
#define TIMER_COUNT	(BUS_HZ / TIMER_DIVIDE / TIMER_HZ)

/* The interrupt command register's low word (SDM vol. 3, 10.6.1). */
#define ICR_FIXED	0x000
#define ICR_INIT	0x500
#define ICR_STARTUP	0x600
#define ICR_PENDING	(1u << 12)	/* delivery status: send pending */
#define ICR_ASSERT	(1u << 14)

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
#ifdef JOS_SMP
	uint8_t proc_id[NCPU + 1];
	bool proc_bsp[NCPU + 1];
	int nproc = 0;
#endif
	if (memcmp(c->signature, "PCMP", 4) != 0 || sum(c, c->length) != 0)
		panic("jos-lapic: bad MP configuration table");
	lapic_pa = c->lapic_address;
	int isa = -1;
	uint8_t *p = (uint8_t *)(c + 1);
	for (int i = 0; i < c->entries; i++) {
		switch (p[0]) {
		case 0:				/* processor: 20 bytes */
#ifdef JOS_SMP
			/* APIC ID at byte 1; flags at byte 3: bit 0 usable, bit 1 the BSP. */
			if ((p[3] & 1) && nproc <= NCPU) {
				proc_id[nproc] = p[1];
				proc_bsp[nproc++] = p[3] & 2;
			}
#endif
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
#ifdef JOS_SMP
	/* The BSP is CPU 0 (it runs on CPU 0's stack); the APs follow in the table's order. */
	ncpu = 1;
	for (int i = 0; i < nproc; i++) {
		if (proc_bsp[i])
			cpus[0].cpu_apic_id = proc_id[i];
		else if (ncpu < NCPU)
			cpus[ncpu++].cpu_apic_id = proc_id[i];
	}
#endif
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

/* This CPU's local APIC: enabled, LINT0/1 masked, its timer ticking at TIMER_HZ. */
static void lapic_setup(void)
{
	/* Enabled; its spurious vector is the PIC's (trap.c sends it no EOI). */
	lapic_write(LAPIC_SVR, 0x100 | (IRQ_OFFSET + IRQ_SPURIOUS));
	lapic_write(LAPIC_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LINT1, LVT_MASKED);
	lapic_write(LAPIC_TPR, 0);

	lapic_write(LAPIC_TDCR, TIMER_DIVIDE_CODE);
	lapic_write(LAPIC_TIMER, LVT_PERIODIC | (IRQ_OFFSET + IRQ_TIMER));
	lapic_write(LAPIC_TICR, TIMER_COUNT);
}

void lapic_init(void)
{
	lapic = mmio_map(MMIOBASE, lapic_pa);
	ioapic = mmio_map(MMIOBASE + PGSIZE, ioapic_pa);
	lapic_setup();

	/* COM1 to this CPU: fixed, physical destination, edge, active high. */
	uint32_t id = lapic[LAPIC_ID / 4] >> 24;
	ioapic_write(IOAPIC_REDTBL(com1_pin) + 1, id << 24);
	ioapic_write(IOAPIC_REDTBL(com1_pin), IRQ_OFFSET + IRQ_COM1);
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

#ifdef JOS_SMP
/* An AP's local APIC (the BSP mapped the page; every CPU sees its own APIC there). */
void lapic_init_ap(void)
{
	lapic_setup();
}

/* Spin for us microseconds of the local APIC timer, which lapic_setup left counting down from
 * TIMER_COUNT over and over at BUS_HZ / TIMER_DIVIDE: works with interrupts off. */
void lapic_delay_us(uint32_t us)
{
	uint64_t want = (uint64_t)us * (BUS_HZ / TIMER_DIVIDE / 1000000);
	uint64_t passed = 0;
	uint32_t prev = lapic[LAPIC_TCCR / 4];
	while (passed < want) {
		asm volatile("pause");
		uint32_t now = lapic[LAPIC_TCCR / 4];
		passed += now <= prev ? prev - now : prev + TIMER_COUNT - now;	/* reloaded meanwhile */
		prev = now;
	}
}

/* Write the ICR (destination first: writing the low word sends) and wait until it is sent. */
static void lapic_icr(uint8_t apic_id, uint32_t low)
{
	lapic_write(LAPIC_ICRHI, (uint32_t)apic_id << 24);
	lapic_write(LAPIC_ICRLO, low);
	while (lapic[LAPIC_ICRLO / 4] & ICR_PENDING)
		asm volatile("pause");
}

void lapic_send_init(uint8_t apic_id)
{
	lapic_icr(apic_id, ICR_INIT | ICR_ASSERT);
}

/* STARTUP: the AP starts in real mode at CS:IP = (entry >> 4):0000, entry page aligned below 1 MiB. */
void lapic_send_startup(uint8_t apic_id, physaddr_t entry)
{
	lapic_icr(apic_id, ICR_STARTUP | ICR_ASSERT | (entry >> PGSHIFT));
}

void lapic_send_ipi(uint8_t apic_id, uint8_t vector)
{
	lapic_icr(apic_id, ICR_FIXED | ICR_ASSERT | vector);
}
#endif
