/*
 * A spinlock handed back and forth between two environments (issue 20's handoff benchmark):
 * the parent shares a page with its child over IPC, then the two take handoff.turns=N turns each
 * (default 1000).  Each waits (reading, with PAUSE) until the turn word names it, takes an XCHG
 * spinlock, adds one to the counter, gives the turn to the other and releases the lock, so every
 * turn moves the lock from one side to the other.  On two processors both run at once and the
 * time between the "turns start" and "turns done" lines over 2N is the cost of one handoff; on
 * one, every handoff waits for the timer to switch environments.  Only the parent prints, so the
 * transcript does not depend on the timing.
 */
#include <lib.h>

/* Not 2 MiB (512 pages) from the code at UTEXT: the TLB is direct mapped on 512 entries, and a page
   that took the code's entry would make every turn miss (a miss stops the other processor). */
#define SHARED ((void *)0x00a80000)

struct turns {
	volatile uint32_t lock;
	volatile uint32_t turn;
	volatile uint32_t counter;
	volatile uint32_t finished;
};

static void lock(struct turns *t)
{
	uint32_t v = 1;
	for (;;) {
		asm volatile("xchgl %0, %1" : "+r"(v), "+m"(t->lock) : : "memory");
		if (v == 0)
			return;
		while (t->lock)
			asm volatile("pause");
		v = 1;
	}
}

static void unlock(struct turns *t)
{
	uint32_t v = 0;
	asm volatile("xchgl %0, %1" : "+r"(v), "+m"(t->lock) : : "memory");
}

static void take_turns(struct turns *t, uint32_t me, long n)
{
	for (long i = 0; i < n; i++) {
		while (t->turn != me)
			asm volatile("pause");
		lock(t);
		t->counter++;
		t->turn = 1 - me;
		unlock(t);
	}
	asm volatile("lock incl %0" : "+m"(t->finished) : : "memory");
}

void umain(int argc, char **argv)
{
	long n = arg_long(argc, argv, "handoff.turns", 1000);
	struct turns *t = SHARED;
	int r;

	if (n < 1)
		n = 1;
	envid_t child = fork();
	if (child < 0)
		panic("fork: %d", child);
	if (child == 0) {
		ipc_recv(NULL, SHARED, NULL);   /* the parent's page, writable, shared */
		take_turns(t, 1, n);
		return;
	}

	if ((r = sys_page_alloc(0, SHARED, PTE_P | PTE_U | PTE_W)) < 0)
		panic("sys_page_alloc: %d", r);
	ipc_send(child, 0, SHARED, PTE_P | PTE_U | PTE_W);
	printf("handoff: turns start, %ld each for 2 environments\n", n);
	take_turns(t, 0, n);
	while (t->finished != 2)
		asm volatile("pause");
	printf("handoff: turns done, counter %u, %s\n", t->counter,
	       t->counter == 2 * (uint32_t)n ? "exact" : "WRONG");
	wait(child);
}
