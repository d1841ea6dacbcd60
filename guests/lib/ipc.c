/* IPC helpers. */
#include <lib.h>

/*
 * Wait for a value.  With pg, a page the sender passes is mapped there.
 * from_store and perm_store (if not NULL) get the sender and the page's
 * permissions (0 if no page came).  Returns the value, or a negative error.
 */
int32_t ipc_recv(envid_t *from_store, void *pg, int *perm_store)
{
	int r = sys_ipc_recv(pg ? pg : (void *)UTOP);
	if (r < 0) {
		if (from_store)
			*from_store = 0;
		if (perm_store)
			*perm_store = 0;
		return r;
	}
	if (from_store)
		*from_store = thisenv->env_ipc_from;
	if (perm_store)
		*perm_store = thisenv->env_ipc_perm;
	return thisenv->env_ipc_value;
}

/* Send, yielding until the receiver is ready; 0 or a negative error
 * (-E_BAD_ENV once the receiver is gone). */
int ipc_send(envid_t to, uint32_t value, void *pg, int perm)
{
	for (;;) {
		int r = sys_ipc_try_send(to, value, pg ? pg : (void *)UTOP, perm);
		if (r != -E_IPC_NOT_RECV)
			return r;
		sys_yield();
	}
}
