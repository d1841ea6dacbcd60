/* Trap entry stubs: each pushes (an error code if the CPU did not and) its
 * trap number, then alltraps completes a struct Trapframe and calls trap(). */
#include <mmu.h>
#include <trap.h>

/* The CPU pushes an error code for these vectors. */
#define STUB_EC(num)                    \
	.text;                          \
	.balign 4;                      \
vector##num:                            \
	pushl $(num);                   \
	jmp alltraps;                   \
	.data;                          \
	.long num, vector##num

#define STUB(num)                       \
	.text;                          \
	.balign 4;                      \
vector##num:                            \
	pushl $0;                       \
	pushl $(num);                   \
	jmp alltraps;                   \
	.data;                          \
	.long num, vector##num

	/* A table of (vector, handler) pairs for trap_init(), ended by -1. */
	.data
	.balign 4
	.globl trap_vectors
trap_vectors:

	STUB(0)
	STUB(1)
	STUB(2)
	STUB(3)
	STUB(4)
	STUB(5)
	STUB(6)
	STUB(7)
	STUB_EC(8)
	STUB(9)
	STUB_EC(10)
	STUB_EC(11)
	STUB_EC(12)
	STUB_EC(13)
	STUB_EC(14)
	STUB(15)
	STUB(16)
	STUB_EC(17)
	STUB(18)
	STUB(19)
	STUB(32)
	STUB(33)
	STUB(34)
	STUB(35)
	STUB(36)
	STUB(37)
	STUB(38)
	STUB(39)
	STUB(40)
	STUB(41)
	STUB(42)
	STUB(43)
	STUB(44)
	STUB(45)
	STUB(46)
	STUB(47)
	STUB(48)
#ifdef JOS_SMP
	STUB(49)
#endif

	.data
	.long -1, 0

	.text
alltraps:
	pushl %ds
	pushl %es
	pushal
	movw $GD_KD, %ax
	movw %ax, %ds
	movw %ax, %es
	pushl %esp              /* struct Trapframe * */
	call trap               /* does not return */
1:	hlt
	jmp 1b

/* void env_pop_tf(struct Trapframe *tf): resume the frame with IRET. */
	.globl env_pop_tf
env_pop_tf:
	movl 4(%esp), %esp
	popal
	popl %es
	popl %ds
	addl $8, %esp           /* trap number and error code */
	iret

	.section .note.GNU-stack, "", @progbits
