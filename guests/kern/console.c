/* The console: COM1 (16550 UART at 0x3F8) output by polling, input by IRQ 4. */
#include "kern.h"

#define COM1            0x3F8
#define COM_RBR         0       /* in: receive buffer */
#define COM_THR         0       /* out: transmit holding */
#define COM_DLL         0       /* out: divisor latch low (DLAB = 1) */
#define COM_IER         1       /* interrupt enable */
#define COM_DLM         1       /* divisor latch high (DLAB = 1) */
#define COM_IIR         2       /* in: interrupt identification */
#define COM_FCR         2       /* out: FIFO control */
#define COM_LCR         3       /* line control */
#define COM_MCR         4       /* modem control */
#define COM_LSR         5       /* line status */
#define COM_LSR_DR      0x01    /* data ready */
#define COM_LSR_THRE    0x20    /* transmit holding register empty */
#define COM_IER_RDI     0x01    /* interrupt on received data */

#define DEBUG_EXIT_PORT 0xF4    /* QEMU isa-debug-exit: ends the run */

static bool serial_present;

/* Received characters not yet read by sys_cgetc. */
static struct {
	uint8_t buf[512];
	uint32_t rpos, wpos;
} cons_in;

void cons_init(void)
{
	outb(COM1 + COM_IER, 0);
	outb(COM1 + COM_FCR, 0);
	outb(COM1 + COM_LCR, 0x80);             /* DLAB: set the divisor */
	outb(COM1 + COM_DLL, 1);                /* 115200 baud */
	outb(COM1 + COM_DLM, 0);
	outb(COM1 + COM_LCR, 0x03);             /* 8 data bits, no parity, 1 stop bit */
	outb(COM1 + COM_MCR, 0x0B);             /* DTR, RTS, OUT2 (IRQ line enable) */
	outb(COM1 + COM_IER, COM_IER_RDI);
	serial_present = inb(COM1 + COM_LSR) != 0xFF;
	(void)inb(COM1 + COM_IIR);
	(void)inb(COM1 + COM_RBR);
}

static void serial_putc(int c)
{
	if (!serial_present)
		return;
	for (int i = 0; i < 100000 && !(inb(COM1 + COM_LSR) & COM_LSR_THRE); i++)
		;
	outb(COM1 + COM_THR, (uint8_t)c);
}

void cons_putc(int c)
{
	serial_putc(c);
}

/* Move received characters into the input buffer (IRQ 4, and when polled). */
void serial_intr(void)
{
	if (!serial_present)
		return;
	while (inb(COM1 + COM_LSR) & COM_LSR_DR) {
		uint8_t c = inb(COM1 + COM_RBR);
		if (cons_in.wpos - cons_in.rpos < sizeof(cons_in.buf))
			cons_in.buf[cons_in.wpos++ % sizeof(cons_in.buf)] = c;
	}
}

/* The next input character, or 0 if there is none. */
int cons_getc(void)
{
	serial_intr();
	if (cons_in.rpos == cons_in.wpos)
		return 0;
	return cons_in.buf[cons_in.rpos++ % sizeof(cons_in.buf)];
}

static void cputch(int ch, void *arg)
{
	(void)arg;
	cons_putc(ch);
}

int vcprintf(const char *fmt, va_list ap)
{
	vprintfmt(cputch, NULL, fmt, ap);
	return 0;
}

int cprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vcprintf(fmt, ap);
	va_end(ap);
	return 0;
}

/* End the run: QEMU's isa-debug-exit (and MiniHv's) stops the machine here;
 * without that device, stop the CPU for good. */
void halt_machine(void)
{
	outb(DEBUG_EXIT_PORT, 0);
	for (;;) {
		cli();
		hlt();
	}
}

void _panic(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	cli();
	cprintf("jos: kernel panic at %s:%d: ", file, line);
	va_start(ap, fmt);
	vcprintf(fmt, ap);
	va_end(ap);
	cprintf("\n");
	halt_machine();
}
