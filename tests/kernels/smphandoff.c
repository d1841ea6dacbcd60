/* smphandoff: CPU 0 and CPU 1 take turns N times each (turns=N on the command line, default 100):
   each waits (reading, with PAUSE) until a shared turn word names it, then takes an XCHG spinlock,
   increments a counter, hands the turn to the other CPU and releases the lock.  Every turn hands
   the lock (and its cache line) to the other CPU, so the run's time over 2N is the cost of one
   handoff: issue 20's spinlock benchmark (QEMU's TCG takes milliseconds a handoff, hence the small
   default; a benchmark on MiniHv wants turns=100000).  Prints only the counter, which must be
   exact.  Any other CPUs stay halted. */
#include "kern.h"
#include "pc.h"
#include "smp.h"

static uint32_t turns = 100;
static volatile uint32_t lock_word, turn, counter, finished;

static void lock(void)
{
    uint32_t v = 1;
    for (;;) {
        asm volatile("xchgl %0, %1" : "+r"(v), "+m"(lock_word) : : "memory");
        if (v == 0)
            return;
        while (lock_word)
            cpu_relax();
        v = 1;
    }
}

static void unlock(void)
{
    uint32_t v = 0;
    asm volatile("xchgl %0, %1" : "+r"(v), "+m"(lock_word) : : "memory");
}

static void take_turns(uint32_t me)
{
    for (uint32_t i = 0; i < turns; i++) {
        while (turn != me)
            cpu_relax();
        lock();
        counter++;
        turn = 1 - me;
        unlock();
    }
    atomic_add(&finished, 1);
}

/* turns=N from the multiboot command line, if there. */
static void turns_from(const struct multiboot_info *mbi)
{
    if (!(mbi->flags & (1u << 2)))
        return;
    for (const char *p = (const char *)mbi->cmdline; *p; p++)
        if ((p == (const char *)mbi->cmdline || p[-1] == ' ') && p[0] == 't' && p[1] == 'u' &&
            p[2] == 'r' && p[3] == 'n' && p[4] == 's' && p[5] == '=') {
            uint32_t n = 0;
            for (p += 6; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (uint32_t)(*p - '0');
            if (n > 0)
                turns = n;
            return;
        }
}

static void ap_main(int cpu)
{
    if (cpu == 1)
        take_turns(1);
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    serial_init();
    if (magic == MULTIBOOT_BOOTLOADER_MAGIC)
        turns_from(mbi);
    gdt_init();
    idt_init();
    outb(0x21, 0xFF);                   /* both 8259As masked: nothing interrupts the turns */
    outb(0xA1, 0xFF);
    lapic_write(LAPIC_SVR, 0x100 | 0xFF);

    const char *where;
    struct mp_float *f = mp_find(&where);
    if (f == 0 || f->config == 0 || smp_find_cpus((struct mp_config *)f->config) < 2) {
        kprintf("smphandoff: needs an MP table with at least 2 CPUs\n");
        qemu_exit(3);
    }
    int cpus = smp_start_aps(ap_main);
    if (cpus != ncpu) {
        kprintf("smphandoff: %d of %d CPUs started\n", cpus, ncpu);
        qemu_exit(3);
    }
    take_turns(0);
    while (finished != 2)
        cpu_relax();
    kprintf("smphandoff: CPU 0 and CPU 1 took %u turns each under the lock: counter %u, %s\n",
            turns, counter, counter == 2 * turns ? "exact" : "WRONG");
    qemu_exit(counter == 2 * turns ? 0 : 4);
}
