/* lapic: the local APIC timer against the 8254, in one-shot and periodic modes at several divide
   configurations.  The PIT ticks at 1 kHz on IRQ 0 through the 8259A in auto-EOI mode, which reaches
   the CPU through the local APIC's LINT0 (ExtINT, the virtual wire a BIOS leaves).  The APIC timer
   counts the 1 GHz bus clock (QEMU's and MiniHv's) divided by the divide configuration, so an
   initial count of N lasts N * divide ns.  Only verdicts are printed: the transcript does not depend
   on how the host's time goes. */
#include "kern.h"
#include "pc.h"

#define TIMER_VECTOR 44
#define PIT_RATE     1000u

static volatile uint32_t pit_ticks, apic_ticks;

static void on_pit(struct trapframe *tf) { (void)tf; pit_ticks++; }     /* auto-EOI: no EOI to the PIC */

static void on_apic_timer(struct trapframe *tf) { (void)tf; apic_ticks++; lapic_eoi(); }

/* The 8259A pair remapped to vectors 32-47 with auto-EOI (ICW4 bit 1), all masked but IRQ 0. */
static void pic_auto_eoi(void)
{
    outb(0x20, 0x11); outb(0xA0, 0x11);
    outb(0x21, IRQ_BASE); outb(0xA1, IRQ_BASE + 8);
    outb(0x21, 0x04); outb(0xA1, 0x02);
    outb(0x21, 0x03); outb(0xA1, 0x03);
    outb(0x21, 0xFE); outb(0xA1, 0xFF);
}

/* Waits, halted, until the APIC timer has fired 'n' times; returns the PIT ticks that took. */
static uint32_t wait_apic(uint32_t n)
{
    uint32_t start = pit_ticks;
    cli();
    while (apic_ticks < n)
        sti_hlt(), cli();
    return pit_ticks - start;
}

static void wait_pit(uint32_t n)
{
    uint32_t end = pit_ticks + n;
    cli();
    while (pit_ticks < end)
        sti_hlt(), cli();
}

static int near(uint32_t got, uint32_t want) { return got + 1 >= want && got <= want + 1; }

static int one_shot(uint32_t divide, uint32_t count)
{
    uint32_t ms = count * divide / 1000000u;           /* at most 10^7 here: no 64-bit division */
    apic_ticks = 0;
    lapic_write(LAPIC_TDCR, lapic_divide_code(divide));
    lapic_write(LAPIC_TIMER, TIMER_VECTOR);
    wait_pit(1);                        /* start on a PIT tick, so the count of ticks is exact to one */
    lapic_write(LAPIC_TICR, count);
    uint32_t mid = lapic_read(LAPIC_TCCR);
    uint32_t took = wait_apic(1);
    uint32_t after = lapic_read(LAPIC_TCCR);
    wait_pit(2 * ms);                   /* twice as long again: a one-shot timer stays quiet */
    int ok = near(took, ms) && after == 0 && apic_ticks == 1 && mid <= count && mid > 0;
    kprintf("one-shot: divide %u, count %u = %u ms: fired once after %s, current count then 0: %s\n",
            divide, count, ms, near(took, ms) ? "that long" : "the WRONG time", ok ? "ok" : "FAIL");
    return ok;
}

static int periodic(uint32_t divide, uint32_t count, uint32_t periods)
{
    uint32_t ms = count * divide / 1000000u;           /* at most 10^7 here: no 64-bit division */
    apic_ticks = 0;
    lapic_write(LAPIC_TDCR, lapic_divide_code(divide));
    lapic_write(LAPIC_TIMER, LVT_PERIODIC | TIMER_VECTOR);
    wait_pit(1);
    lapic_write(LAPIC_TICR, count);
    uint32_t took = wait_apic(periods);
    lapic_write(LAPIC_TIMER, LVT_MASKED | LVT_PERIODIC | TIMER_VECTOR);  /* masked, still periodic: it counts on */
    uint32_t reloaded = lapic_read(LAPIC_TCCR);
    lapic_write(LAPIC_TICR, 0);         /* a count of 0 stops the timer */
    uint32_t stopped = lapic_read(LAPIC_TCCR);
    int ok = near(took, ms * periods) && reloaded != 0 && stopped == 0;
    kprintf("periodic: divide %u, count %u = %u ms: %u interrupts in %s, count reloads: %s\n",
            divide, count, ms, periods, near(took, ms * periods) ? "that many periods" : "the WRONG time", ok ? "ok" : "FAIL");
    return ok;
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    gdt_init();
    idt_init();
    set_handler(IRQ_BASE + 0, on_pit);
    set_handler(TIMER_VECTOR, on_apic_timer);

    uint32_t ver = lapic_read(LAPIC_VER);
    kprintf("lapic: ID %u, version 0x%x, %u LVT entries\n", lapic_read(LAPIC_ID) >> 24, ver & 0xFF, ((ver >> 16) & 0xFF) + 1);
    uint32_t lint0 = lapic_read(LAPIC_LINT0);
    kprintf("lapic: LINT0 %s, SVR 0x%x\n", (lint0 & (LVT_MASKED | 0x700)) == 0x700 ? "ExtINT, unmasked (the virtual wire)" : "NOT the virtual wire",
            lapic_read(LAPIC_SVR));
    lapic_write(LAPIC_SVR, 0x100 | 0x2F);   /* enabled, spurious vector 47 */
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_ESR, 0);
    kprintf("lapic: ESR %u after clearing\n", lapic_read(LAPIC_ESR));

    pic_auto_eoi();
    pit_periodic(PIT_RATE);
    wait_pit(3);
    kprintf("pit: 1 kHz on IRQ 0 through the 8259A (auto-EOI) and LINT0: ticking\n");

    int ok = one_shot(1, 10000000)
           & one_shot(16, 625000)
           & one_shot(128, 78125)
           & periodic(2, 1000000, 10)
           & periodic(8, 500000, 5)
           & periodic(1, 3000000, 4);
    cli();
    kprintf("lapic: %s\n", ok ? "every timer fired at its programmed rate" : "FAILED");
    qemu_exit(ok ? 0 : 2);
}
