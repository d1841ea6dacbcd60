/* bootsect: a boot sector for a PC without a BIOS to call.  The "BIOS" (MiniHv, or SeaBIOS on
   QEMU) loads it to 0000:7C00 and jumps to it in real mode with DL = the boot drive.  It reads
   stage 2 (disk sectors 1-15) to 0000:8000 through the IDE ports, opens the A20 gate through the
   8042, loads a flat GDT, sets CR0.PE and far-jumps into 32-bit code, which calls stage 2. */

#define STAGE2_ADDR    0x8000
#define STAGE2_SECTORS 15
#define BOOT_DRIVE     0x500    /* where stage 2 finds DL: free memory after the BIOS data area */

    .code16
    .text
    .globl boot_start
boot_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $0x7C00, %sp
    movb %dl, BOOT_DRIVE

    movw $hello, %si
    call puts16

    /* READ SECTORS, LBA 1, 15 sectors, master drive, polled. */
    movw $0x1F6, %dx
    movb $0xE0, %al             /* LBA, master, LBA bits 24-27 = 0 */
    outb %al, %dx
    movw $0x1F2, %dx
    movb $STAGE2_SECTORS, %al
    outb %al, %dx
    incw %dx                    /* 0x1F3: LBA bits 0-7 */
    movb $1, %al
    outb %al, %dx
    incw %dx                    /* 0x1F4 */
    xorb %al, %al
    outb %al, %dx
    incw %dx                    /* 0x1F5 */
    outb %al, %dx
    movw $0x1F7, %dx
    movb $0x20, %al
    outb %al, %dx
    movw $STAGE2_ADDR, %di
    movw $STAGE2_SECTORS, %bx
next_sector:
    movw $0x1F7, %dx
wait_drq:
    inb %dx, %al
    testb $0x80, %al            /* BSY */
    jnz wait_drq
    testb $0x01, %al            /* ERR */
    jnz disk_error
    testb $0x08, %al            /* DRQ */
    jz wait_drq
    movw $0x1F0, %dx
    movw $256, %cx
    rep insw                    /* ES:DI, 256 words */
    decw %bx
    jnz next_sector

    /* A20 through the 8042: command 0xD1 (write output port), then the port with bit 1 set. */
    call wait_8042
    movb $0xD1, %al
    outb %al, $0x64
    call wait_8042
    movb $0xDF, %al
    outb %al, $0x60
    call wait_8042

    lgdt gdt_desc
    movl %cr0, %eax
    orl $1, %eax                /* PE */
    movl %eax, %cr0
    ljmp $0x08, $protected      /* reloads CS from the GDT: 32-bit code from here */

disk_error:
    movw $disk_failed, %si
    call puts16
hang16:
    hlt
    jmp hang16

wait_8042:                      /* until the input buffer is empty (status bit 1) */
    inb $0x64, %al
    testb $0x02, %al
    jnz wait_8042
    ret

puts16:                         /* DS:SI, a NUL-terminated string, to COM1 */
    movw $0x3F8, %dx
1:  lodsb
    testb %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  ret

    .code32
protected:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $0x7C00, %esp
    call STAGE2_ADDR
hang32:
    hlt
    jmp hang32

hello:       .asciz "bootsect: real mode at 0000:7c00, stage 2 through the IDE ports\n"
disk_failed: .asciz "bootsect: disk error\n"

    .balign 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF    /* 0x08: code, base 0, 4 GiB, 32-bit */
    .quad 0x00CF92000000FFFF    /* 0x10: data, base 0, 4 GiB */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

    .org 510
    .word 0xAA55

    .section .note.GNU-stack, "", @progbits
