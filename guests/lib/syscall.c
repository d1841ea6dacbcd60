/* System call wrappers. */
#include <lib.h>

void sys_cputs(const char *s, size_t len)
{
	syscall(SYS_cputs, (uint32_t)s, len, 0, 0, 0);
}

int sys_cgetc(void)
{
	return syscall(SYS_cgetc, 0, 0, 0, 0, 0);
}

envid_t sys_getenvid(void)
{
	return syscall(SYS_getenvid, 0, 0, 0, 0, 0);
}

int sys_env_destroy(envid_t envid)
{
	return syscall(SYS_env_destroy, envid, 0, 0, 0, 0);
}

void sys_yield(void)
{
	syscall(SYS_yield, 0, 0, 0, 0, 0);
}

int sys_env_set_status(envid_t envid, int status)
{
	return syscall(SYS_env_set_status, envid, status, 0, 0, 0);
}

int sys_page_alloc(envid_t envid, void *va, int perm)
{
	return syscall(SYS_page_alloc, envid, (uint32_t)va, perm, 0, 0);
}

int sys_page_map(envid_t srcenv, void *srcva, envid_t dstenv, void *dstva, int perm)
{
	return syscall(SYS_page_map, srcenv, (uint32_t)srcva, dstenv, (uint32_t)dstva, perm);
}

int sys_page_unmap(envid_t envid, void *va)
{
	return syscall(SYS_page_unmap, envid, (uint32_t)va, 0, 0, 0);
}

int sys_env_set_pgfault_upcall(envid_t envid, void *upcall)
{
	return syscall(SYS_env_set_pgfault_upcall, envid, (uint32_t)upcall, 0, 0, 0);
}

int sys_ipc_try_send(envid_t to, uint32_t value, void *srcva, int perm)
{
	return syscall(SYS_ipc_try_send, to, value, (uint32_t)srcva, perm, 0);
}

int sys_ipc_recv(void *dstva)
{
	return syscall(SYS_ipc_recv, (uint32_t)dstva, 0, 0, 0, 0);
}

int sys_getcpuid(void)
{
	return syscall(SYS_getcpuid, 0, 0, 0, 0, 0);
}

int sys_ncpu(void)
{
	return syscall(SYS_ncpu, 0, 0, 0, 0, 0);
}
