/*
 * The virtual memory layout of every environment (and of the kernel).
 *
 *                                                      kernel/user
 *    4 GiB ---------> +------------------------------+ 0xFFFFFFFF
 *                     |                              |
 *                     | all of physical memory       |  RW/--
 *                     | (at most 256 MiB)            |
 *                     |                              |
 *    KERNBASE,        +------------------------------+ 0xF0000000
 *    KSTACKTOP        | kernel stack (KSTKSIZE)      |  RW/--
 *                     | - - - - - - - - - - - - - - -|
 *                     | guard; jos-lapic: APICs at   |  RW/--
 *                     | its bottom (MMIOBASE)        |
 *    ULIM, MMIOBASE > +------------------------------+ 0xEFC00000
 *                     | this env's page tables       |  R-/R-  (UVPT: the page
 *                     | (the page directory maps     |          directory maps
 *                     |  itself here)                |          itself)
 *    UVPT ----------> +------------------------------+ 0xEF800000
 *                     | struct PageInfo pages[]      |  R-/R-
 *    UPAGES --------> +------------------------------+ 0xEF400000
 *                     | struct Env envs[NENV]        |  R-/R-
 *    UTOP, UENVS,     +------------------------------+ 0xEF000000
 *    UXSTACKTOP       | user exception stack (1 page)|  RW/RW
 *                     +------------------------------+ 0xEEFFF000
 *                     | guard, never mapped          |  --/--
 *    USTACKTOP -----> +------------------------------+ 0xEEFFE000
 *                     | user stack: one page at the  |  RW/RW
 *                     | start, growstack grows it    |
 *                     | down to USTACKMAX            |
 *                     +------------------------------+ 0xEEEFE000
 *                     .  unmapped, below the stack:  .
 *                     .  a guard                     .
 *                     | libshared.so: at ULIB, or    |  R-/R- text
 *                     | with aslr=1 anywhere up to   |  RW/RW data
 *                     | ULIB + ULIB_SPAN (0x50000000)|
 *    ULIB ----------> +------------------------------+ 0x40000000
 *                     .                              .
 *                     | dedupwork's pages            |  RW/RW
 *    UDEDUP --------> +------------------------------+ 0x20000000
 *                     | dedupwork's page versions    |  RW/RW
 *    UDEDUP_META ---> +------------------------------+ 0x1F000000
 *                     .                              .
 *                     | lazyalloc's 16 MiB region    |  RW/RW
 *    ULAZY ---------> +------------------------------+ 0x10000000
 *                     .                              .
 *                     | program text, data, bss      |  RW/RW
 *    UTEXT ---------> +------------------------------+ 0x00800000
 *                     | COW fault scratch page       |
 *    PFTEMP --------> +------------------------------+ 0x007FF000
 *                     .                              .
 *                     | scratch mappings (dumbfork)  |
 *    UTEMP ---------> +------------------------------+ 0x00400000
 *                     | unmapped: null guard         |  --/--
 *    0 -------------> +------------------------------+
 *
 * jos-lapic maps the local APIC and the I/O APIC at MMIOBASE, in the guard.
 * jos-smp gives CPU i the stack [KSTACKTOP - i * (KSTKSIZE + KSTKGAP) - KSTKSIZE,
 * KSTACKTOP - i * (KSTKSIZE + KSTKGAP)), each above a KSTKGAP guard.
 *
 * Physical memory: page 0 (BIOS data), the I/O hole [640 KiB, 1 MiB) and the
 * kernel image with its boot allocations stay out of the free page list; so does
 * page 7 (APBOOT_PADDR, where the APs start) in jos-smp.
 */
#ifndef JOS_INC_MEMLAYOUT_H
#define JOS_INC_MEMLAYOUT_H

#include <mmu.h>

#define KERNBASE        0xF0000000
#define KSTACKTOP       KERNBASE
#define KSTKSIZE        (8 * PGSIZE)
#define KSTKGAP         (8 * PGSIZE)      /* jos-smp: unmapped guard below each CPU's stack */
#define NCPU            16                /* jos-smp: the most CPUs it starts */
#define ULIM            (KSTACKTOP - PTSIZE)

#define UVPT            (ULIM - PTSIZE)
#define MMIOBASE        ULIM            /* jos-lapic: the local APIC's page, then the I/O APIC's */
#define UPAGES          (UVPT - PTSIZE)
#define UENVS           (UPAGES - PTSIZE)
#define UTOP            UENVS
#define UXSTACKTOP      UTOP
#define USTACKTOP       (UTOP - 2 * PGSIZE)
#define USTACKMAX       (256 * PGSIZE)    /* growstack's limit: 1 MiB of stack */

#define UTEXT           (2 * PTSIZE)
#define UTEMP           PTSIZE
#define PFTEMP          (UTEMP + PTSIZE - PGSIZE)

#define ULAZY           0x10000000        /* lazyalloc's region */
#define UDEDUP          0x20000000        /* dedupwork's pages */
#define ULIB            0x40000000        /* libshared.so, without aslr=1 */
#define ULIB_SPAN       0x10000000        /* aslr=1 loads it in [ULIB, ULIB + ULIB_SPAN) */
#define UDEDUP_META     0x1F000000        /* dedupwork's page versions */

/* Physical addresses. */
#define IOPHYSMEM       0x0A0000
#define EXTPHYSMEM      0x100000
#define KERNPHYS        0x100000          /* the kernel is loaded here */
#define APBOOT_PADDR    0x7000            /* jos-smp: the APs' real-mode start page (kern/apboot.S) */
#define ENTRY_MAPPED    (2 * PTSIZE)      /* what kern/entry.S maps before mem_init */
#define MAXPHYSMEM      (0xFFFFFFFF - KERNBASE + 1)

#ifndef __ASSEMBLER__
#include <types.h>

/* One per physical page; pages[] is visible to users read-only at UPAGES. */
struct PageInfo {
	struct PageInfo *pp_link;   /* next free page, NULL if allocated */
	uint16_t pp_ref;            /* mappings (and other holders) of this page */
	uint16_t pp_ballooned;      /* free, and given to the host by the balloon (kern/balloon.c) */
};

/* The UVPT self-map, as user code sees it. */
extern volatile pte_t uvpt[];     /* the page table entry of every page */
extern volatile pde_t uvpd[];     /* the page directory */
#endif

#endif
