/*
 * Preemption: the child spins forever without a system call, so the parent
 * can only run again because the timer interrupt takes the CPU away from it.
 * The parent then yields a few times (spin.yields=N, default 2; each time the
 * child spins until the next tick) and destroys the child.
 */
#include <lib.h>

void umain(int argc, char **argv)
{
	long yields = arg_long(argc, argv, "spin.yields", 2);

	printf("spin: I am the parent, forking a child that spins\n");
	envid_t child = fork();
	if (child < 0)
		panic("fork: %d", child);

	if (child == 0) {
		printf("spin: I am the child, spinning\n");
		ipc_send(thisenv->env_parent_id, 0, NULL, 0);
		for (volatile unsigned n = 0;; n++)
			;
	}

	ipc_recv(NULL, NULL, NULL);
	printf("spin: the parent runs again: the timer preempted the spinning child\n");
	for (long i = 0; i < yields; i++)
		sys_yield();
	printf("spin: the parent yielded %ld times to the child, destroying it\n", yields);
	sys_env_destroy(child);
	printf("spin: done\n");
}
