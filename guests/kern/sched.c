/* Round-robin scheduling, preempted by the 100 Hz timer. */
#include "kern.h"

volatile bool idling;

/* jos.idle=N: sit with interrupts on, halted between timer ticks, for N ticks, as an idle OS does. */
static void idle(void)
{
	idling = true;
	cprintf("jos: idle for %u timer ticks\n", idle_ticks);
	curenv = NULL;
	lcr3(PADDR(kern_pgdir));
	uint32_t end = timer_ticks + idle_ticks;
	while (timer_ticks < end)
		asm volatile("sti; hlt; cli" ::: "memory");
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

/* Run the next runnable env after the current one, or the current one again. */
void sched_yield(void)
{
	uint32_t n = env_hiwater;
	uint32_t start = curenv ? ENVX(curenv->env_id) + 1 : 0;

	for (uint32_t i = 0; i < n; i++) {
		struct Env *e = &envs[(start + i) % n];
		if (e->env_status == ENV_RUNNABLE)
			env_run(e);
	}
	if (curenv && curenv->env_status == ENV_RUNNING)
		env_run(curenv);
	sched_halt();
}
