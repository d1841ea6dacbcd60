/*
 * A stack that grows on demand: the environment starts with one stack page,
 * and the page-fault upcall maps a new page for any fault in the USTACKMAX
 * bytes below USTACKTOP.  Parameter growstack.depth=N: recursion depth
 * (default 200, about 300 bytes per level).
 */
#include <lib.h>

static unsigned grown;

static void handler(struct UTrapframe *utf)
{
	uintptr_t va = utf->utf_fault_va;
	int r;

	if (va < USTACKTOP - USTACKMAX || va >= USTACKTOP)
		panic("fault at va %08x is not a stack access, eip %08x", va, utf->utf_eip);
	if ((r = sys_page_alloc(0, (void *)ROUNDDOWN(va, PGSIZE), PTE_P | PTE_U | PTE_W)) < 0)
		panic("sys_page_alloc: %d", r);
	grown++;
}

static uint32_t deep(unsigned depth, uint32_t seed)
{
	volatile uint32_t frame[64];
	uint32_t s = 0;

	for (int i = 0; i < 64; i++)
		frame[i] = seed * (i + 1) + depth;
	if (depth > 0)
		s = deep(depth - 1, seed * 31 + 7);
	for (int i = 0; i < 64; i++)
		s = (s << 3 | s >> 29) ^ frame[i];
	return s;
}

void umain(int argc, char **argv)
{
	unsigned depth = arg_long(argc, argv, "growstack.depth", 200);
	uintptr_t lowest;

	set_pgfault_handler(handler);
	printf("growstack: recursing %u levels on a stack of one page\n", depth);
	uint32_t sum = deep(depth, 1);
	for (lowest = USTACKTOP; lowest > USTACKTOP - USTACKMAX; lowest -= PGSIZE)
		if (!(uvpd[PDX(lowest - PGSIZE)] & PTE_P) ||
		    !(uvpt[PGNUM(lowest - PGSIZE)] & PTE_P))
			break;
	printf("growstack: checksum %08x; the stack grew by %u pages, down to %08x\n",
	       sum, grown, lowest);
}
