/* Multiboot v1 header and entry point shared by every test kernel. */

#define MB_MAGIC  0x1BADB002
#define MB_FLAGS  0x00000003    /* bit 0: page-align modules, bit 1: memory info */

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .text
    .globl _start
_start:
    /* The loader leaves EAX = 0x2BADB002, EBX = multiboot info, paging off. */
    cli
    cld
    movl $stack_top, %esp
    xorl %ebp, %ebp
    pushl %ebx
    pushl %eax
    call kmain
    /* kmain should not return; if it does, leave through the debug-exit device. */
    pushl $0
    call qemu_exit

    .bss
    .balign 16
stack:
    .space 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
