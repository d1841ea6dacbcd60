/*
 * A program linked against libshared.so (the Makefile's SHPROGS): the kernel
 * loads the library with it (kern/shlib.c), and printf and the string
 * functions below come from there.  Parameters (kernel command line):
 *
 *   lib.calls=P   percent of the library's padding functions called (100):
 *                 their checksum shows the library was relocated right, for
 *                 it is the same for every build and load address
 *   lib.touch=P   percent of the library's data pages written (25): each
 *                 one stops being shared with the library file
 *   lib.forks=N   children forked after the work, each doing it again (0)
 *   lib.hold=1    stay alive, blocked, at the end instead of exiting, so the
 *                 library stays mapped while the kernel idles (jos.idle=N)
 *   seed=S        mixed into what touched pages get (1)
 *
 * Several libuser environments loaded from the command line take turns: each
 * starts only once the one loaded before it (with its children) is done, and
 * a parent forks its next child only once the last one is done, so the
 * transcript never depends on the timer.  Run it alone, or beside programs
 * that print nothing.
 */
#include <lib.h>
#include <hash.h>
#include <shlib.h>

static long calls_pct, touch_pct, forks, hold, seed;

/* Is item i one of the pct percent of n chosen (spread evenly, floor(n pct / 100) of them)? */
static bool chosen(unsigned i, long pct)
{
	return (i + 1) * pct / 100 > i * pct / 100;
}

static void work(void)
{
	envid_t me = sys_getenvid();
	unsigned nfuncs = shlib_functions(), npages = shlib_data_pages();
	unsigned called = 0, touched = 0;
	uint32_t sum = 0;

	printf("libuser %08x: %s, %u functions, %u data pages\n", me, shlib_build(), nfuncs, npages);
	for (unsigned i = 0; i < nfuncs; i++) {
		if (!chosen(i, calls_pct))
			continue;
		sum = (sum << 7 | sum >> 25) ^ shlib_call(i, mix32(i));
		called++;
	}
	for (unsigned p = 0; p < npages; p++) {
		if (!chosen(p, touch_pct))
			continue;
		shlib_touch(p, mix32(p ^ (uint32_t)me * 0x01000193u ^ (uint32_t)seed * 0x9E3779B1u));
		touched++;
	}
	printf("libuser %08x: called %u functions, checksum %08x; touched %u data pages\n", me,
	       called, sum, touched);
}

/* Block for good: the environment and its memory stay. */
static void __attribute__((noreturn)) stay(void)
{
	for (;;)
		ipc_recv(NULL, NULL, NULL);
}

/* The end of one environment's part: tell whoever waits, then stay or go. */
static void __attribute__((noreturn)) done(envid_t waiter)
{
	if (hold && waiter)
		ipc_send(waiter, 0, NULL, 0);
	if (hold)
		stay();
	exit();
}

/* The libuser environment loaded from the command line just before (after) us, or 0. */
static envid_t loaded_neighbour(int dir)
{
	for (int i = ENVX(thisenv->env_id) + dir; i >= 0 && i < NENV; i += dir) {
		const volatile struct Env *e = &envs[i];
		if (e->env_status != ENV_FREE && e->env_parent_id == 0 &&
		    strcmp((const char *)e->env_name, "libuser") == 0)
			return e->env_id;
	}
	return 0;
}

void umain(int argc, char **argv)
{
	calls_pct = arg_long(argc, argv, "lib.calls", 100);
	touch_pct = arg_long(argc, argv, "lib.touch", 25);
	forks = arg_long(argc, argv, "lib.forks", 0);
	hold = arg_long(argc, argv, "lib.hold", 0);
	seed = arg_long(argc, argv, "seed", 1);
	calls_pct = MAX(0L, MIN(100L, calls_pct));
	touch_pct = MAX(0L, MIN(100L, touch_pct));

	envid_t before = loaded_neighbour(-1);
	if (before) {
		ipc_recv(NULL, NULL, NULL);     /* its turn is over */
		if (!hold)
			wait(before);
	}
	work();
	for (long i = 0; i < forks; i++) {
		envid_t child = fork();
		if (child < 0)
			panic("fork: %d", child);
		if (child == 0) {
			work();
			done(thisenv->env_parent_id);
		}
		if (hold)
			ipc_recv(NULL, NULL, NULL);
		else
			wait(child);
	}
	envid_t after = loaded_neighbour(+1);
	if (after && !hold)
		ipc_send(after, 0, NULL, 0);
	done(after);
}
