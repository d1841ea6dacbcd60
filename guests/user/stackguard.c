/* Recurse without bound: the unmapped guard page below the one-page user
 * stack stops it with a page fault, which the kernel reports. */
#include <lib.h>

static volatile unsigned limit = 0xFFFFFFFF;

static unsigned recurse(unsigned depth)
{
	volatile uint32_t frame[24];

	frame[0] = depth;
	if (depth >= limit)
		return depth;
	return recurse(depth + 1) + frame[0];
}

void umain(int argc, char **argv)
{
	printf("stackguard: recursing without bound on a %d-byte stack\n", PGSIZE);
	printf("stackguard: recursion returned %u, which should not happen\n", recurse(0));
}
