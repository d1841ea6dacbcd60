/* libshared.so's own functions (inc/shlib.h). */
#include <shlib.h>
#include <mmu.h>
#include "padding.h"

/* From shlib/shlib.ld: where the library's .data starts and ends. */
extern uint32_t __shlib_data_start[], __shlib_data_end[];

const char *shlib_build(void)
{
#ifdef __PIC__
	return "libshared.so: pic";
#else
	return "libshared.so: nonpic";
#endif
}

unsigned shlib_functions(void)
{
	unsigned n = 0;
	for (unsigned b = 0; b < padding_nblocks; b++)
		n += padding_blocks[b]->nfuncs;
	return n;
}

uint32_t shlib_call(unsigned i, uint32_t x)
{
	for (unsigned b = 0; b < padding_nblocks; b++) {
		const struct padding_block *blk = padding_blocks[b];
		if (i < blk->nfuncs)
			return blk->funcs[i](x);
		i -= blk->nfuncs;
	}
	return 0;
}

unsigned shlib_data_pages(void)
{
	uintptr_t start = ROUNDDOWN((uintptr_t)__shlib_data_start, PGSIZE);
	uintptr_t end = ROUNDUP((uintptr_t)__shlib_data_end, PGSIZE);
	return (end - start) / PGSIZE;
}

void shlib_touch(unsigned page, uint32_t value)
{
	uintptr_t a = ROUNDDOWN((uintptr_t)__shlib_data_start, PGSIZE) + page * PGSIZE;
	if (a < (uintptr_t)__shlib_data_start)
		a = (uintptr_t)__shlib_data_start;
	if (page >= shlib_data_pages() || a >= (uintptr_t)__shlib_data_end)
		return;
	*(volatile uint32_t *)a += value;
}

uint32_t shlib_data_checksum(void)
{
	uint32_t h = 0;
	for (const uint32_t *p = __shlib_data_start; p < __shlib_data_end; p++)
		h = (h << 5 | h >> 27) ^ *p;
	return h;
}
