/*
 * jos-smp's big kernel lock: one CPU at a time runs kernel code.  trap() takes it on every entry
 * from user mode (and when an interrupt wakes a CPU idling in the scheduler); env_run() releases
 * it just before the return to user mode; a CPU with nothing to run releases it while it halts.
 */
#include "kern.h"

static volatile uint32_t kernel_locked;
static volatile int kernel_lock_cpu = -1;      /* who holds it, for kernel_lock_held() */

/* XCHG with a memory operand is locked without a LOCK prefix (SDM vol. 3, 8.1.2.1). */
static inline uint32_t xchg(volatile uint32_t *p, uint32_t v)
{
	asm volatile("xchgl %0, %1" : "+m"(*p), "+r"(v) : : "memory");
	return v;
}

void lock_kernel(void)
{
	if (kernel_lock_held())
		panic("CPU %d takes the kernel lock it holds", cpunum());
	/* Try with XCHG; while it is taken, only read (no bus locking) and PAUSE between reads. */
	while (xchg(&kernel_locked, 1) != 0)
		while (kernel_locked)
			asm volatile("pause");
	kernel_lock_cpu = cpunum();
}

void unlock_kernel(void)
{
	if (!kernel_lock_held())
		panic("CPU %d releases the kernel lock it does not hold", cpunum());
	kernel_lock_cpu = -1;
	xchg(&kernel_locked, 0);
}

bool kernel_lock_held(void)
{
	return kernel_locked && kernel_lock_cpu == cpunum();
}
