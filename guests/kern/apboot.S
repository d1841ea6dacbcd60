/*
 * jos-smp: where each application processor starts.  smp.c copies the code between apboot_start
 * and apboot_end to physical APBOOT_PADDR (below 1 MiB, page aligned) and sends the AP a STARTUP
 * IPI naming that page: the AP begins here in 16-bit real mode with CS = APBOOT_PADDR >> 4, IP = 0.
 * It loads the small GDT below (flat code and data at the kernel's selectors), enters protected
 * mode, turns paging on with the page directory in ap_boot_cr3 (the kernel's, which maps the low
 * 4 MiB at 0 too while APs start), and calls ap_main on the stack in ap_boot_esp.
 *
 * The code runs at APBOOT_PADDR, not where it is linked: HERE() turns a label into that address.
 */
#include <mmu.h>
#include <memlayout.h>

#define HERE(sym) (APBOOT_PADDR + (sym) - apboot_start)
#define PHYS(sym) ((sym) - KERNBASE)

	.text
	.code16
	.globl apboot_start, apboot_end
apboot_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl HERE(apboot_gdtdesc)
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $GD_KT, $HERE(apboot_32)

	.code32
apboot_32:
	movw $GD_KD, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	/* Paging off: the kernel's variables are at their physical addresses. */
	movl PHYS(ap_boot_cr3), %eax
	movl %eax, %cr3
	movl %cr0, %eax
	orl $(CR0_PE | CR0_PG | CR0_WP), %eax
	movl %eax, %cr0
	/* Paging on; this page is still mapped at its physical address, the kernel at KERNBASE. */
	movl ap_boot_esp, %esp
	xorl %ebp, %ebp
	movl $ap_main, %eax
	call *%eax
1:	cli
	hlt
	jmp 1b

	.balign 8
apboot_gdt:
	.quad 0
	.quad 0x00CF9A000000FFFF	/* GD_KT: code, execute/read, base 0, limit 4 GiB, 32-bit */
	.quad 0x00CF92000000FFFF	/* GD_KD: data, read/write, base 0, limit 4 GiB */
apboot_gdtdesc:
	.word apboot_gdtdesc - apboot_gdt - 1
	.long HERE(apboot_gdt)
apboot_end:

	.section .note.GNU-stack, "", @progbits
