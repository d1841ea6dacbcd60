/* smplock: every CPU the MP table lists increments one shared counter 1,000,000 times, first with
   LOCK INCL (the total must be exact), then with a plain INCL (a read, an add and a write that
   other CPUs may interleave with: the total can only come out lower, and how much lower depends on
   timing, so only that verdict is printed).  The APs start through INIT and STARTUP IPIs (lib/smp.c)
   and wait for each phase on a flag; the BSP counts them back in with LOCK XADD. */
#include "kern.h"
#include "pc.h"
#include "smp.h"

#define ROUNDS 1000000u

static volatile uint32_t counter;
static volatile uint32_t phase;        /* 1: locked, 2: unlocked */
static volatile uint32_t finished;     /* CPUs done with the current phase */

static void count(uint32_t which)
{
    if (which == 1)
        for (uint32_t i = 0; i < ROUNDS; i++)
            asm volatile("lock incl %0" : "+m"(counter));
    else
        for (uint32_t i = 0; i < ROUNDS; i++)
            asm volatile("incl %0" : "+m"(counter));
    atomic_add(&finished, 1);
}

static void ap_main(int cpu)
{
    (void)cpu;
    for (uint32_t done = 0; done < 2;) {
        while (phase == done)
            cpu_relax();
        count(++done);
    }
}

/* Runs phase 'which' on every CPU, the BSP too; returns the total. */
static uint32_t run_phase(uint32_t which, int cpus)
{
    counter = 0;
    finished = 0;
    phase = which;
    count(which);
    while (finished != (uint32_t)cpus)
        cpu_relax();
    return counter;
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    gdt_init();
    idt_init();
    outb(0x21, 0xFF);                   /* both 8259As masked: nothing interrupts the counting */
    outb(0xA1, 0xFF);
    lapic_write(LAPIC_SVR, 0x100 | 0xFF);

    const char *where;
    struct mp_float *f = mp_find(&where);
    if (f == 0 || f->config == 0 || smp_find_cpus((struct mp_config *)f->config) == 0) {
        kprintf("smplock: no processors in an MP table\n");
        qemu_exit(2);
    }
    kprintf("smplock: the MP table lists %d CPU%s\n", ncpu, ncpu == 1 ? "" : "s");
    int cpus = smp_start_aps(ap_main);
    kprintf("smplock: %d CPU%s running\n", cpus, cpus == 1 ? "" : "s");
    if (cpus != ncpu)
        qemu_exit(3);

    uint32_t exact = ROUNDS * (uint32_t)cpus;
    uint32_t locked = run_phase(1, cpus);
    kprintf("smplock: lock incl: %d x %u increments, total %u: %s\n", cpus, ROUNDS, locked,
            locked == exact ? "exact" : "WRONG");
    uint32_t plain = run_phase(2, cpus);
    kprintf("smplock: plain incl: %d x %u increments, total %s %u\n", cpus, ROUNDS,
            plain <= exact ? "at most" : "MORE THAN", exact);
    qemu_exit(locked == exact && plain <= exact ? 0 : 4);
}
