/* Round-robin scheduling, preempted by the 100 Hz timer; in jos-smp on every CPU. */
#include "kern.h"

volatile bool idling;

/* Halt until an interrupt has been handled (trap.c returns here).  jos-smp: the kernel lock is
 * released meanwhile, and this CPU holds no environment and no environment's page directory. */
static void cpu_wait(void)
{
#ifdef JOS_SMP
	thiscpu->cpu_idle = true;
	unlock_kernel();
#endif
	asm volatile("sti; hlt; cli" ::: "memory");
#ifdef JOS_SMP
	lock_kernel();
	thiscpu->cpu_idle = false;
#endif
}

/* jos.idle=N: sit with interrupts on, halted between timer ticks, for N ticks, as an idle OS does. */
static void idle(void)
{
	idling = true;
	cprintf("jos: idle for %u timer ticks\n", idle_ticks);
	curenv = NULL;
	lcr3(PADDR(kern_pgdir));
	uint32_t end = timer_ticks + idle_ticks;
	while (timer_ticks < end)
		cpu_wait();
}

/* When nothing can run any more, say why and end the run. */
static void sched_halt(void) __attribute__((noreturn));
static void sched_halt(void)
{
	if (idle_ticks && !idling)
		idle();
	int left = 0;
	for (uint32_t i = 0; i < env_hiwater; i++)
		if (envs[i].env_status != ENV_FREE)
			left++;
	/* Timing dependent, so only on request (jos.ticks=1). */
	if (show_ticks)
		cprintf("jos: %u timer ticks\n", timer_ticks);
	if (left == 0)
		cprintf("jos: no runnable environments, halting\n");
	else
		cprintf("jos: %d environment%s blocked forever, halting\n", left,
			left == 1 ? "" : "s");
	halt_machine();
}

/* An environment runs (or is being destroyed) on some CPU: it can still wake others. */
static bool env_on_a_cpu(void)
{
	for (uint32_t i = 0; i < env_hiwater; i++)
		if (envs[i].env_status == ENV_RUNNING || envs[i].env_status == ENV_DYING)
			return true;
	return false;
}

/* Run the next runnable env after the current one, or the current one again.  jos-smp: with
 * neither, this CPU idles while another CPU still runs something; the last one ends the run. */
void sched_yield(void)
{
#ifdef JOS_SMP
	if (curenv && curenv->env_status == ENV_DYING) {
		/* Another CPU destroys it once this one lets go (env.c). */
		lcr3(PADDR(kern_pgdir));
		curenv = NULL;
	}
#endif
	for (;;) {
		uint32_t n = env_hiwater;
		uint32_t start = curenv ? ENVX(curenv->env_id) + 1 : 0;

		for (uint32_t i = 0; i < n; i++) {
			struct Env *e = &envs[(start + i) % n];
			if (e->env_status == ENV_RUNNABLE)
				env_run(e);
		}
		if (curenv && curenv->env_status == ENV_RUNNING)
			env_run(curenv);
		/* jos-smp: while one CPU sits out jos.idle=N in idle(), the others only wait. */
		if (!env_on_a_cpu() && !idling)
			sched_halt();
		curenv = NULL;
		lcr3(PADDR(kern_pgdir));
		cpu_wait();
	}
}
