/* ioapic: device interrupts through the I/O APIC with both 8259As masked.  The pins come from the
   MP table's I/O interrupt entries (ISA IRQ 0, the PIT, is on pin 2).  The PIT ticks through its
   pin, then stops when the pin is masked (the local APIC timer keeps time meanwhile); COM1's receive
   interrupt (IRQ 4) echoes a line from stdin; the keyboard's (IRQ 1) and the disk's (IRQ 14)
   redirection entries read back as written. */
#include "kern.h"
#include "pc.h"

#define PIT_VECTOR   32
#define KBD_VECTOR   33
#define COM1_VECTOR  36
#define IDE_VECTOR   46
#define TIMER_VECTOR 44

static volatile uint32_t pit_ticks, apic_ticks;
static volatile uint8_t ring[256];
static volatile uint8_t head, tail;

static void on_pit(struct trapframe *tf) { (void)tf; pit_ticks++; lapic_eoi(); }
static void on_apic_timer(struct trapframe *tf) { (void)tf; apic_ticks++; lapic_eoi(); }

static void on_com1(struct trapframe *tf)
{
    (void)tf;
    (void)inb(COM1 + 2);
    while (inb(COM1 + 5) & 0x01)
        ring[head++] = inb(COM1);
    lapic_eoi();
}

static uint8_t getc_wait(void)
{
    for (;;) {
        cli();
        if (head != tail) {
            uint8_t c = ring[tail++];
            sti();
            return c;
        }
        sti_hlt();
    }
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    gdt_init();
    idt_init();
    set_handler(PIT_VECTOR, on_pit);
    set_handler(COM1_VECTOR, on_com1);
    set_handler(TIMER_VECTOR, on_apic_timer);
    outb(0x21, 0xFF);                   /* both 8259As masked: only the I/O APIC delivers */
    outb(0xA1, 0xFF);
    lapic_write(LAPIC_SVR, 0x100 | 0x2F);

    uint32_t ver = ioapic_read(IOAPIC_VER);
    kprintf("ioapic: ID %u, version 0x%x, %u redirection entries\n", (ioapic_read(IOAPIC_ID) >> 24) & 0xF, ver & 0xFF,
            ((ver >> 16) & 0xFF) + 1);
    const char *where;
    struct mp_float *f = mp_find(&where);
    if (!f) {
        kprintf("ioapic: no MP table\n");
        qemu_exit(2);
    }
    struct mp_config *c = (struct mp_config *)f->config;
    int pit_pin = mp_isa_pin(c, 0), kbd_pin = mp_isa_pin(c, 1), com1_pin = mp_isa_pin(c, 4), ide_pin = mp_isa_pin(c, 14);
    kprintf("ioapic: the MP table puts IRQ 0 on pin %d, IRQ 1 on pin %d, IRQ 4 on pin %d, IRQ 14 on pin %d\n",
            pit_pin, kbd_pin, com1_pin, ide_pin);

    uint32_t masked_at_reset = ioapic_read(IOAPIC_REDTBL(pit_pin)) & (1u << 16);
    ioapic_route(pit_pin, PIT_VECTOR, lapic_read(LAPIC_ID) >> 24);
    pit_periodic(100);
    cli();
    while (pit_ticks < 5)
        sti_hlt(), cli();
    kprintf("pit: %s at reset; 5 ticks through pin %d on vector %d\n", masked_at_reset ? "masked" : "NOT masked", pit_pin, PIT_VECTOR);

    ioapic_mask(pit_pin);
    uint32_t before = pit_ticks;
    lapic_write(LAPIC_TDCR, lapic_divide_code(1));
    lapic_write(LAPIC_TIMER, TIMER_VECTOR);
    lapic_write(LAPIC_TICR, 50000000);  /* 50 ms, five PIT periods */
    while (apic_ticks == 0)
        sti_hlt(), cli();
    kprintf("pit: pin masked, %u ticks in the next 50 ms\n", pit_ticks - before);

    ioapic_route(kbd_pin, KBD_VECTOR, 0);
    ioapic_route(ide_pin, IDE_VECTOR, 0);
    kprintf("keyboard and disk entries: 0x%x and 0x%x\n", ioapic_read(IOAPIC_REDTBL(kbd_pin)), ioapic_read(IOAPIC_REDTBL(ide_pin)));
    ioapic_mask(kbd_pin);
    ioapic_mask(ide_pin);

    ioapic_route(com1_pin, COM1_VECTOR, 0);
    outb(COM1 + 1, 0x01);               /* interrupt on received data */
    kprintf("com1: type a line\n> ");
    char line[81];
    uint32_t n = 0;
    for (;;) {
        uint8_t ch = getc_wait();
        if (ch == '\n' || ch == '\r')
            break;
        serial_putc(ch);
        if (n < 80)
            line[n++] = ch;
    }
    line[n] = 0;
    cli();
    outb(COM1 + 1, 0x00);
    kprintf("\n[%s] through pin %d\n", line, com1_pin);
    qemu_exit(0);
}
