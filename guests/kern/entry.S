/*
 * The multiboot header and the kernel's first instructions.
 *
 * The loader jumps to _start (the physical address in e_entry) with paging
 * off, EAX = 0x2BADB002 and EBX = the physical address of the multiboot info.
 * The kernel is linked at KERNBASE + 1 MiB, so until paging is on every
 * symbol must be translated to its physical address with PHYS().
 */
#include <mmu.h>
#include <memlayout.h>
#include <multiboot.h>

#define PHYS(sym) ((sym) - KERNBASE)

	.section .multiboot, "a"
	.balign 4
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_HEADER_FLAGS
	.long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS)

	.text
	.globl _start
_start:
	cli
	cld
	movl %eax, PHYS(boot_magic)

	/* Keep the multiboot info and command line before anything can
	 * overwrite them: they live in .data, outside the .bss cleared below. */
	cmpl $MULTIBOOT_BOOT_MAGIC, %eax
	jne 2f
	movl %ebx, %esi
	movl $PHYS(boot_mbi), %edi
	movl $(MBI_COPY_SIZE / 4), %ecx
	rep movsl
	testl $MBI_CMDLINE, (%ebx)
	jz 2f
	movl 16(%ebx), %esi
	movl $PHYS(boot_cmdline), %edi
	movl $(CMDLINE_MAX - 1), %ecx
1:	lodsb
	stosb
	testb %al, %al
	jz 2f
	decl %ecx
	jnz 1b
2:
	/* Clear .bss: loaders are not required to. */
	movl $PHYS(edata), %edi
	movl $PHYS(end), %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	/* The entry page tables map physical [0, ENTRY_MAPPED); the entry
	 * page directory puts them both at 0 (we are running there) and at
	 * KERNBASE. */
	movl $PHYS(entry_pgtable), %edi
	movl $(PTE_P | PTE_W), %eax
	movl $(ENTRY_MAPPED / PGSIZE), %ecx
3:	stosl
	addl $PGSIZE, %eax
	decl %ecx
	jnz 3b
	movl $PHYS(entry_pgdir), %edi
	movl $(PHYS(entry_pgtable) + PTE_P + PTE_W), %eax
	movl $(ENTRY_MAPPED / PTSIZE), %ecx
5:	movl %eax, (%edi)
	movl %eax, 4 * (KERNBASE >> PDXSHIFT)(%edi)
	addl $4, %edi
	addl $PGSIZE, %eax
	decl %ecx
	jnz 5b

	movl $PHYS(entry_pgdir), %eax
	movl %eax, %cr3
	movl %cr0, %eax
	orl $(CR0_PE | CR0_PG | CR0_WP), %eax
	movl %eax, %cr0

	/* Paging is on; continue at the linked (high) address. */
	movl $relocated, %eax
	jmp *%eax
relocated:
	xorl %ebp, %ebp
	movl $bootstacktop, %esp
	call i386_init
4:	cli
	hlt
	jmp 4b

	.data
	.balign 4
	.globl boot_magic, boot_mbi, boot_cmdline
boot_magic:
	.long 0
boot_mbi:
	.space MBI_COPY_SIZE
boot_cmdline:
	.space CMDLINE_MAX

	.bss
	.balign PGSIZE
	.globl entry_pgdir, entry_pgtable, bootstack, bootstacktop
entry_pgdir:
	.space PGSIZE
entry_pgtable:
	.space PGSIZE * (ENTRY_MAPPED / PTSIZE)
bootstack:
	.space KSTKSIZE
bootstacktop:

	.section .note.GNU-stack, "", @progbits
