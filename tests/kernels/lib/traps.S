/* Interrupt and exception entry stubs.  Each stub makes the stack look the
   same (an error code, 0 when the CPU pushes none, then the vector number)
   and jumps to alltraps, which saves the registers and calls trap(tf). */

/* A vector where the CPU pushes an error code itself. */
.macro ERRSTUB n
    .text
    .balign 16
vec\n:
    pushl $\n
    jmp alltraps
    .section .rodata
    .long vec\n
.endm

/* A vector without one: push a zero in its place. */
.macro STUB n
    .text
    .balign 16
vec\n:
    pushl $0
    pushl $\n
    jmp alltraps
    .section .rodata
    .long vec\n
.endm

    .section .rodata
    .balign 4
    .globl trap_vectors             /* 49 entries: vectors 0..47, then 0x80 */
trap_vectors:

.irp n, 0,1,2,3,4,5,6,7
    STUB \n
.endr
    ERRSTUB 8
    STUB 9
.irp n, 10,11,12,13,14
    ERRSTUB \n
.endr
    STUB 15
    STUB 16
    ERRSTUB 17
.irp n, 18,19,20
    STUB \n
.endr
    ERRSTUB 21
.irp n, 22,23,24,25,26,27,28,29,30,31
    STUB \n
.endr
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    STUB \n
.endr
    STUB 128

    .text
alltraps:
    pushl %ds
    pushl %es
    pushal
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    pushl %esp                      /* struct trapframe * */
    call trap
    addl $4, %esp
    popal
    popl %es
    popl %ds
    addl $8, %esp                   /* vector and error code */
    iret

    .section .note.GNU-stack, "", @progbits
