/* System call numbers: int $0x30 with EAX = number, arguments in EDX, ECX,
 * EBX, EDI, ESI; the result comes back in EAX. */
#ifndef JOS_INC_SYSCALL_H
#define JOS_INC_SYSCALL_H

enum {
	SYS_cputs = 0,
	SYS_cgetc,
	SYS_getenvid,
	SYS_env_destroy,
	SYS_yield,
	SYS_exofork,
	SYS_env_set_status,
	SYS_page_alloc,
	SYS_page_map,
	SYS_page_unmap,
	SYS_env_set_pgfault_upcall,
	SYS_ipc_try_send,
	SYS_ipc_recv,
	SYS_getcpuid,
	SYS_ncpu,
	NSYSCALLS
};

#endif
