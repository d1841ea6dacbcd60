/*
 * Lazy allocation: reserve a large region and back it page by page, on the
 * first touch, from the page-fault upcall.  Parameter lazyalloc.pages=N: how
 * many pages to write (default 256) in a region of 4096 pages (16 MiB).
 */
#include <lib.h>

#define REGION_PAGES 4096
#define REGION_SIZE (REGION_PAGES * PGSIZE)

static unsigned faults, read_faults, write_faults;

static void handler(struct UTrapframe *utf)
{
	uintptr_t va = utf->utf_fault_va;
	int r;

	if (va < ULAZY || va >= ULAZY + REGION_SIZE)
		panic("fault at va %08x outside the region, eip %08x", va, utf->utf_eip);
	if ((r = sys_page_alloc(0, (void *)ROUNDDOWN(va, PGSIZE), PTE_P | PTE_U | PTE_W)) < 0)
		panic("sys_page_alloc: %d", r);
	faults++;
	if (utf->utf_err & FEC_WR)
		write_faults++;
	else
		read_faults++;
}

/* The i-th page written: a walk through the region that never repeats
 * (7919 is prime, so coprime to the region's 4096 pages). */
static volatile uint32_t *page_word(unsigned i)
{
	unsigned pn = (i * 7919) % REGION_PAGES;
	return (volatile uint32_t *)(ULAZY + pn * PGSIZE + (i * 68) % PGSIZE);
}

void umain(int argc, char **argv)
{
	unsigned n = arg_long(argc, argv, "lazyalloc.pages", 256);
	uint32_t sum = 0;

	if (n > REGION_PAGES / 2)
		n = REGION_PAGES / 2;
	set_pgfault_handler(handler);
	printf("lazyalloc: reserved %u KiB at %08x, backed on first touch\n",
	       REGION_SIZE / 1024, ULAZY);

	for (unsigned i = 0; i < n; i++)
		*page_word(i) = i * 0x9E3779B1u + 1;
	printf("lazyalloc: wrote one word in each of %u pages: %u faults\n", n, faults);

	/* Pages never written read as zero (each one faults once). */
	for (unsigned i = 0; i < n / 4; i++)
		sum += *(volatile uint32_t *)(ULAZY + REGION_SIZE - (i + 1) * PGSIZE);
	printf("lazyalloc: read %u untouched pages: sum %u, %u faults in all\n", n / 4, sum, faults);

	/* Everything written is still there, and reading it faults no more. */
	unsigned before = faults, bad = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t v = *page_word(i);
		sum = (sum << 5 | sum >> 27) ^ v;
		if (v != i * 0x9E3779B1u + 1)
			bad++;
	}
	printf("lazyalloc: read back %u words: %u wrong, %u new faults, checksum %08x\n",
	       n, bad, faults - before, sum);
	printf("lazyalloc: %u page faults: %u on write, %u on read; %u KiB backed\n",
	       faults, write_faults, read_faults, faults * PGSIZE / 1024);
}
