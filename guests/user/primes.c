/*
 * The prime sieve as a pipeline of environments: the first one sends 2, 3,
 * 4, ... down the pipeline over IPC; the k-th filter prints the first number
 * it receives, the k-th prime p, forks the next filter and passes on every
 * number not divisible by p.  The last filter exits after printing; then each
 * sender in turn finds its receiver gone and exits too.  Each number is
 * printed before it can reach the next filter, so the order is fixed.
 * Parameter primes.n=N: how many primes (default 25, the primes below 100).
 */
#include <lib.h>

static void filter(int n)
{
	int k = 1;
	envid_t from;

	for (;;) {
		int p = ipc_recv(&from, NULL, NULL);
		printf("prime %d: %d\n", k, p);
		if (k == n)
			return;
		envid_t next = fork();
		if (next < 0)
			panic("fork: %d", next);
		if (next == 0) {
			k++;        /* the child is the next filter */
			continue;
		}
		for (;;) {
			int i = ipc_recv(&from, NULL, NULL);
			if (i % p != 0 && ipc_send(next, i, NULL, 0) < 0)
				return;
		}
	}
}

void umain(int argc, char **argv)
{
	int n = arg_long(argc, argv, "primes.n", 25);

	if (n < 1)
		n = 1;
	printf("primes: the first %d primes, one environment each\n", n);
	envid_t first = fork();
	if (first < 0)
		panic("fork: %d", first);
	if (first == 0) {
		filter(n);
		return;
	}
	for (uint32_t i = 2;; i++)
		if (ipc_send(first, i, NULL, 0) < 0)
			break;
}
