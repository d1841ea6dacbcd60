/* The 8259A pair: master at 0x20/0x21, slave at 0xA0/0xA1, cascaded on IRQ 2. */
#include "kern.h"

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xA0
#define PIC2_DATA 0xA1

static uint16_t mask = 0xFFFF;  /* bit n set: IRQ n masked */

static void write_masks(void)
{
    outb(PIC1_DATA, mask & 0xFF);
    outb(PIC2_DATA, mask >> 8);
}

void pic_remap(void)
{
    outb(PIC1_CMD, 0x11);           /* ICW1: edge triggered, cascade, ICW4 follows */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, IRQ_BASE);      /* ICW2: vector base */
    outb(PIC2_DATA, IRQ_BASE + 8);
    outb(PIC1_DATA, 0x04);          /* ICW3: master has a slave on IRQ 2 */
    outb(PIC2_DATA, 0x02);          /*       slave's cascade identity is 2 */
    outb(PIC1_DATA, 0x01);          /* ICW4: 8086 mode, normal EOI */
    outb(PIC2_DATA, 0x01);
    mask = 0xFFFF & ~(1u << 2);     /* everything masked except the cascade */
    write_masks();
}

void pic_unmask(int irq)
{
    mask &= ~(1u << irq);
    write_masks();
}

void pic_eoi(int irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, 0x20);       /* non-specific EOI */
    outb(PIC1_CMD, 0x20);
}
