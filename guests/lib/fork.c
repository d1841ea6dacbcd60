/* Copy-on-write fork, built on the page-fault upcall. */
#include <lib.h>

/* A write to a PTE_COW page: give this env its own writable copy. */
static void cow_fault(struct UTrapframe *utf)
{
	void *addr = (void *)utf->utf_fault_va;
	void *page = ROUNDDOWN(addr, PGSIZE);
	int r;

	if (!(utf->utf_err & FEC_WR) || !(uvpd[PDX(addr)] & PTE_P) ||
	    !(uvpt[PGNUM(addr)] & PTE_COW))
		panic("unexpected page fault at va %08x, eip %08x, err %x",
		      utf->utf_fault_va, utf->utf_eip, utf->utf_err);

	if ((r = sys_page_alloc(0, (void *)PFTEMP, PTE_P | PTE_U | PTE_W)) < 0)
		panic("cow_fault: sys_page_alloc: %d", r);
	memcpy((void *)PFTEMP, page, PGSIZE);
	if ((r = sys_page_map(0, (void *)PFTEMP, 0, page, PTE_P | PTE_U | PTE_W)) < 0)
		panic("cow_fault: sys_page_map: %d", r);
	if ((r = sys_page_unmap(0, (void *)PFTEMP)) < 0)
		panic("cow_fault: sys_page_unmap: %d", r);
}

/* Share page pn with the child: writable pages become copy-on-write in both
 * (the child first, so that our own next write cannot change its copy). */
static int duppage(envid_t child, unsigned pn)
{
	void *va = (void *)(pn * PGSIZE);
	pte_t pte = uvpt[pn];
	int r;

	if (pte & (PTE_W | PTE_COW)) {
		if ((r = sys_page_map(0, va, child, va, PTE_P | PTE_U | PTE_COW)) < 0)
			return r;
		return sys_page_map(0, va, 0, va, PTE_P | PTE_U | PTE_COW);
	}
	return sys_page_map(0, va, child, va, PTE_P | PTE_U);
}

envid_t fork(void)
{
	int r;

	set_pgfault_handler(cow_fault);
	envid_t child = sys_exofork();
	if (child < 0)
		return child;
	if (child == 0) {
		thisenv = &envs[ENVX(sys_getenvid())];
		return 0;
	}

	for (unsigned pdx = 0; pdx < PDX(UTOP); pdx++) {
		if (!(uvpd[pdx] & PTE_P))
			continue;
		for (unsigned ptx = 0; ptx < NPTENTRIES; ptx++) {
			unsigned pn = pdx * NPTENTRIES + ptx;
			if (pn == PGNUM(UXSTACKTOP - PGSIZE))
				continue;
			if ((uvpt[pn] & (PTE_P | PTE_U)) != (PTE_P | PTE_U))
				continue;
			if ((r = duppage(child, pn)) < 0)
				goto fail;
		}
	}
	if ((r = sys_page_alloc(child, (void *)(UXSTACKTOP - PGSIZE), PTE_P | PTE_U | PTE_W)) < 0 ||
	    (r = sys_env_set_pgfault_upcall(child, _pgfault_upcall)) < 0 ||
	    (r = sys_env_set_status(child, ENV_RUNNABLE)) < 0)
		goto fail;
	return child;

fail:
	sys_env_destroy(child);
	return r;
}
