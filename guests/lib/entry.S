/* User program entry: the kernel leaves argc and argv on the stack. */
#include <mmu.h>
#include <memlayout.h>

	.text
	.globl _start
_start:
	xorl %ebp, %ebp
	call libmain            /* libmain(argc, argv), does not return */
1:	jmp 1b

	/* The read-only views the kernel maps into every environment. */
	.globl envs, pages, uvpt, uvpd
	.set envs, UENVS
	.set pages, UPAGES
	.set uvpt, UVPT
	.set uvpd, (UVPT + (UVPT >> PDXSHIFT) * PGSIZE)

	.section .note.GNU-stack, "", @progbits
