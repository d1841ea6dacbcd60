/* timer: 8254 channel 0 at 100 Hz on IRQ 0 through the remapped 8259A;
   count ten ticks, printing one line per tick, then exit.  Only the count
   is printed, so the transcript does not depend on timing. */
#include "kern.h"

#define PIT_HZ   1193182u
#define RATE     100u
#define TICKS    10u

static volatile uint32_t ticks;

static void on_timer(struct trapframe *tf)
{
    (void)tf;
    ticks++;
    pic_eoi(0);
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    kprintf("timer: PIT channel 0 at %u Hz, IRQ 0 on vector %u\n", RATE, IRQ_BASE);

    gdt_init();
    idt_init();
    pic_remap();
    set_handler(IRQ_BASE + 0, on_timer);

    uint32_t divisor = (PIT_HZ + RATE / 2) / RATE;     /* 11932 */
    outb(0x43, 0x34);                   /* channel 0, lobyte/hibyte, mode 2, binary */
    outb(0x40, divisor & 0xFF);
    outb(0x40, divisor >> 8);
    kprintf("divisor %u\n", divisor);

    pic_unmask(0);
    uint32_t printed = 0;
    while (printed < TICKS) {
        cli();
        if (ticks == printed) {
            sti_hlt();                  /* wait for the next interrupt */
            continue;
        }
        sti();
        /* Print every tick counted since the last pass, one line each. */
        while (printed < ticks && printed < TICKS)
            kprintf("tick %u\n", ++printed);
    }
    cli();
    kprintf("done after %u ticks\n", TICKS);
    qemu_exit(0);
}
