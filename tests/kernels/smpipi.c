/* smpipi: interprocessor interrupts and the I/O APIC's destinations on every CPU the MP table
   lists.  The APs start through INIT and STARTUP IPIs (lib/smp.c), take the flat logical model
   (logical ID 1 << cpu) and halt with interrupts on; every handler counts its vector per CPU.  The
   BSP then sends each kind of IPI, waits until the CPUs it should reach have taken it (and 20 ms
   more, for any CPU that should not), and prints which CPUs took it:
     fixed to each AP by physical APIC ID, and by logical destination (one CPU, then all APs);
     the self shorthand, all-including-self, all-excluding-self;
     an NMI (its vector 2 handler runs on the named CPU);
     lowest priority to the logical group of all APs (exactly one takes it; which one is the
       APIC's arbitration, so only the count is printed);
     EOI per CPU: a handler that does not EOI keeps its vector in service on that CPU alone, and
       a second one waits until that CPU's EOI (sent from its NMI handler);
     the PIT's interrupt through the I/O APIC to a named CPU, in physical and in logical mode.
   Needs at least 2 CPUs; the transcript is recorded with 4. */
#include "kern.h"
#include "pc.h"
#include "smp.h"

#define V_FIXED   40
#define V_SELF    41
#define V_ALL     42
#define V_OTHERS  43
#define V_HOLD    44    /* its handler sends no EOI */
#define V_LOWEST  45
#define V_DEVICE  46    /* the PIT through the I/O APIC */
#define V_NMI     2

static volatile uint32_t hits[48][MAXCPU];
static volatile uint32_t eoi_from_nmi[MAXCPU];    /* the NMI handler sends an EOI */
static uint32_t before[MAXCPU];

static void count(struct trapframe *tf) { atomic_add(&hits[tf->vector][this_cpu()], 1); }
static void on_ipi(struct trapframe *tf) { count(tf); lapic_eoi(); }
static void on_hold(struct trapframe *tf) { count(tf); }

static void on_nmi(struct trapframe *tf)
{
    int cpu = this_cpu();
    count(tf);
    if (eoi_from_nmi[cpu]) {
        eoi_from_nmi[cpu] = 0;
        lapic_eoi();
    }
}

static void logical_flat(int cpu)
{
    lapic_write(LAPIC_DFR, 0xFFFFFFFF);
    lapic_write(LAPIC_LDR, (1u << cpu) << 24);
}

static void ap_main(int cpu)
{
    logical_flat(cpu);
    for (;;)
        sti_hlt();
}

static void snapshot(int vector)
{
    for (int cpu = 0; cpu < ncpu; cpu++)
        before[cpu] = hits[vector][cpu];
}

static uint32_t taken(int vector, int cpu) { return hits[vector][cpu] - before[cpu]; }

/* Waits (up to 5 s) until 'cpu' (if not -1) has taken 'vector' n times since the snapshot,
   then 20 ms for deliveries that should not come; ends the line the caller began with the CPUs
   that took it. */
static void report(int vector, int cpu, uint32_t n)
{
    for (int ms = 0; ms < 5000 && cpu >= 0 && taken(vector, cpu) < n; ms++)
        delay_us(1000);
    delay_us(20000);
    int any = 0;
    for (int c = 0; c < ncpu; c++)
        if (taken(vector, c)) {
            kprintf(taken(vector, c) == 1 ? " CPU %d" : " CPU %d (%u times)", c, taken(vector, c));
            any = 1;
        }
    kprintf("%s\n", any ? "" : " no CPU");
}

static uint8_t all_aps(void)
{
    uint8_t mask = 0;
    for (int c = 1; c < ncpu && c < 8; c++)
        mask |= 1u << c;
    return mask;
}

static void fixed_ipis(void)
{
    for (int c = 1; c < ncpu; c++) {
        snapshot(V_FIXED);
        send_ipi(cpu_apic_id[c], ICR_FIXED | ICR_ASSERT | V_FIXED);
        kprintf("smpipi: fixed, physical destination CPU %d:", c);
        report(V_FIXED, c, 1);
    }
    for (int c = 1; c < ncpu && c < 8; c++) {
        snapshot(V_FIXED);
        send_ipi(1u << c, ICR_FIXED | ICR_LOGICAL | ICR_ASSERT | V_FIXED);
        kprintf("smpipi: fixed, logical destination 0x%02x:", 1u << c);
        report(V_FIXED, c, 1);
    }
    snapshot(V_FIXED);
    send_ipi(all_aps(), ICR_FIXED | ICR_LOGICAL | ICR_ASSERT | V_FIXED);
    kprintf("smpipi: fixed, logical destination 0x%02x (every AP):", all_aps());
    report(V_FIXED, ncpu - 1, 1);
}

static void shorthands(void)
{
    snapshot(V_SELF);
    send_ipi(0, ICR_SELF | ICR_FIXED | ICR_ASSERT | V_SELF);
    kprintf("smpipi: self shorthand:");
    report(V_SELF, 0, 1);
    snapshot(V_ALL);
    send_ipi(0, ICR_ALL | ICR_FIXED | ICR_ASSERT | V_ALL);
    kprintf("smpipi: all-including-self shorthand:");
    report(V_ALL, ncpu - 1, 1);
    snapshot(V_OTHERS);
    send_ipi(0, ICR_OTHERS | ICR_FIXED | ICR_ASSERT | V_OTHERS);
    kprintf("smpipi: all-excluding-self shorthand:");
    report(V_OTHERS, ncpu - 1, 1);
}

static void nmi_and_lowest(void)
{
    snapshot(V_NMI);
    send_ipi(cpu_apic_id[1], ICR_NMI | ICR_ASSERT);
    kprintf("smpipi: NMI to CPU 1, vector 2 handler:");
    report(V_NMI, 1, 1);

    snapshot(V_LOWEST);
    send_ipi(all_aps(), ICR_LOWEST | ICR_LOGICAL | ICR_ASSERT | V_LOWEST);
    for (int ms = 0; ms < 5000; ms++) {
        uint32_t sum = 0;
        for (int c = 0; c < ncpu; c++)
            sum += taken(V_LOWEST, c);
        if (sum)
            break;
        delay_us(1000);
    }
    delay_us(20000);
    uint32_t aps = 0, bsp = taken(V_LOWEST, 0);
    for (int c = 1; c < ncpu; c++)
        aps += taken(V_LOWEST, c);
    kprintf("smpipi: lowest priority to logical 0x%02x: taken %u time%s by the APs, %u by the BSP\n",
            all_aps(), aps, aps == 1 ? "" : "s", bsp);
}

/* EOI per CPU: vector V_HOLD's handler sends no EOI, so it stays in service on the CPU that took
   it and holds back every vector of its priority class there, and only there. */
static void eoi_per_cpu(void)
{
    int other = ncpu > 2 ? 2 : 0;
    snapshot(V_HOLD);
    send_ipi(cpu_apic_id[1], ICR_FIXED | ICR_ASSERT | V_HOLD);
    kprintf("smpipi: vector 44 without EOI to CPU 1:");
    report(V_HOLD, 1, 1);
    snapshot(V_HOLD);
    send_ipi(cpu_apic_id[1], ICR_FIXED | ICR_ASSERT | V_HOLD);
    kprintf("smpipi: vector 44 again to CPU 1, its first still in service:");
    report(V_HOLD, -1, 0);
    snapshot(V_HOLD);
    if (other) {
        send_ipi(cpu_apic_id[other], ICR_FIXED | ICR_ASSERT | V_HOLD);
        kprintf("smpipi: vector 44 to CPU 2 meanwhile:");
        report(V_HOLD, other, 1);
        snapshot(V_HOLD);
    }
    eoi_from_nmi[1] = 1;
    send_ipi(cpu_apic_id[1], ICR_NMI | ICR_ASSERT);
    kprintf("smpipi: after CPU 1's EOI (from its NMI handler), the waiting vector 44:");
    report(V_HOLD, 1, 1);
    /* Leave nothing in service: CPU 1 holds the second 44, CPU 2 its own. */
    for (int c = 1; c < ncpu && c <= 2; c++) {
        eoi_from_nmi[c] = 1;
        send_ipi(cpu_apic_id[c], ICR_NMI | ICR_ASSERT);
        for (int ms = 0; ms < 5000 && eoi_from_nmi[c]; ms++)
            delay_us(1000);
    }
}

/* The PIT through its I/O APIC pin to one CPU: five ticks, the pin masked, then who took them. */
static void device_irq(int pin, int cpu, int logical)
{
    snapshot(V_DEVICE);
    ioapic_write(IOAPIC_REDTBL(pin) + 1, (uint32_t)(logical ? 1u << cpu : cpu_apic_id[cpu]) << 24);
    ioapic_write(IOAPIC_REDTBL(pin), V_DEVICE | (logical ? 1u << 11 : 0));
    for (int ms = 0; ms < 5000 && taken(V_DEVICE, cpu) < 5; ms++)
        delay_us(1000);
    ioapic_mask(pin);
    delay_us(20000);
    if (logical)
        kprintf("smpipi: PIT on I/O APIC pin %d, logical destination 0x%02x:", pin, 1u << cpu);
    else
        kprintf("smpipi: PIT on I/O APIC pin %d, physical destination CPU %d:", pin, cpu);
    int any = 0;
    for (int c = 0; c < ncpu; c++)
        if (taken(V_DEVICE, c)) {
            kprintf(" CPU %d%s", c,
                    taken(V_DEVICE, c) >= 5 ? " (5 ticks or more)" : " (fewer than 5 ticks)");
            any = 1;
        }
    kprintf("%s\n", any ? "" : " no CPU");
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    gdt_init();
    idt_init();
    outb(0x21, 0xFF);                   /* both 8259As masked: only the APICs deliver */
    outb(0xA1, 0xFF);
    lapic_write(LAPIC_SVR, 0x100 | 0xFF);
    lapic_write(LAPIC_LINT0, LVT_MASKED);
    for (int v = V_FIXED; v <= V_DEVICE; v++)
        set_handler(v, v == V_HOLD ? on_hold : on_ipi);
    set_handler(V_NMI, on_nmi);

    const char *where;
    struct mp_float *f = mp_find(&where);
    if (f == 0 || f->config == 0 || smp_find_cpus((struct mp_config *)f->config) == 0) {
        kprintf("smpipi: no processors in an MP table\n");
        qemu_exit(2);
    }
    struct mp_config *c = (struct mp_config *)f->config;
    kprintf("smpipi: the MP table lists %d CPU%s, APIC ID%s", ncpu, ncpu == 1 ? "" : "s", ncpu == 1 ? "" : "s");
    for (int i = 0; i < ncpu; i++)
        kprintf(" %d", cpu_apic_id[i]);
    kprintf("\n");
    if (ncpu < 2) {
        kprintf("smpipi: needs at least 2 CPUs\n");
        qemu_exit(3);
    }
    int cpus = smp_start_aps(ap_main);
    kprintf("smpipi: %d CPUs running after INIT and STARTUP\n", cpus);
    if (cpus != ncpu)
        qemu_exit(3);
    logical_flat(0);
    sti();

    fixed_ipis();
    shorthands();
    nmi_and_lowest();
    eoi_per_cpu();

    int pin = mp_isa_pin(c, 0);
    pit_periodic(1000);
    device_irq(pin, ncpu > 2 ? 2 : 1, 0);
    device_irq(pin, ncpu > 3 ? 3 : 1, 1);
    cli();
    qemu_exit(0);
}
