/* The 8259A interrupt controllers and the 8254 timer. */
#include "kern.h"

#define PIC1_CMD    0x20
#define PIC1_DATA   0x21
#define PIC2_CMD    0xA0
#define PIC2_DATA   0xA1
#define PIC_EOI     0x20
#define IRQ_SLAVE   2           /* the slave is cascaded on master IRQ 2 */

#define PIT_CH0     0x40
#define PIT_CMD     0x43
#define PIT_HZ      1193182
#ifndef TIMER_HZ
#define TIMER_HZ    100         /* make TIMER_HZ=N overrides it, for experiments */
#endif

void pic_init(void)
{
	/* Mask everything while reprogramming. */
	outb(PIC1_DATA, 0xFF);
	outb(PIC2_DATA, 0xFF);

	/* ICW1: edge triggered, cascade, ICW4 follows.  ICW2: vector base.
	 * ICW3: cascade wiring.  ICW4: 8086 mode, normal EOI. */
	outb(PIC1_CMD, 0x11);
	outb(PIC1_DATA, IRQ_OFFSET);
	outb(PIC1_DATA, 1 << IRQ_SLAVE);
	outb(PIC1_DATA, 0x01);
	outb(PIC2_CMD, 0x11);
	outb(PIC2_DATA, IRQ_OFFSET + 8);
	outb(PIC2_DATA, IRQ_SLAVE);
	outb(PIC2_DATA, 0x01);

#ifdef JOS_LAPIC
	/* Everything stays masked: the I/O APIC delivers COM1, the local APIC has the timer. */
	outb(PIC1_DATA, 0xFF);
#else
	/* Unmask the timer, the cascade and COM1. */
	outb(PIC1_DATA, (uint8_t)~(1 << IRQ_TIMER | 1 << IRQ_SLAVE | 1 << IRQ_COM1));
#endif
	outb(PIC2_DATA, 0xFF);
}

void pic_eoi(int irq)
{
	if (irq >= 8)
		outb(PIC2_CMD, PIC_EOI);
	outb(PIC1_CMD, PIC_EOI);
}

/* The master's in-service register. */
uint8_t pic_master_isr(void)
{
	outb(PIC1_CMD, 0x0B);       /* OCW3: read ISR */
	uint8_t isr = inb(PIC1_CMD);
	outb(PIC1_CMD, 0x0A);       /* OCW3: back to IRR */
	return isr;
}

uint32_t timer_ticks;

/* Channel 0, mode 2 (rate generator), at TIMER_HZ. */
void timer_init(void)
{
	uint16_t divisor = (PIT_HZ + TIMER_HZ / 2) / TIMER_HZ;
	outb(PIT_CMD, 0x34);
	outb(PIT_CH0, divisor & 0xFF);
	outb(PIT_CH0, divisor >> 8);
}
