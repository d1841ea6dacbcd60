#include <lib.h>

void wait(envid_t envid)
{
	const volatile struct Env *e = &envs[ENVX(envid)];
	while (e->env_id == envid && e->env_status != ENV_FREE)
		sys_yield();
}
