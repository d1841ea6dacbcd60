/* smptlb: a TLB shootdown as a multiprocessor kernel does it.  Every CPU turns paging on with the
   same page tables (the low 8 MiB and the local APIC's page mapped to themselves, 4 KiB pages) and
   reads a test page, so each has its translation in its TLB.  CPU 0 then points the page at a
   second frame, INVLPGs it locally and sends CPU 1 an IPI whose handler INVLPGs it there and
   acknowledges; then at a third frame, with the IPI to all the others (all-excluding-self).  Only
   after the acknowledgements does an AP read the page again, and it must see the new frame.
   What an AP reads between the PTE write and its INVLPG is up to its TLB, so it is never
   printed. */
#include "kern.h"
#include "pc.h"
#include "smp.h"

#define V_SHOOTDOWN 40
#define TEST_VA     0x00700000u
#define FRAME_A     0x00600000u
#define FRAME_B     0x00601000u
#define FRAME_C     0x00602000u
#define PTE_P       0x001u
#define PTE_W       0x002u
#define CR0_PG      0x80000000u

static uint32_t pgdir[1024] __attribute__((aligned(4096)));
static uint32_t low_tables[2][1024] __attribute__((aligned(4096)));
static uint32_t apic_table[1024] __attribute__((aligned(4096)));

static volatile uint32_t command[MAXCPU];   /* 1: read the test page */
static volatile uint32_t seen[MAXCPU];      /* what it read */
static volatile uint32_t acks;

static void invlpg(uint32_t va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static uint32_t read_test_page(void) { return *(volatile uint32_t *)TEST_VA; }

static void paging_on(void)
{
    write_cr3((uint32_t)pgdir);
    write_cr0(read_cr0() | CR0_PG);
}

static void on_shootdown(struct trapframe *tf)
{
    (void)tf;
    invlpg(TEST_VA);
    atomic_add(&acks, 1);
    lapic_eoi();
}

static void ap_main(int cpu)
{
    paging_on();
    for (;;) {
        asm volatile("sti");
        while (command[cpu] == 0)
            cpu_relax();
        seen[cpu] = read_test_page();
        command[cpu] = 0;
    }
}

/* Has CPU 'cpu' read the test page; returns what it read. */
static uint32_t read_on(int cpu)
{
    command[cpu] = 1;
    for (int ms = 0; ms < 5000 && command[cpu]; ms++)
        delay_us(1000);
    return command[cpu] ? 0xFFFFFFFFu : seen[cpu];
}

static void set_test_frame(uint32_t frame)
{
    low_tables[TEST_VA >> 22][(TEST_VA >> 12) & 1023] = frame | PTE_P | PTE_W;
    invlpg(TEST_VA);
}

static void wait_acks(uint32_t want)
{
    for (int ms = 0; ms < 5000 && acks < want; ms++)
        delay_us(1000);
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    gdt_init();
    idt_init();
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    lapic_write(LAPIC_SVR, 0x100 | 0xFF);
    set_handler(V_SHOOTDOWN, on_shootdown);

    const char *where;
    struct mp_float *f = mp_find(&where);
    if (f == 0 || f->config == 0 || smp_find_cpus((struct mp_config *)f->config) < 2) {
        kprintf("smptlb: needs an MP table with at least 2 CPUs\n");
        qemu_exit(3);
    }

    *(volatile uint32_t *)phys32(FRAME_A) = 0xAAAA0001u;
    *(volatile uint32_t *)phys32(FRAME_B) = 0xBBBB0002u;
    *(volatile uint32_t *)phys32(FRAME_C) = 0xCCCC0003u;
    for (uint32_t t = 0; t < 2; t++) {
        for (uint32_t i = 0; i < 1024; i++)
            low_tables[t][i] = (t << 22 | i << 12) | PTE_P | PTE_W;
        pgdir[t] = (uint32_t)low_tables[t] | PTE_P | PTE_W;
    }
    apic_table[(LAPIC_BASE >> 12) & 1023] = LAPIC_BASE | PTE_P | PTE_W | 0x18;    /* PCD, PWT */
    pgdir[LAPIC_BASE >> 22] = (uint32_t)apic_table | PTE_P | PTE_W;
    set_test_frame(FRAME_A);
    paging_on();

    int cpus = smp_start_aps(ap_main);
    kprintf("smptlb: %d CPUs running, paging on with one page directory\n", cpus);
    if (cpus != ncpu)
        qemu_exit(3);
    sti();

    for (int c = 0; c < ncpu; c++)
        kprintf("smptlb: CPU %d reads 0x%08x through the test page\n", c,
                c ? read_on(c) : read_test_page());

    set_test_frame(FRAME_B);
    acks = 0;
    send_ipi(cpu_apic_id[1], ICR_FIXED | ICR_ASSERT | V_SHOOTDOWN);
    wait_acks(1);
    kprintf("smptlb: remapped to a second frame, shootdown IPI to CPU 1: %u ack%s\n", acks,
            acks == 1 ? "" : "s");
    kprintf("smptlb: CPU 1 reads 0x%08x\n", read_on(1));

    /* CPU 1 last saw the second frame, the others the first: a missed INVLPG shows either. */
    set_test_frame(FRAME_C);
    acks = 0;
    send_ipi(0, ICR_OTHERS | ICR_FIXED | ICR_ASSERT | V_SHOOTDOWN);
    wait_acks((uint32_t)ncpu - 1);
    kprintf("smptlb: remapped to a third frame, shootdown IPI to all but self: %u acks\n", acks);
    for (int c = 0; c < ncpu; c++)
        kprintf("smptlb: CPU %d reads 0x%08x\n", c, c ? read_on(c) : read_test_page());
    cli();
    qemu_exit(0);
}
