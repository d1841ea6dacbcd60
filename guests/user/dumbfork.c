/*
 * Fork the simple way: copy every page of the address space into the child
 * at once (no copy-on-write).  Then parent and child take turns, passing a
 * token over IPC, so that their lines alternate whatever the timer does.
 */
#include <lib.h>

#define ROUNDS 10

extern uint8_t end[];

/* Give dst a private copy of the page at addr. */
static void copy_page(envid_t dst, void *addr)
{
	int r;

	if ((r = sys_page_alloc(dst, addr, PTE_P | PTE_U | PTE_W)) < 0)
		panic("sys_page_alloc: %d", r);
	if ((r = sys_page_map(dst, addr, 0, (void *)UTEMP, PTE_P | PTE_U | PTE_W)) < 0)
		panic("sys_page_map: %d", r);
	memmove((void *)UTEMP, addr, PGSIZE);
	if ((r = sys_page_unmap(0, (void *)UTEMP)) < 0)
		panic("sys_page_unmap: %d", r);
}

static envid_t dumbfork(void)
{
	envid_t child = sys_exofork();
	if (child < 0)
		panic("sys_exofork: %d", child);
	if (child == 0) {
		thisenv = &envs[ENVX(sys_getenvid())];
		return 0;
	}

	/* The program's text, data and bss, then the (single) stack page. */
	for (uint8_t *addr = (uint8_t *)UTEXT; addr < end; addr += PGSIZE)
		copy_page(child, addr);
	copy_page(child, (void *)(USTACKTOP - PGSIZE));

	int r = sys_env_set_status(child, ENV_RUNNABLE);
	if (r < 0)
		panic("sys_env_set_status: %d", r);
	return child;
}

void umain(int argc, char **argv)
{
	printf("dumbfork: copying the address space into a child\n");
	envid_t who = dumbfork();

	if (who == 0) {
		envid_t parent = thisenv->env_parent_id;
		for (int i = 0; i < ROUNDS; i++) {
			ipc_recv(NULL, NULL, NULL);
			printf("%d: I am the child!\n", i);
			ipc_send(parent, i, NULL, 0);
		}
		printf("dumbfork: child done\n");
		return;
	}

	for (int i = 0; i < ROUNDS; i++) {
		printf("%d: I am the parent!\n", i);
		ipc_send(who, i, NULL, 0);
		ipc_recv(NULL, NULL, NULL);
	}
	wait(who);
	printf("dumbfork: the child is gone, parent done\n");
}
