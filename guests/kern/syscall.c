/* System calls: int $0x30, number in EAX, arguments in EDX, ECX, EBX, EDI, ESI. */
#include <syscall.h>
#include "kern.h"

/* Print len bytes at s (user memory). */
static int sys_cputs(const char *s, size_t len)
{
	user_mem_assert(curenv, s, len, PTE_U);
	for (size_t i = 0; i < len; i++)
		cons_putc(s[i]);
	return 0;
}

/* The next input character, 0 if none (does not block). */
static int sys_cgetc(void)
{
	return cons_getc();
}

static envid_t sys_getenvid(void)
{
	return curenv->env_id;
}

/* The CPU running the caller: 0 up to the number of CPUs, which sys_ncpu gives (1 but in jos-smp). */
static int sys_getcpuid(void)
{
	return cpunum();
}

static int sys_ncpu(void)
{
#ifdef JOS_SMP
	return ncpu;
#else
	return 1;
#endif
}

static int sys_env_destroy(envid_t envid)
{
	struct Env *e;
	int r = envid2env(envid, &e, 1);
	if (r < 0)
		return r;
	if (e == curenv)
		cprintf("[%08x] exiting gracefully\n", curenv->env_id);
	else
		cprintf("[%08x] destroying %08x\n", curenv->env_id, e->env_id);
	env_destroy(e);
	return 0;
}

static void sys_yield(void)
{
	sched_yield();
}

/* A child with our registers (it sees 0 returned) and no memory, not runnable. */
static envid_t sys_exofork(void)
{
	struct Env *e;
	int r = env_alloc(&e, curenv->env_id);
	if (r < 0)
		return r;
	e->env_status = ENV_NOT_RUNNABLE;
	e->env_tf = curenv->env_tf;
	e->env_tf.tf_regs.reg_eax = 0;
	memcpy(e->env_name, curenv->env_name, sizeof(e->env_name));
	return e->env_id;
}

static int sys_env_set_status(envid_t envid, int status)
{
	struct Env *e;
	if (status != ENV_RUNNABLE && status != ENV_NOT_RUNNABLE)
		return -E_INVAL;
	int r = envid2env(envid, &e, 1);
	if (r < 0)
		return r;
	/* jos-smp: a child running on another CPU (or being destroyed) keeps its status. */
	if (e != curenv && (e->env_status == ENV_RUNNING || e->env_status == ENV_DYING))
		return -E_INVAL;
	e->env_status = status;
	return 0;
}

static int sys_env_set_pgfault_upcall(envid_t envid, void *func)
{
	struct Env *e;
	int r = envid2env(envid, &e, 1);
	if (r < 0)
		return r;
	e->env_pgfault_upcall = func;
	return 0;
}

static bool bad_user_va(uintptr_t va)
{
	return va >= UTOP || PGOFF(va) != 0;
}

static bool bad_perm(int perm)
{
	return (perm & (PTE_U | PTE_P)) != (PTE_U | PTE_P) || (perm & ~PTE_SYSCALL) != 0;
}

/* Map a new zeroed page at va in envid with perm. */
static int sys_page_alloc(envid_t envid, uintptr_t va, int perm)
{
	struct Env *e;
	int r = envid2env(envid, &e, 1);
	if (r < 0)
		return r;
	if (bad_user_va(va) || bad_perm(perm))
		return -E_INVAL;
	struct PageInfo *pp = page_alloc(ALLOC_ZERO);
	if (pp == NULL)
		return -E_NO_MEM;
	if ((r = page_insert(e->env_pgdir, pp, (void *)va, perm)) < 0) {
		page_free(pp);
		return r;
	}
	return 0;
}

/* Map the page at srcva in srcenvid also at dstva in dstenvid. */
static int sys_page_map(envid_t srcenvid, uintptr_t srcva, envid_t dstenvid, uintptr_t dstva,
			int perm)
{
	struct Env *src, *dst;
	pte_t *pte;
	int r;

	if ((r = envid2env(srcenvid, &src, 1)) < 0 || (r = envid2env(dstenvid, &dst, 1)) < 0)
		return r;
	if (bad_user_va(srcva) || bad_user_va(dstva) || bad_perm(perm))
		return -E_INVAL;
	struct PageInfo *pp = page_lookup(src->env_pgdir, (void *)srcva, &pte);
	if (pp == NULL)
		return -E_INVAL;
	if ((perm & PTE_W) && !(*pte & PTE_W))
		return -E_INVAL;
	return page_insert(dst->env_pgdir, pp, (void *)dstva, perm);
}

static int sys_page_unmap(envid_t envid, uintptr_t va)
{
	struct Env *e;
	int r = envid2env(envid, &e, 1);
	if (r < 0)
		return r;
	if (bad_user_va(va))
		return -E_INVAL;
	page_remove(e->env_pgdir, (void *)va);
	return 0;
}

/*
 * Deliver value (and the page at srcva, if srcva < UTOP and the receiver
 * asked for one) to envid if it is blocked in sys_ipc_recv.
 */
static int sys_ipc_try_send(envid_t envid, uint32_t value, uintptr_t srcva, int perm)
{
	struct Env *e;
	int r = envid2env(envid, &e, 0);
	if (r < 0)
		return r;
	if (!e->env_ipc_recving)
		return -E_IPC_NOT_RECV;

	e->env_ipc_perm = 0;
	if (srcva < UTOP) {
		pte_t *pte;
		if (PGOFF(srcva) != 0 || bad_perm(perm))
			return -E_INVAL;
		struct PageInfo *pp = page_lookup(curenv->env_pgdir, (void *)srcva, &pte);
		if (pp == NULL || ((perm & PTE_W) && !(*pte & PTE_W)))
			return -E_INVAL;
		if ((uintptr_t)e->env_ipc_dstva < UTOP) {
			if ((r = page_insert(e->env_pgdir, pp, e->env_ipc_dstva, perm)) < 0)
				return r;
			e->env_ipc_perm = perm;
		}
	}
	e->env_ipc_recving = false;
	e->env_ipc_from = curenv->env_id;
	e->env_ipc_value = value;
	e->env_status = ENV_RUNNABLE;
	e->env_tf.tf_regs.reg_eax = 0;      /* sys_ipc_recv returns 0 */
	return 0;
}

/* Block until a value arrives; a page sent along is mapped at dstva (< UTOP). */
static int sys_ipc_recv(uintptr_t dstva)
{
	if (dstva < UTOP && PGOFF(dstva) != 0)
		return -E_INVAL;
	curenv->env_ipc_recving = true;
	curenv->env_ipc_dstva = (void *)dstva;
	curenv->env_status = ENV_NOT_RUNNABLE;
	sched_yield();
}

int32_t syscall(uint32_t num, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4, uint32_t a5)
{
	switch (num) {
	case SYS_cputs:
		return sys_cputs((const char *)a1, a2);
	case SYS_cgetc:
		return sys_cgetc();
	case SYS_getenvid:
		return sys_getenvid();
	case SYS_env_destroy:
		return sys_env_destroy(a1);
	case SYS_yield:
		sys_yield();
	case SYS_exofork:
		return sys_exofork();
	case SYS_env_set_status:
		return sys_env_set_status(a1, a2);
	case SYS_page_alloc:
		return sys_page_alloc(a1, a2, a3);
	case SYS_page_map:
		return sys_page_map(a1, a2, a3, a4, a5);
	case SYS_page_unmap:
		return sys_page_unmap(a1, a2);
	case SYS_env_set_pgfault_upcall:
		return sys_env_set_pgfault_upcall(a1, (void *)a2);
	case SYS_ipc_try_send:
		return sys_ipc_try_send(a1, a2, a3, a4);
	case SYS_ipc_recv:
		return sys_ipc_recv(a1);
	case SYS_getcpuid:
		return sys_getcpuid();
	case SYS_ncpu:
		return sys_ncpu();
	default:
		return -E_INVAL;
	}
}
