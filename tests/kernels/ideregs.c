/* ideregs: the primary IDE channel's registers as a driver first meets them, whichever drives are there
   (none, a master, a slave, or both; the disks' contents do not matter).  After a software reset it
   prints, without selecting, then with each device selected in turn: status, alternate status, error,
   sector count, LBA low/mid/high (the signature) and device/head.  Then it sends IDENTIFY DEVICE to
   device 1 and to device 0 and prints the same registers after each (draining the data when DRQ is
   set), then the same after an unknown command (0xFF) to each, and ends with xv6's probe: select
   device 0 and wait for DRDY without BSY.  Interrupts stay off (nIEN).  Its transcripts are recorded on QEMU by tests/golden/record-ide.sh. */
#include "kern.h"

#define ATA_DATA    0x1F0
#define ATA_ERROR   0x1F1
#define ATA_COUNT   0x1F2
#define ATA_LBA0    0x1F3
#define ATA_LBA1    0x1F4
#define ATA_LBA2    0x1F5
#define ATA_DRIVE   0x1F6
#define ATA_STATUS  0x1F7
#define ATA_COMMAND 0x1F7
#define ATA_ALTSTAT 0x3F6
#define ATA_CONTROL 0x3F6

#define CTL_NIEN 0x02
#define CTL_SRST 0x04

/* The 400 ns a driver waits after selecting a device: four reads of the alternate status. */
static void settle(void)
{
    for (int i = 0; i < 4; i++)
        inb(ATA_ALTSTAT);
}

/* Waits (bounded, so that a channel that never answers still gets its line) for BSY to clear. */
static void wait_not_busy(void)
{
    for (int i = 0; i < 1000000 && (inb(ATA_ALTSTAT) & 0x80); i++)
        ;
}

static void show(const char *what)
{
    /* Alternate status first: reading the status register acknowledges an interrupt. */
    uint8_t alt = inb(ATA_ALTSTAT);
    uint8_t status = inb(ATA_STATUS);
    kprintf("%s: status %02x alt %02x error %02x count %02x lba %02x %02x %02x device %02x\n",
            what, status, alt, inb(ATA_ERROR), inb(ATA_COUNT), inb(ATA_LBA0), inb(ATA_LBA1),
            inb(ATA_LBA2), inb(ATA_DRIVE));
}

static void select_device(int d)
{
    outb(ATA_DRIVE, 0xA0 | (d << 4));
    settle();
}

static void identify(int d)
{
    select_device(d);
    outb(ATA_COMMAND, 0xEC);
    settle();
    wait_not_busy();
    show(d ? "identify device 1" : "identify device 0");
    if (inb(ATA_ALTSTAT) & 0x08) {
        uint32_t words = 0;
        while ((inb(ATA_ALTSTAT) & 0x08) && words < 4096) {
            inw(ATA_DATA);
            words++;
        }
        kprintf("identify device %d: %u data words\n", d, words);
    }
}

void kmain(uint32_t magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();

    /* Device 0 selected before the reset: a reset leaves QEMU's selected unit as the firmware left it. */
    select_device(0);
    outb(ATA_CONTROL, CTL_NIEN | CTL_SRST);
    settle();
    outb(ATA_CONTROL, CTL_NIEN);
    settle();
    wait_not_busy();
    show("after reset");
    select_device(0);
    show("device 0");
    select_device(1);
    show("device 1");

    identify(1);
    identify(0);
    for (int d = 1; d >= 0; d--) {
        select_device(d);
        outb(ATA_COMMAND, 0xFF);        /* no such command */
        settle();
        show(d ? "command ff to device 1" : "command ff to device 0");
    }

    /* xv6's idewait with device 0 selected: DRDY set and BSY clear, within a bounded number of polls. */
    outb(ATA_DRIVE, 0xE0);
    int polls = 0;
    while ((inb(ATA_STATUS) & 0xC0) != 0x40 && polls < 100000)
        polls++;
    kprintf("ready poll on device 0: %s\n", polls < 100000 ? "ready" : "never ready");
    qemu_exit(0);
}
