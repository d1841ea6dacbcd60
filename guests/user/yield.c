/*
 * Address-space switches: a parent and its child each give the CPU away with
 * sys_yield, so the kernel switches between their page directories at every
 * call.  Parameter yield.count=N (default 1000): how many times each yields.
 * Only the parent prints, once the child is gone.
 */
#include <lib.h>

void umain(int argc, char **argv)
{
	long count = arg_long(argc, argv, "yield.count", 1000);

	envid_t child = fork();
	if (child < 0)
		panic("fork: %d", child);
	for (long i = 0; i < count; i++)
		sys_yield();
	if (child == 0)
		return;
	wait(child);
	printf("yield: parent and child yielded %ld times each\n", count);
}
