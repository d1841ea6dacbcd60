/* The GDT, the IDT and trap handling. */
#include "kern.h"

/* One TSS (and GDT slot from GD_TSS on) per CPU: each CPU's ring-0 stack is its own. */
#ifdef JOS_SMP
#define NTSS NCPU
#else
#define NTSS 1
#endif
static struct Taskstate ts[NTSS];
static uint64_t gdt[(GD_TSS >> 3) + NTSS];
static uint64_t idt[256];

/* Segment descriptor (Intel SDM vol. 3, 3.4.5): type, S, DPL, P, and in
 * the flags nibble G (bit 3) and D/B (bit 2). */
static uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned type, unsigned s,
			 unsigned dpl, unsigned flags)
{
	uint32_t lo = (limit & 0xFFFF) | (base & 0xFFFF) << 16;
	uint32_t hi = ((base >> 16) & 0xFF) | type << 8 | s << 12 | dpl << 13 | 1 << 15 |
		      (limit & 0xF0000) | flags << 20 | (base & 0xFF000000);
	return (uint64_t)hi << 32 | lo;
}

/* A 32-bit interrupt gate: IF is cleared on entry, so the kernel runs with
 * interrupts off. */
static uint64_t gate_desc(uint32_t offset, uint16_t sel, unsigned dpl)
{
	uint32_t lo = (offset & 0xFFFF) | (uint32_t)sel << 16;
	uint32_t hi = (offset & 0xFFFF0000) | 1 << 15 | dpl << 13 | 0xE << 8;
	return (uint64_t)hi << 32 | lo;
}

extern const uint32_t trap_vectors[];

/* Halted in the scheduler, or in jos.idle=N's idle loop, waiting for an interrupt. */
static bool cpu_waiting(void)
{
#ifdef JOS_SMP
	return thiscpu->cpu_idle;
#else
	return idling;
#endif
}

void trap_init(void)
{
	gdt[0] = 0;
	gdt[GD_KT >> 3] = seg_desc(0, 0xFFFFF, 0xA, 1, 0, 0xC);    /* code, execute/read */
	gdt[GD_KD >> 3] = seg_desc(0, 0xFFFFF, 0x2, 1, 0, 0xC);    /* data, read/write */
	gdt[GD_UT >> 3] = seg_desc(0, 0xFFFFF, 0xA, 1, 3, 0xC);
	gdt[GD_UD >> 3] = seg_desc(0, 0xFFFFF, 0x2, 1, 3, 0xC);
	for (int cpu = 0; cpu < NTSS; cpu++) {
		ts[cpu].ts_esp0 = KSTACKTOP - cpu * (KSTKSIZE + KSTKGAP);
		ts[cpu].ts_ss0 = GD_KD;
		ts[cpu].ts_iomb = sizeof(ts[cpu]);      /* no I/O permission bitmap */
		gdt[(GD_TSS >> 3) + cpu] = seg_desc((uint32_t)&ts[cpu], sizeof(ts[cpu]) - 1,
						    0x9, 0, 0, 0);
	}
	for (const uint32_t *v = trap_vectors; v[0] != 0xFFFFFFFF; v += 2) {
		unsigned dpl = (v[0] == T_SYSCALL || v[0] == T_BRKPT) ? 3 : 0;
		idt[v[0]] = gate_desc(v[1], GD_KT, dpl);
	}
	trap_init_percpu();
}

void trap_init_percpu(void)
{
	struct Pseudodesc pd;

	pd.pd_lim = sizeof(gdt) - 1;
	pd.pd_base = (uint32_t)gdt;
	lgdt(&pd);
	asm volatile("ljmp %0, $1f\n1:\n"
		     "movw %w1, %%ds\n"
		     "movw %w1, %%es\n"
		     "movw %w1, %%ss\n"
		     "movw %w2, %%fs\n"
		     "movw %w2, %%gs\n"
		     : : "i"(GD_KT), "r"(GD_KD), "r"(0));
	ltr(GD_TSS + 8 * cpunum());

	pd.pd_lim = sizeof(idt) - 1;
	pd.pd_base = (uint32_t)idt;
	lidt(&pd);
}

static const char *const exception_names[T_NEXCEPTIONS] = {
	"Divide Error",
	"Debug",
	"Non-Maskable Interrupt",
	"Breakpoint",
	"Overflow",
	"BOUND Range Exceeded",
	"Invalid Opcode",
	"Device Not Available",
	"Double Fault",
	"Coprocessor Segment Overrun",
	"Invalid TSS",
	"Segment Not Present",
	"Stack-Segment Fault",
	"General Protection",
	"Page Fault",
	"(reserved)",
	"x87 FPU Floating-Point Error",
	"Alignment Check",
	"Machine Check",
	"SIMD Floating-Point Exception",
};

const char *trapname(int trapno)
{
	if (trapno >= 0 && trapno < T_NEXCEPTIONS)
		return exception_names[trapno];
	if (trapno == T_SYSCALL)
		return "System call";
	if (trapno >= IRQ_OFFSET && trapno < IRQ_OFFSET + 16)
		return "Hardware Interrupt";
	return "(unknown trap)";
}

/*
 * The fault report, in the manner of the register dump of the course's
 * patched QEMU: trap number and name, error code, eip, cr2 (page faults
 * only: for other traps CR2 is stale), esp and the other registers.
 */
void print_trapframe(struct Trapframe *tf)
{
	bool user = (tf->tf_cs & 3) == 3;

	cprintf("  trap 0x%08x %s\n", tf->tf_trapno, trapname(tf->tf_trapno));
	if (tf->tf_trapno == T_PGFLT)
		cprintf("  err  0x%08x [%s, %s, %s]\n", tf->tf_err,
			tf->tf_err & FEC_U ? "user" : "kernel",
			tf->tf_err & FEC_WR ? "write" : "read",
			tf->tf_err & FEC_PR ? "protection" : "not-present");
	else
		cprintf("  err  0x%08x\n", tf->tf_err);
	cprintf("  eip  0x%08x\n", tf->tf_eip);
	if (tf->tf_trapno == T_PGFLT)
		cprintf("  cr2  0x%08x\n", rcr2());
	if (user)
		cprintf("  esp  0x%08x\n", tf->tf_esp);
	cprintf("  eflags 0x%08x  cs 0x%04x  ds 0x%04x  es 0x%04x  ss 0x%04x\n",
		tf->tf_eflags, tf->tf_cs, tf->tf_ds, tf->tf_es, user ? tf->tf_ss : GD_KD);
	cprintf("  eax 0x%08x  ebx 0x%08x  ecx 0x%08x  edx 0x%08x\n",
		tf->tf_regs.reg_eax, tf->tf_regs.reg_ebx, tf->tf_regs.reg_ecx,
		tf->tf_regs.reg_edx);
	cprintf("  esi 0x%08x  edi 0x%08x  ebp 0x%08x\n",
		tf->tf_regs.reg_esi, tf->tf_regs.reg_edi, tf->tf_regs.reg_ebp);
}

/* An exception the environment cannot handle: report it and destroy it. */
static void user_fault(struct Trapframe *tf, const char *why)
{
	cprintf("[%08x] user fault: %s\n", curenv->env_id, why);
	print_trapframe(tf);
	env_destroy(curenv);
}

/*
 * A write to a copy-on-write page by an environment without a page-fault
 * upcall (libshared.so's data, kern/shlib.c): give it its own writable copy.
 * Environments with an upcall (those that forked) do this themselves.
 */
static bool kernel_cow(struct Env *e, uintptr_t va, uint32_t err)
{
	pte_t *pte = pgdir_walk(e->env_pgdir, (void *)va, 0);

	if (!(err & FEC_WR) || !(err & FEC_PR) || pte == NULL ||
	    (*pte & (PTE_P | PTE_U | PTE_COW)) != (PTE_P | PTE_U | PTE_COW))
		return false;
	struct PageInfo *copy = page_alloc(0);
	if (copy == NULL)
		return false;
	memcpy(page2kva(copy), KADDR(PTE_ADDR(*pte)), PGSIZE);
	int perm = (PTE_FLAGS(*pte) & PTE_SYSCALL & ~PTE_COW) | PTE_W;
	if (page_insert(e->env_pgdir, copy, (void *)ROUNDDOWN(va, PGSIZE), perm) < 0) {
		page_free(copy);
		return false;
	}
	return true;
}

/* Push a UTrapframe on the user exception stack and resume at the upcall. */
static void page_fault_handler(struct Trapframe *tf)
{
	uint32_t fault_va = rcr2();

	if ((tf->tf_cs & 3) != 3) {
		cprintf("jos: page fault in the kernel at va %08x\n", fault_va);
		print_trapframe(tf);
		panic("kernel page fault");
	}
	if (curenv->env_pgfault_upcall == NULL) {
		if (kernel_cow(curenv, fault_va, tf->tf_err))
			return;
		user_fault(tf, "unhandled page fault");
		return;
	}

	/* A fault while already on the exception stack nests below the current
	 * frame, leaving one word for lib/pfentry.S to write the return eip. */
	uintptr_t top = UXSTACKTOP;
	if (tf->tf_esp >= UXSTACKTOP - PGSIZE && tf->tf_esp < UXSTACKTOP)
		top = tf->tf_esp - 4;
	struct UTrapframe *utf = (struct UTrapframe *)(top - sizeof(struct UTrapframe));
	if (user_mem_check(curenv, utf, sizeof(*utf), PTE_U | PTE_W) < 0) {
		user_fault(tf, (uintptr_t)utf < UXSTACKTOP - PGSIZE ?
			   "page fault with the exception stack full" :
			   "page fault without an exception stack");
		return;
	}
	utf->utf_fault_va = fault_va;
	utf->utf_err = tf->tf_err;
	utf->utf_regs = tf->tf_regs;
	utf->utf_eip = tf->tf_eip;
	utf->utf_eflags = tf->tf_eflags;
	utf->utf_esp = tf->tf_esp;
	tf->tf_esp = (uintptr_t)utf;
	tf->tf_eip = (uintptr_t)curenv->env_pgfault_upcall;
}

static void trap_dispatch(struct Trapframe *tf)
{
	switch (tf->tf_trapno) {
	case T_PGFLT:
		page_fault_handler(tf);
		return;
	case T_SYSCALL:
		tf->tf_regs.reg_eax = syscall(tf->tf_regs.reg_eax, tf->tf_regs.reg_edx,
					      tf->tf_regs.reg_ecx, tf->tf_regs.reg_ebx,
					      tf->tf_regs.reg_edi, tf->tf_regs.reg_esi);
		return;
	case IRQ_OFFSET + IRQ_TIMER:
		if (cpunum() == 0) {    /* jos-smp: every CPU ticks; the BSP's ticks keep time */
			timer_ticks++;
			balloon_tick();
		}
		irq_eoi(IRQ_TIMER);
		if (cpu_waiting())
			return;
		sched_yield();
	case IRQ_OFFSET + IRQ_COM1:
		serial_intr();
		irq_eoi(IRQ_COM1);
		return;
#ifdef JOS_SMP
	case T_IPI_KICK:
		/* Only to enter the kernel: trap() then lets go of a dying environment. */
		lapic_eoi();
		return;
#endif
	case IRQ_OFFSET + IRQ_SPURIOUS:
		/* A spurious IRQ 7 has no in-service bit and gets no EOI. */
		if (pic_master_isr() & (1 << IRQ_SPURIOUS))
			pic_eoi(IRQ_SPURIOUS);
		return;
	}
	if (tf->tf_trapno >= IRQ_OFFSET && tf->tf_trapno < IRQ_OFFSET + 16) {
		irq_eoi(tf->tf_trapno - IRQ_OFFSET);
		return;
	}
	if ((tf->tf_cs & 3) != 3) {
		cprintf("jos: trap in the kernel\n");
		print_trapframe(tf);
		panic("unexpected trap in the kernel");
	}
	user_fault(tf, "unhandled trap");
}

static bool is_interrupt(uint32_t trapno)
{
	return (trapno >= IRQ_OFFSET && trapno < IRQ_OFFSET + 16) || trapno == T_IPI_KICK;
}

/* Called by alltraps (trapentry.S) with interrupts off. */
void trap(struct Trapframe *tf)
{
	asm volatile("cld" ::: "cc");

	bool from_user = (tf->tf_cs & 3) == 3;
	bool waiting = cpu_waiting();
	/* jos-smp: the kernel lock, unless this CPU holds it already (a fault in the kernel). */
	if (from_user || waiting)
		lock_kernel();
	if (from_user) {
		/* From user mode: keep the frame in the env, the stack is reused. */
		assert(curenv && (curenv->env_status == ENV_RUNNING ||
				  curenv->env_status == ENV_DYING));
		curenv->env_tf = *tf;
		tf = &curenv->env_tf;
		/* jos-smp: another CPU is destroying it; let go of it (sched.c), an interrupt
		 * still gets its handling and EOI. */
		if (curenv->env_status == ENV_DYING && !is_interrupt(tf->tf_trapno))
			sched_yield();
	}
	trap_dispatch(tf);

	/* An interrupt while this CPU idles (the scheduler's or jos.idle=N's): back to its loop. */
	if (waiting && !from_user) {
		unlock_kernel();
		env_pop_tf(tf);
	}
	if (curenv && curenv->env_status == ENV_RUNNING)
		env_run(curenv);
	sched_yield();
}
