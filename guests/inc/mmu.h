/*
 * i386 paging and segmentation: the bits and structures the hardware defines
 * (Intel SDM vol. 3, chapters 3-7), and helpers to take linear addresses apart.
 */
#ifndef JOS_INC_MMU_H
#define JOS_INC_MMU_H

/* A linear address:  | 10 bits PDX | 10 bits PTX | 12 bits offset | */
#define PGSIZE          4096
#define PGSHIFT         12
#define PTXSHIFT        12
#define PDXSHIFT        22
#define NPDENTRIES      1024
#define NPTENTRIES      1024
#define PTSIZE          (PGSIZE * NPTENTRIES)   /* bytes mapped by one page table */

#define PGNUM(la)       (((uintptr_t)(la)) >> PGSHIFT)
#define PDX(la)         ((((uintptr_t)(la)) >> PDXSHIFT) & 0x3FF)
#define PTX(la)         ((((uintptr_t)(la)) >> PTXSHIFT) & 0x3FF)
#define PGOFF(la)       (((uintptr_t)(la)) & 0xFFF)
#define PGADDR(d, t, o) ((void *)((d) << PDXSHIFT | (t) << PTXSHIFT | (o)))

/* Page directory and page table entry bits. */
#define PTE_P           0x001   /* present */
#define PTE_W           0x002   /* writable */
#define PTE_U           0x004   /* user */
#define PTE_PWT         0x008   /* write-through */
#define PTE_PCD         0x010   /* cache disable */
#define PTE_A           0x020   /* accessed */
#define PTE_D           0x040   /* dirty */
#define PTE_PS          0x080   /* 4 MiB page (in a PDE) */
#define PTE_G           0x100   /* global */
#define PTE_AVAIL       0xE00   /* three bits the hardware leaves to software */
#define PTE_COW         0x800   /* ours: copy-on-write page (see lib/fork.c) */

/* The flags user code may pass to sys_page_alloc / sys_page_map. */
#define PTE_SYSCALL     (PTE_AVAIL | PTE_P | PTE_W | PTE_U)

#define PTE_ADDR(pte)   ((physaddr_t)(pte) & ~0xFFF)
#define PTE_FLAGS(pte)  ((uint32_t)(pte) & 0xFFF)


/* Control registers. */
#define CR0_PE          0x00000001
#define CR0_MP          0x00000002
#define CR0_EM          0x00000004
#define CR0_TS          0x00000008
#define CR0_ET          0x00000010
#define CR0_NE          0x00000020
#define CR0_WP          0x00010000
#define CR0_AM          0x00040000
#define CR0_PG          0x80000000

/* EFLAGS. */
#define FL_CF           0x00000001
#define FL_ZF           0x00000040
#define FL_TF           0x00000100
#define FL_IF           0x00000200
#define FL_DF           0x00000400
#define FL_IOPL_MASK    0x00003000
#define FL_NT           0x00004000
#define FL_RF           0x00010000
#define FL_VM           0x00020000
#define FL_AC           0x00040000

/* Page fault error code bits. */
#define FEC_PR          0x1     /* 1: protection violation, 0: page not present */
#define FEC_WR          0x2     /* 1: write access */
#define FEC_U           0x4     /* 1: fault in user mode */

/* Selectors of our GDT (kern/trap.c). */
#define GD_KT           0x08    /* kernel text */
#define GD_KD           0x10    /* kernel data */
#define GD_UT           0x18    /* user text */
#define GD_UD           0x20    /* user data */
#define GD_TSS          0x28    /* task state segment */

#ifndef __ASSEMBLER__
#include <types.h>

typedef uint32_t pte_t;
typedef uint32_t pde_t;

/* A 32-bit task state segment; only ss0:esp0 and the I/O map base matter to us. */
struct Taskstate {
	uint32_t ts_link;
	uint32_t ts_esp0;
	uint16_t ts_ss0, ts_pad0;
	uint32_t ts_esp1;
	uint16_t ts_ss1, ts_pad1;
	uint32_t ts_esp2;
	uint16_t ts_ss2, ts_pad2;
	uint32_t ts_cr3, ts_eip, ts_eflags;
	uint32_t ts_eax, ts_ecx, ts_edx, ts_ebx, ts_esp, ts_ebp, ts_esi, ts_edi;
	uint16_t ts_es, ts_pad3, ts_cs, ts_pad4, ts_ss, ts_pad5;
	uint16_t ts_ds, ts_pad6, ts_fs, ts_pad7, ts_gs, ts_pad8;
	uint16_t ts_ldt, ts_pad9;
	uint16_t ts_trap, ts_iomb;
};
STATIC_ASSERT(sizeof(struct Taskstate) == 104);

/* The pointer operand of LGDT / LIDT. */
struct Pseudodesc {
	uint16_t pd_lim;
	uint32_t pd_base;
} __attribute__((packed));
#endif

#endif
