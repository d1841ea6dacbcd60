/* The MP table's processors and the start of the APs (see smp.h). */
#include "kern.h"
#include "smp.h"

#define APBOOT           0x7000     /* lib/apboot.S's page: below 1 MiB, unused by these kernels */
#define AP_STACK         16384
#define CMOS_SHUTDOWN    0x0F
#define SHUTDOWN_JUMP    0x0A       /* after a reset, jump through the warm-reset vector at 40:67 */

int ncpu = 1;
uint8_t cpu_apic_id[MAXCPU];

uint32_t ap_stack_top;              /* read by lib/apboot.S */
static uint8_t ap_stacks[MAXCPU][AP_STACK] __attribute__((aligned(16)));
static void (*ap_entry)(int cpu);
static volatile int ap_started;     /* the index of the last AP in C */

extern const char apboot_start[], apboot_end[];
void ap_start(void);

int smp_find_cpus(struct mp_config *c)
{
    uint8_t ids[MAXCPU];
    int bsp = -1, n = 0;
    uint8_t *p = (uint8_t *)(c + 1);
    for (uint32_t i = 0; i < c->entries; i++) {
        if (*p != MP_PROCESSOR) {
            p += 8;
            continue;
        }
        /* byte 1: APIC ID; byte 3: bit 0 usable, bit 1 the BSP */
        if ((p[3] & 1) && n < MAXCPU) {
            if (p[3] & 2)
                bsp = n;
            ids[n++] = p[1];
        }
        p += 20;
    }
    if (n == 0)
        return 0;
    ncpu = 0;
    cpu_apic_id[ncpu++] = ids[bsp < 0 ? 0 : bsp];
    for (int i = 0; i < n; i++)
        if (i != (bsp < 0 ? 0 : bsp))
            cpu_apic_id[ncpu++] = ids[i];
    return ncpu;
}

int this_cpu(void)
{
    uint8_t id = lapic_read(LAPIC_ID) >> 24;
    for (int i = 0; i < ncpu; i++)
        if (cpu_apic_id[i] == id)
            return i;
    return -1;
}

void delay_us(uint32_t us)
{
    lapic_write(LAPIC_TDCR, lapic_divide_code(16));
    lapic_write(LAPIC_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TICR, us * 62 + us / 2);    /* 62.5 counts of 16 ns per microsecond */
    while (lapic_read(LAPIC_TCCR) != 0)
        cpu_relax();
}

void send_ipi(uint8_t dest, uint32_t low)
{
    lapic_write(LAPIC_ICRHI, (uint32_t)dest << 24);
    lapic_write(LAPIC_ICRLO, low);
    while (lapic_read(LAPIC_ICRLO) & ICR_PENDING)
        cpu_relax();
}

/* An AP, from lib/apboot.S: descriptor tables, its local APIC on, then the kernel's ap_main. */
void ap_start(void)
{
    gdt_init();
    idt_load();
    lapic_write(LAPIC_SVR, 0x100 | 0xFF);   /* enabled, spurious vector 0xFF */
    lapic_write(LAPIC_TPR, 0);
    int cpu = this_cpu();
    ap_started = cpu;
    ap_entry(cpu);
    for (;;)
        asm volatile("cli; hlt");
}

static void cmos_write(uint8_t reg, uint8_t v)
{
    outb(0x70, reg);
    outb(0x71, v);
}

int smp_start_aps(void (*ap_main)(int cpu))
{
    int started = 1;
    ap_entry = ap_main;
    const char *src = apboot_start;
    char *dst = (char *)phys32(APBOOT);
    for (uint32_t i = 0; i < (uint32_t)(apboot_end - apboot_start); i++)
        dst[i] = src[i];
    /* The warm-reset vector, for a processor that takes INIT as a reset (MP spec B.4). */
    cmos_write(CMOS_SHUTDOWN, SHUTDOWN_JUMP);
    volatile uint16_t *warm = (volatile uint16_t *)phys32(0x467);
    warm[0] = 0;
    warm[1] = APBOOT >> 4;

    for (int cpu = 1; cpu < ncpu; cpu++) {
        ap_stack_top = (uint32_t)&ap_stacks[cpu][AP_STACK];
        ap_started = 0;
        send_ipi(cpu_apic_id[cpu], ICR_INIT | ICR_ASSERT);
        delay_us(10000);
        for (int i = 0; i < 2 && ap_started != cpu; i++) {
            send_ipi(cpu_apic_id[cpu], ICR_STARTUP | ICR_ASSERT | (APBOOT >> 12));
            delay_us(200);
        }
        for (int ms = 0; ap_started != cpu && ms < 5000; ms++)
            delay_us(1000);
        if (ap_started != cpu)
            break;
        started++;
    }
    cmos_write(CMOS_SHUTDOWN, 0);
    return started;
}
