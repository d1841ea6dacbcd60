/*
 * System calls that do almost nothing: sys_getenvid in a loop, so the time
 * goes to the trap into the kernel and the return to user mode.  Parameter
 * syscalls.count=N (default 10000).
 */
#include <lib.h>

void umain(int argc, char **argv)
{
	long count = arg_long(argc, argv, "syscalls.count", 10000);
	envid_t me = thisenv->env_id;
	long wrong = 0;

	for (long i = 0; i < count; i++)
		if (sys_getenvid() != me)
			wrong++;
	printf("syscalls: %ld calls of sys_getenvid, %ld answered another id\n", count, wrong);
}
