/* A null pointer dereference, turned into a readable report by the
 * page-fault upcall instead of the kernel's trap frame dump. */
#include <lib.h>

static void handler(struct UTrapframe *utf)
{
	if (utf->utf_fault_va < PGSIZE) {
		printf("null pointer exception at eip %08x: %s of address %08x\n",
		       utf->utf_eip, utf->utf_err & FEC_WR ? "write" : "read",
		       utf->utf_fault_va);
		exit();
	}
	panic("unexpected page fault at va %08x, eip %08x", utf->utf_fault_va, utf->utf_eip);
}

struct node {
	int value;
	struct node *next;
};

static int sum(struct node *n)
{
	int s = 0;
	for (int i = 0; i < 4; i++, n = n->next)
		s += n->value;
	return s;
}

void umain(int argc, char **argv)
{
	static struct node c = { 3, NULL }, b = { 2, &c }, a = { 1, &b };

	set_pgfault_handler(handler);
	printf("nullptr: summing a list of 3 nodes as if it had 4\n");
	printf("nullptr: sum %d, which should not happen\n", sum(&a));
}
