/* ide: ATA PIO on the primary channel (0x1F0-0x1F7, control 0x3F6, IRQ 14 through the I/O APIC).
   IDENTIFY both drives; then on the slave (QEMU's -hdb, xv6's file system disk) read sectors 1-3,
   whose bytes the test wrote as (lba * 7 + i) mod 256, with an interrupt per sector; write sectors
   4-5 in one command with (lba * 13 + 3 * i + 1) mod 256, read them back; and write one sector past
   the disk's end, which must fail with ERR and IDNF (MiniHv refuses the command at once; a drive
   may also take the data first and fail afterwards). */
#include "kern.h"
#include "pc.h"

#define ATA_DATA    0x1F0
#define ATA_ERROR   0x1F1
#define ATA_COUNT   0x1F2
#define ATA_LBA0    0x1F3
#define ATA_LBA1    0x1F4
#define ATA_LBA2    0x1F5
#define ATA_DRIVE   0x1F6
#define ATA_STATUS  0x1F7       /* reading it acknowledges the interrupt */
#define ATA_COMMAND 0x1F7
#define ATA_ALTSTAT 0x3F6       /* reading it does not */
#define ATA_CONTROL 0x3F6       /* bit 1: nIEN */

#define ST_BSY  0x80
#define ST_DRDY 0x40
#define ST_DRQ  0x08
#define ST_ERR  0x01
#define ER_IDNF 0x10

#define IDE_VECTOR 46

static volatile uint32_t irqs;
static uint16_t buf[256 * 2];

static void on_ide(struct trapframe *tf) { (void)tf; irqs++; lapic_eoi(); }

static uint8_t wait_not_busy(void)
{
    uint8_t s;
    while ((s = inb(ATA_ALTSTAT)) & ST_BSY)
        ;
    return s;
}

/* Waits, halted, for the next IRQ 14, then reads the status (which acknowledges it). */
static uint8_t wait_irq(uint32_t seen)
{
    cli();
    while (irqs == seen)
        sti_hlt(), cli();
    sti();
    return inb(ATA_STATUS);
}

static void select(int slave, uint32_t lba, uint8_t count)
{
    outb(ATA_DRIVE, 0xE0 | (slave << 4) | ((lba >> 24) & 0x0F));
    outb(ATA_COUNT, count);
    outb(ATA_LBA0, lba);
    outb(ATA_LBA1, lba >> 8);
    outb(ATA_LBA2, lba >> 16);
}

/* IDENTIFY: the model string and LBA28 sector count, or 0 when no drive answers. */
static uint32_t identify(int slave, char *model)
{
    outb(ATA_DRIVE, 0xA0 | (slave << 4));
    outb(ATA_COMMAND, 0xEC);
    uint8_t s = inb(ATA_ALTSTAT);
    if (s == 0 || s == 0xFF)
        return 0;
    s = wait_not_busy();
    if (s & ST_ERR)
        return 0;
    for (int i = 0; i < 256; i++)
        buf[i] = inw(ATA_DATA);
    for (int i = 0; i < 20; i++) {      /* words 27-46, each two characters, high byte first */
        model[2 * i] = buf[27 + i] >> 8;
        model[2 * i + 1] = buf[27 + i] & 0xFF;
    }
    int n = 40;
    while (n > 0 && model[n - 1] == ' ')
        n--;
    model[n] = 0;
    return buf[60] | ((uint32_t)buf[61] << 16);
}

static uint8_t expected_read(uint32_t lba, int i) { return (uint8_t)(lba * 7 + i); }
static uint8_t written(uint32_t lba, int i) { return (uint8_t)(lba * 13 + 3 * i + 1); }

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    gdt_init();
    idt_init();
    set_handler(IDE_VECTOR, on_ide);
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    lapic_write(LAPIC_SVR, 0x100 | 0x2F);
    ioapic_route(14, IDE_VECTOR, 0);

    char model[41];
    outb(ATA_CONTROL, 0x02);            /* nIEN: no interrupts while identifying */
    for (int d = 0; d < 2; d++) {
        uint32_t sectors = identify(d, model);
        if (sectors)
            kprintf("ide: %s: \"%s\", %u sectors\n", d ? "slave" : "master", model, sectors);
        else
            kprintf("ide: %s: none\n", d ? "slave" : "master");
    }
    uint32_t sectors = identify(1, model);
    int ok = sectors >= 8 && irqs == 0;
    outb(ATA_CONTROL, 0x00);            /* interrupts on */

    /* Read sectors 1-3: one interrupt per sector, each before its data. */
    uint32_t bad = 0, seen = irqs;
    select(1, 1, 3);
    outb(ATA_COMMAND, 0x20);
    for (uint32_t lba = 1; lba <= 3; lba++) {
        uint8_t s = wait_irq(seen);
        seen = irqs;
        if ((s & (ST_DRQ | ST_ERR)) != ST_DRQ)
            bad++;
        for (int i = 0; i < 256; i++)
            buf[i] = inw(ATA_DATA);
        for (int i = 0; i < 512; i++)
            if (((uint8_t *)buf)[i] != expected_read(lba, i))
                bad++;
    }
    kprintf("read sectors 1-3: %u interrupts, %s\n", irqs, bad ? "WRONG DATA" : "data as the image holds it");
    ok &= bad == 0 && irqs == 3;

    /* Write sectors 4-5 in one command: DRQ for each, an interrupt after each. */
    select(1, 4, 2);
    outb(ATA_COMMAND, 0x30);
    seen = irqs;
    for (uint32_t lba = 4; lba <= 5; lba++) {
        uint8_t s = wait_not_busy();
        if (!(s & ST_DRQ))
            bad++;
        for (int i = 0; i < 512; i++)
            ((uint8_t *)buf)[i] = written(lba, i);
        for (int i = 0; i < 256; i++)
            outw(ATA_DATA, buf[i]);
        wait_irq(seen);
        seen = irqs;
    }
    outb(ATA_COMMAND, 0xE7);            /* FLUSH CACHE */
    wait_irq(seen);
    seen = irqs;
    select(1, 4, 2);
    outb(ATA_COMMAND, 0x20);
    for (uint32_t lba = 4; lba <= 5; lba++) {
        wait_irq(seen);
        seen = irqs;
        for (int i = 0; i < 256; i++)
            buf[i] = inw(ATA_DATA);
        for (int i = 0; i < 512; i++)
            if (((uint8_t *)buf)[i] != written(lba, i))
                bad++;
    }
    kprintf("wrote sectors 4-5 and read them back: %s\n", bad ? "WRONG DATA" : "same");
    ok &= bad == 0;

    /* One sector past the end. */
    outb(ATA_CONTROL, 0x02);
    select(1, sectors, 1);
    outb(ATA_COMMAND, 0x30);
    uint8_t s = wait_not_busy();
    if (s & ST_DRQ) {                   /* a drive may take the data first and fail afterwards */
        for (int i = 0; i < 256; i++)
            outw(ATA_DATA, 0);
        s = wait_not_busy();
    }
    uint8_t e = inb(ATA_ERROR);
    int refused = (s & ST_ERR) && (e & ER_IDNF) && !(s & ST_DRQ);
    kprintf("write to sector %u, past the end: %s\n", sectors, refused ? "ERR, IDNF" : "NOT REFUSED");
    ok &= refused;
    kprintf("ide: %s\n", ok ? "ok" : "FAILED");
    qemu_exit(ok ? 0 : 2);
}
