/*
 * A CPU-bound job split across environments, for timing N CPUs against one (issue 20's speedup
 * benchmark): parwork.units=U units (default 64) of parwork.iters=I rounds (default 100000) of
 * integer mixing each, dealt round robin to parwork.envs=N children (default 2).  Each child
 * sends the sum of its units' results over IPC; the parent adds them up.  The sum does not depend
 * on N or on which CPU ran what, so the transcript is the same for any N and any CPU count but
 * for the line that names N.  The children end one at a time, so the kernel's lines about them
 * come in a fixed order.
 */
#include <lib.h>

#define MAXENVS 64

/* The result of unit u: I rounds of xorshift and multiply, seeded by u. */
static uint32_t unit(uint32_t u, long iters)
{
	uint32_t x = 0x9E3779B9u ^ (u * 0x85EBCA6Bu), acc = u;
	for (long i = 0; i < iters; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		acc = acc * 31 + (x ^ (uint32_t)i);
	}
	return acc;
}

void umain(int argc, char **argv)
{
	long units = arg_long(argc, argv, "parwork.units", 64);
	long iters = arg_long(argc, argv, "parwork.iters", 100000);
	long nenv = arg_long(argc, argv, "parwork.envs", 2);
	envid_t kids[MAXENVS];

	if (nenv < 1 || nenv > MAXENVS || units < 0 || iters < 0) {
		printf("parwork: parwork.envs must be 1 to %d, units and iters not negative\n", MAXENVS);
		return;
	}
	printf("parwork: %ld units of %ld rounds over %ld environments\n", units, iters, nenv);
	for (long k = 0; k < nenv; k++) {
		envid_t id = fork();
		if (id < 0)
			panic("fork: %d", id);
		if (id == 0) {
			uint32_t sum = 0;
			for (long u = k; u < units; u += nenv)
				sum += unit(u, iters);
			ipc_send(thisenv->env_parent_id, sum, NULL, 0);
			ipc_recv(NULL, NULL, NULL);     /* the parent's word to end */
			exit();
		}
		kids[k] = id;
	}

	uint32_t total = 0;
	for (long k = 0; k < nenv; k++)
		total += ipc_recv(NULL, NULL, NULL);
	for (long k = 0; k < nenv; k++) {
		ipc_send(kids[k], 0, NULL, 0);
		wait(kids[k]);
	}
	printf("parwork: checksum %08x\n", total);
}
