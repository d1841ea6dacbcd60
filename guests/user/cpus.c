/*
 * Proof that every CPU runs environments (jos-smp; elsewhere there is one CPU).  The parent forks
 * 4 children per CPU; in rounds, each child spins a while, yields, and reports the CPUs it has run
 * on (sys_getcpuid after each spin) over IPC; the parent merges the reports and starts another
 * round until every CPU has been seen or cpus.rounds=N (default 50) rounds are over.  Then it ends
 * the children one at a time, waiting for each to be gone, so the kernel's lines come in a fixed
 * order, and prints only what does not depend on timing: how many CPUs ran children, and per CPU
 * yes or no.  cpus.spin=N (default 200000) is the length of a spin.
 */
#include <lib.h>

#define ROUND_MORE 1
#define ROUND_STOP 0

static void child(long spin)
{
	for (;;) {
		uint32_t seen = 0;
		for (int i = 0; i < 4; i++) {
			for (volatile long n = 0; n < spin; n++)
				;
			seen |= 1u << sys_getcpuid();
			sys_yield();
		}
		ipc_send(thisenv->env_parent_id, seen, NULL, 0);
		if (ipc_recv(NULL, NULL, NULL) == ROUND_STOP)
			exit();
	}
}

void umain(int argc, char **argv)
{
	long spin = arg_long(argc, argv, "cpus.spin", 200000);
	long rounds = arg_long(argc, argv, "cpus.rounds", 50);
	int ncpu = sys_ncpu();
	int nchild = 4 * ncpu;
	envid_t kids[4 * NCPU];
	uint32_t all = ncpu >= 32 ? ~0u : (1u << ncpu) - 1;
	uint32_t seen = 0;

	printf("cpus: the kernel runs on %d CPU%s; forking %d children\n", ncpu,
	       ncpu == 1 ? "" : "s", nchild);
	for (int i = 0; i < nchild; i++) {
		envid_t id = fork();
		if (id < 0)
			panic("fork: %d", id);
		if (id == 0)
			child(spin);
		kids[i] = id;
	}

	for (long round = 1;; round++) {
		for (int i = 0; i < nchild; i++)
			seen |= ipc_recv(NULL, NULL, NULL);
		if (seen != all && round < rounds) {
			for (int i = 0; i < nchild; i++)
				ipc_send(kids[i], ROUND_MORE, NULL, 0);
			continue;
		}
		/* One child at a time, so the kernel's lines about them come in a fixed order. */
		for (int i = 0; i < nchild; i++) {
			ipc_send(kids[i], ROUND_STOP, NULL, 0);
			wait(kids[i]);
		}
		break;
	}

	int ran = 0;
	for (int cpu = 0; cpu < ncpu; cpu++)
		ran += (seen >> cpu) & 1;
	printf("cpus: %d CPU%s ran environments\n", ran, ran == 1 ? "" : "s");
	for (int cpu = 0; cpu < ncpu; cpu++)
		printf("cpus: CPU %d: %s\n", cpu, (seen >> cpu) & 1 ? "yes" : "no");
}
