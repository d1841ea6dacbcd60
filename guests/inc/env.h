/* Environments (processes), shared by the kernel and, read-only, by users. */
#ifndef JOS_INC_ENV_H
#define JOS_INC_ENV_H

#include <types.h>
#include <trap.h>
#include <memlayout.h>

/*
 * An environment id: | generation (20 bits) | index into envs[] (12 bits) |.
 * Generations start at 1, so ids are positive; id 0 means "the caller".
 */
#define LOG2NENV        10
#define NENV            (1 << LOG2NENV)
#define ENVGENSHIFT     12
#define ENVX(envid)     ((envid) & (NENV - 1))

enum {
	ENV_FREE = 0,
	ENV_DYING,
	ENV_RUNNABLE,
	ENV_RUNNING,
	ENV_NOT_RUNNABLE,
};

struct Env {
	struct Trapframe env_tf;    /* saved registers while not running */
	struct Env *env_link;       /* next free env */
	envid_t env_id;
	envid_t env_parent_id;
	uint32_t env_status;
	uint32_t env_runs;          /* times scheduled (timing dependent: never print) */
	pde_t *env_pgdir;           /* kernel virtual address of its page directory */
	char env_name[16];          /* the program it was loaded from */

	void *env_pgfault_upcall;   /* user page-fault entry point, or NULL */

	/* IPC */
	bool env_ipc_recving;       /* blocked in sys_ipc_recv */
	void *env_ipc_dstva;        /* where to map a sent page (>= UTOP: none) */
	uint32_t env_ipc_value;
	envid_t env_ipc_from;
	int env_ipc_perm;           /* perm of the page received, 0 if none */
};

#endif
