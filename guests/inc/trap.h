/* Trap numbers and the frames the kernel and the page-fault upcall see. */
#ifndef JOS_INC_TRAP_H
#define JOS_INC_TRAP_H

/* Processor exceptions (Intel SDM vol. 3, table 6-1). */
#define T_DIVIDE        0
#define T_DEBUG         1
#define T_NMI           2
#define T_BRKPT         3
#define T_OFLOW         4
#define T_BOUND         5
#define T_ILLOP         6
#define T_DEVICE        7
#define T_DBLFLT        8
#define T_COPROC        9
#define T_TSS           10
#define T_SEGNP         11
#define T_STACK         12
#define T_GPFLT         13
#define T_PGFLT         14
#define T_RES15         15
#define T_FPERR         16
#define T_ALIGN         17
#define T_MCHK          18
#define T_SIMDERR       19
#define T_NEXCEPTIONS   20

/* Hardware interrupts, after the 8259A remap. */
#define IRQ_OFFSET      32
#define IRQ_TIMER       0
#define IRQ_COM1        4
#define IRQ_SPURIOUS    7

/* The system call gate (user-callable). */
#define T_SYSCALL       48

/* jos-smp: the IPI that makes a CPU enter the kernel (to let go of an environment being destroyed). */
#define T_IPI_KICK      49

#ifndef __ASSEMBLER__
#include <types.h>

/* The general registers in PUSHAL order (lowest address first). */
struct PushRegs {
	uint32_t reg_edi;
	uint32_t reg_esi;
	uint32_t reg_ebp;
	uint32_t reg_oesp;      /* the ESP PUSHAL saw; POPAL ignores it */
	uint32_t reg_ebx;
	uint32_t reg_edx;
	uint32_t reg_ecx;
	uint32_t reg_eax;
};

/* What kern/trapentry.S builds on the kernel stack for every trap. */
struct Trapframe {
	struct PushRegs tf_regs;
	uint16_t tf_es, tf_pad1;
	uint16_t tf_ds, tf_pad2;
	uint32_t tf_trapno;
	uint32_t tf_err;        /* the CPU's error code, or 0 */
	uintptr_t tf_eip;       /* from here on pushed by the CPU */
	uint16_t tf_cs, tf_pad3;
	uint32_t tf_eflags;
	uintptr_t tf_esp;       /* only on a privilege change */
	uint16_t tf_ss, tf_pad4;
};

/* What the kernel pushes on the user exception stack for the page-fault upcall. */
struct UTrapframe {
	uint32_t utf_fault_va;
	uint32_t utf_err;
	struct PushRegs utf_regs;
	uintptr_t utf_eip;
	uint32_t utf_eflags;
	uintptr_t utf_esp;
};
#endif

/* Offsets into struct UTrapframe for lib/pfentry.S. */
#define UTF_REGS        8
#define UTF_EIP         40
#define UTF_ESP         48
#define UTF_SIZE        52

#endif
