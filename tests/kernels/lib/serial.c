/* Polled COM1 output (16550 at 0x3F8). */
#include "kern.h"

#define THR 0   /* transmit holding register (write) */
#define IER 1   /* interrupt enable */
#define LCR 3   /* line control */
#define MCR 4   /* modem control */
#define LSR 5   /* line status */
#define DLL 0   /* divisor latch, with LCR bit 7 set */
#define DLM 1

void serial_init(void)
{
    outb(COM1 + IER, 0x00);     /* no interrupts */
    outb(COM1 + LCR, 0x80);     /* DLAB on */
    outb(COM1 + DLL, 0x01);     /* 115200 baud */
    outb(COM1 + DLM, 0x00);
    outb(COM1 + LCR, 0x03);     /* 8 data bits, no parity, 1 stop bit, DLAB off */
    outb(COM1 + MCR, 0x0B);     /* DTR, RTS, OUT2 (OUT2 gates the IRQ line on a PC) */
    /* The FIFO control register is left alone: enabling the FIFO would flush
       received bytes that arrived before the kernel started. */
}

void serial_putc(char c)
{
    while (!(inb(COM1 + LSR) & 0x20))   /* THR empty */
        ;
    outb(COM1 + THR, (uint8_t)c);
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

void qemu_exit(uint8_t v)
{
    outb(0xf4, v);
    for (;;)
        asm volatile("cli; hlt");
}
