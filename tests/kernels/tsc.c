/* tsc: the time-stamp counter against the 8254 and the local APIC timer, across HLT.  One virtual
   clock drives them all in MiniHv, so a TSC measured over PIT ticks spent halted runs at the same rate
   as one measured while spinning, and an APIC timer one-shot of 10 ms lasts 10 ms of TSC.  (Linux's
   clocksource watchdog compares them the same way.)  Also: CPUID reports the TSC and RDMSR/WRMSR, and
   MSR 0x10 is the same counter.  The rate is printed in whole MHz; the rest are verdicts. */
#include "kern.h"
#include "pc.h"

#define TIMER_VECTOR 44
#define PIT_RATE     1000u
#define MSR_TSC      0x10

static volatile uint32_t pit_ticks;
static volatile uint64_t apic_fired_at;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static void on_pit(struct trapframe *tf) { (void)tf; pit_ticks++; }     /* auto-EOI: no EOI to the PIC */

static void on_apic_timer(struct trapframe *tf) { (void)tf; apic_fired_at = rdtsc(); lapic_eoi(); }

/* The 8259A pair at vectors 32-47 in auto-EOI mode, everything masked but IRQ 0. */
static void pic_auto_eoi_irq0(void)
{
    outb(0x20, 0x11); outb(0xA0, 0x11);
    outb(0x21, IRQ_BASE); outb(0xA1, IRQ_BASE + 8);
    outb(0x21, 0x04); outb(0xA1, 0x02);
    outb(0x21, 0x03); outb(0xA1, 0x03);
    outb(0x21, 0xFE); outb(0xA1, 0xFF);
}

/* Waits for the next PIT tick, halted, so that what follows starts on a tick. */
static void next_tick(void)
{
    uint32_t now = pit_ticks;
    cli();
    while (pit_ticks == now)
        sti_hlt(), cli();
}

/* TSC ticks over 'n' PIT ticks spent halted (halt) or spinning with interrupts on (spin). */
static uint64_t tsc_over_pit(uint32_t n, int halt)
{
    next_tick();
    uint32_t end = pit_ticks + n;
    uint64_t start = rdtsc();
    if (halt) {
        while (pit_ticks < end)
            sti_hlt(), cli();
    } else {
        sti();
        while (pit_ticks < end)
            asm volatile("pause" ::: "memory");
        cli();
    }
    return rdtsc() - start;
}

/* Whole MHz from TSC ticks over 'ms' milliseconds (the delta must fit 32 bits: no 64-bit division here). */
static uint32_t mhz(uint64_t ticks, uint32_t ms)
{
    if (ticks >> 32)
        return 0xFFFFFFFFu;
    return ((uint32_t)ticks + ms * 500u) / (ms * 1000u);
}

/* got within 1% of want. */
static int within_percent(uint64_t got, uint64_t want) { return got * 100u >= want * 99u && got * 100u <= want * 101u; }

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    gdt_init();
    idt_init();
    set_handler(IRQ_BASE + 0, on_pit);
    set_handler(TIMER_VECTOR, on_apic_timer);

    uint32_t a = 1, b, c, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    int tsc_bit = (d >> 4) & 1, msr_bit = (d >> 5) & 1;
    kprintf("cpuid: TSC %s, MSR %s\n", tsc_bit ? "yes" : "no", msr_bit ? "yes" : "no");

    pic_auto_eoi_irq0();
    pit_periodic(PIT_RATE);

    /* 200 PIT ticks halted, then 200 spinning: the same rate if halted time counts. */
    uint64_t halted = tsc_over_pit(200, 1);
    uint64_t spinning = tsc_over_pit(200, 0);
    uint32_t halted_mhz = mhz(halted, 200), spinning_mhz = mhz(spinning, 200);
    int pit_ok = halted_mhz != 0 && within_percent(halted, spinning);
    kprintf("tsc: %u MHz over 200 PIT ticks halted, %u MHz over 200 spinning: %s\n", halted_mhz, spinning_mhz,
            pit_ok ? "the same clock" : "DIFFERENT clocks");

    /* A 10 ms APIC timer one-shot (divide 1 on the 1 GHz bus clock), waited for halted. */
    lapic_write(LAPIC_SVR, 0x100 | 0x2F);
    lapic_write(LAPIC_TDCR, lapic_divide_code(1));
    lapic_write(LAPIC_TIMER, TIMER_VECTOR);
    apic_fired_at = 0;
    next_tick();
    uint64_t armed = rdtsc();
    lapic_write(LAPIC_TICR, 10000000);
    cli();
    while (apic_fired_at == 0)
        sti_hlt(), cli();
    uint64_t took = apic_fired_at - armed;
    /* 10 ms at the rate measured against the PIT (halted), to 1%. */
    int apic_ok = within_percent(took * 20u, halted);
    kprintf("lapic: a 10 ms one-shot, halted, took %s of TSC\n", apic_ok ? "10 ms" : "the WRONG time");

    /* MSR 0x10 is the counter RDTSC reads, and writing it sets it. */
    uint64_t before = rdtsc(), msr = rdmsr(MSR_TSC), after = rdtsc();
    int read_ok = before <= msr && msr <= after;
    wrmsr(MSR_TSC, 0x100000000ull);
    uint64_t written = rdtsc();
    int write_ok = written >= 0x100000000ull && written < 0x100000000ull + 1000;
    kprintf("msr 0x10: reads the TSC: %s; a write sets it: %s\n", read_ok ? "yes" : "NO", write_ok ? "yes" : "NO");

    int ok = tsc_bit && msr_bit && pit_ok && apic_ok && read_ok && write_ok;
    kprintf("tsc: %s\n", ok ? "one clock with the PIT and the APIC timer" : "FAILED");
    qemu_exit(ok ? 0 : 2);
}
