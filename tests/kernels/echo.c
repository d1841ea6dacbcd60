/* echo: interrupt-driven COM1 input.  Echo each received byte until a
   newline, then print the line in brackets and exit. */
#include "kern.h"

#define RBR 0   /* receive buffer (read) */
#define IER 1
#define IIR 2   /* interrupt identification (read) */
#define LSR 5

#define LINE_MAX 80

static volatile uint8_t ring[256];
static volatile uint8_t head, tail;     /* head: next to write, tail: next to read */
static volatile uint32_t overruns;

static void on_com1(struct trapframe *tf)
{
    (void)tf;
    (void)inb(COM1 + IIR);
    while (inb(COM1 + LSR) & 0x01) {    /* data ready */
        uint8_t c = inb(COM1 + RBR);
        if ((uint8_t)(head + 1) == tail)
            overruns++;
        else
            ring[head++] = c;
    }
    pic_eoi(4);
}

/* Wait, halted, for the next received byte. */
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
    pic_remap();
    set_handler(IRQ_BASE + 4, on_com1);
    pic_unmask(4);
    outb(COM1 + IER, 0x01);             /* interrupt on received data */

    kprintf("echo: type a line\n> ");
    char line[LINE_MAX + 1];
    uint32_t n = 0;
    for (;;) {
        uint8_t c = getc_wait();
        if (c == '\n' || c == '\r')
            break;
        serial_putc(c);
        if (n < LINE_MAX)
            line[n++] = c;
    }
    line[n] = 0;
    cli();
    outb(COM1 + IER, 0x00);
    kprintf("\n[%s]\n%u bytes, %u overruns\n", line, n, overruns);
    qemu_exit(0);
}
