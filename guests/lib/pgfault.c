/* User-level page fault handling: the kernel calls _pgfault_upcall (pfentry.S)
 * on the exception stack, which calls the handler set here. */
#include <lib.h>

void (*_pgfault_handler)(struct UTrapframe *utf);

void set_pgfault_handler(void (*handler)(struct UTrapframe *utf))
{
	int r;

	if (_pgfault_handler == NULL) {
		r = sys_page_alloc(0, (void *)(UXSTACKTOP - PGSIZE), PTE_P | PTE_U | PTE_W);
		if (r < 0)
			panic("set_pgfault_handler: no exception stack: %d", r);
		r = sys_env_set_pgfault_upcall(0, _pgfault_upcall);
		if (r < 0)
			panic("set_pgfault_handler: %d", r);
	}
	_pgfault_handler = handler;
}
