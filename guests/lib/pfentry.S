/*
 * The page-fault upcall.  The kernel enters here on the user exception stack
 * with ESP pointing at a struct UTrapframe.  Call the C handler, then return
 * to the faulting context: push its EIP on its own stack (in the word the
 * kernel leaves free for a nested fault), restore the registers and EFLAGS,
 * switch to its stack and RET.
 */
#include <trap.h>

	.text
	.globl _pgfault_upcall
_pgfault_upcall:
	pushl %esp                      /* the UTrapframe */
	movl _pgfault_handler, %eax
	call *%eax
	addl $4, %esp

	movl UTF_EIP(%esp), %eax        /* trap-time eip */
	movl UTF_ESP(%esp), %edx        /* trap-time esp */
	subl $4, %edx
	movl %eax, (%edx)               /* becomes the RET target */
	movl %edx, UTF_ESP(%esp)

	addl $UTF_REGS, %esp            /* skip fault_va and err */
	popal
	addl $4, %esp                   /* skip eip */
	popfl                           /* no arithmetic after this */
	popl %esp
	ret

	.section .note.GNU-stack, "", @progbits
