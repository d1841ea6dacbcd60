/* Where each AP starts: smp.c copies apboot_start..apboot_end to APBOOT (below 1 MiB, page
   aligned) and names that page in the STARTUP IPI, so the AP runs this in 16-bit real mode with
   CS = APBOOT >> 4 and IP = 0.  It loads the flat GDT below (the kernels' selectors 0x08 and 0x10),
   sets CR0.PE, and in 32-bit code takes its stack from ap_stack_top and calls ap_start (smp.c).
   The code runs at APBOOT, not where it is linked: AT() gives a label's address there. */

#define APBOOT 0x7000
#define AT(sym) (APBOOT + (sym) - apboot_start)

    .text
    .code16
    .globl apboot_start, apboot_end
apboot_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl AT(apboot_gdtdesc)
    movl %cr0, %eax
    orl $1, %eax                    /* PE */
    movl %eax, %cr0
    ljmpl $0x08, $AT(apboot_32)

    .code32
apboot_32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl ap_stack_top, %esp
    xorl %ebp, %ebp
    movl $ap_start, %eax
    call *%eax
1:  cli
    hlt
    jmp 1b

    .balign 8
apboot_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF        /* 0x08: code, base 0, limit 4 GiB, 32-bit */
    .quad 0x00CF92000000FFFF        /* 0x10: data */
apboot_gdtdesc:
    .word apboot_gdtdesc - apboot_gdt - 1
    .long AT(apboot_gdt)
apboot_end:

    .section .note.GNU-stack, "", @progbits
