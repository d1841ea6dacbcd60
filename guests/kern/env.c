/* Environments: creation from ELF images, destruction, running. */
#include <elf.h>
#include "kern.h"

/* The shared-object experiment reads envs[] from outside the guest
 * (tools/MiniHv.Cli/Experiments/GuestEnvironments.cs): keep these in step. */
STATIC_ASSERT(sizeof(struct Env) == 132);
STATIC_ASSERT(offsetof(struct Env, env_status) == 80);
STATIC_ASSERT(offsetof(struct Env, env_pgdir) == 88);

struct Env *envs;                       /* all environments, at UENVS for users */
#ifndef JOS_SMP
struct Env *curenv;                     /* the running one, or NULL (jos-smp: one per CPU) */
#endif
static struct Env *env_free_list;
uint32_t env_hiwater;                   /* 1 + the highest envs[] index ever used */

void env_init(void)
{
	env_free_list = NULL;
	for (int i = NENV - 1; i >= 0; i--) {
		envs[i].env_id = 0;
		envs[i].env_status = ENV_FREE;
		envs[i].env_link = env_free_list;
		env_free_list = &envs[i];
	}
}

/*
 * The env with id envid (0: the current one).  With checkperm, only the
 * current env itself and its children are allowed.
 */
int envid2env(envid_t envid, struct Env **env_store, bool checkperm)
{
	struct Env *e;

	*env_store = NULL;
	if (envid == 0) {
		*env_store = curenv;
		return 0;
	}
	e = &envs[ENVX(envid)];
	if (e->env_status == ENV_FREE || e->env_id != envid)
		return -E_BAD_ENV;
	if (checkperm && e != curenv && e->env_parent_id != curenv->env_id)
		return -E_BAD_ENV;
	*env_store = e;
	return 0;
}

/* A page directory with the kernel's mappings above UTOP and UVPT pointing
 * at itself. */
static int env_setup_vm(struct Env *e)
{
	struct PageInfo *pp = page_alloc(ALLOC_ZERO);
	if (pp == NULL)
		return -E_NO_MEM;
	pp->pp_ref++;
	e->env_pgdir = page2kva(pp);
	for (int i = PDX(UTOP); i < NPDENTRIES; i++)
		e->env_pgdir[i] = kern_pgdir[i];
	e->env_pgdir[PDX(UVPT)] = PADDR(e->env_pgdir) | PTE_P | PTE_U;
	return 0;
}

int env_alloc(struct Env **newenv_store, envid_t parent_id)
{
	struct Env *e = env_free_list;
	int r;

	if (e == NULL)
		return -E_NO_FREE_ENV;
	if ((r = env_setup_vm(e)) < 0)
		return r;

	/* A new generation for this slot, so stale ids stay invalid. */
	int32_t generation = (e->env_id + (1 << ENVGENSHIFT)) & ~((1 << ENVGENSHIFT) - 1);
	if (generation <= 0)
		generation = 1 << ENVGENSHIFT;
	uint32_t index = e - envs;
	e->env_id = generation | index;
	if (index + 1 > env_hiwater)
		env_hiwater = index + 1;

	e->env_parent_id = parent_id;
	e->env_status = ENV_RUNNABLE;
	e->env_runs = 0;
	memset(e->env_name, 0, sizeof(e->env_name));

	memset(&e->env_tf, 0, sizeof(e->env_tf));
	e->env_tf.tf_ds = GD_UD | 3;
	e->env_tf.tf_es = GD_UD | 3;
	e->env_tf.tf_ss = GD_UD | 3;
	e->env_tf.tf_esp = USTACKTOP;
	e->env_tf.tf_cs = GD_UT | 3;
	e->env_tf.tf_eflags = FL_IF;    /* user code runs with interrupts on */

	e->env_pgfault_upcall = NULL;
	e->env_ipc_recving = false;
	e->env_ipc_dstva = NULL;
	e->env_ipc_value = 0;
	e->env_ipc_from = 0;
	e->env_ipc_perm = 0;

	env_free_list = e->env_link;
	e->env_link = NULL;
	*newenv_store = e;

	cprintf("[%08x] new env %08x\n", curenv ? curenv->env_id : 0, e->env_id);
	return 0;
}

/* Back [va, va+len) in e with fresh zeroed user-writable pages. */
static void region_alloc(struct Env *e, uintptr_t va, size_t len)
{
	for (uintptr_t a = ROUNDDOWN(va, PGSIZE); a < va + len; a += PGSIZE) {
		if (page_lookup(e->env_pgdir, (void *)a, NULL))
			continue;
		struct PageInfo *pp = page_alloc(ALLOC_ZERO);
		if (pp == NULL || page_insert(e->env_pgdir, pp, (void *)a, PTE_U | PTE_W) < 0)
			panic("region_alloc: out of memory");
	}
}

/*
 * Copy the arguments onto the new stack (we run on e's page directory):
 * the strings at the top, then argv[] (NULL-terminated), then argv and argc,
 * where lib/entry.S expects them.
 */
static uintptr_t setup_args(const char *name, int argc, char **argv)
{
	char *sp = (char *)USTACKTOP;
	uintptr_t ptrs[64];
	int n = 0;

	if (argc > (int)ARRAY_SIZE(ptrs) - 2)
		argc = ARRAY_SIZE(ptrs) - 2;
	sp -= strlen(name) + 1;
	strcpy(sp, name);
	ptrs[n++] = (uintptr_t)sp;
	for (int i = 0; i < argc; i++) {
		sp -= strlen(argv[i]) + 1;
		strcpy(sp, argv[i]);
		ptrs[n++] = (uintptr_t)sp;
	}
	ptrs[n] = 0;

	uintptr_t *w = (uintptr_t *)ROUNDDOWN((uintptr_t)sp, 4);
	w -= n + 1;
	memcpy(w, ptrs, (n + 1) * sizeof(uintptr_t));
	uintptr_t argv_va = (uintptr_t)w;
	*--w = argv_va;
	*--w = n;
	return (uintptr_t)w;
}

static void load_icode(struct Env *e, const uint8_t *binary, size_t size,
		       const char *name, int argc, char **argv)
{
	const struct Elf *elf = (const struct Elf *)binary;

	if (size < sizeof(*elf) || elf->e_magic != ELF_MAGIC ||
	    elf->e_phoff + elf->e_phnum * sizeof(struct Proghdr) > size)
		panic("load_icode: %s is not a valid ELF image", name);

	lcr3(PADDR(e->env_pgdir));
	const struct Proghdr *ph = (const struct Proghdr *)(binary + elf->e_phoff);
	for (int i = 0; i < elf->e_phnum; i++, ph++) {
		if (ph->p_type != ELF_PROG_LOAD || ph->p_memsz == 0)
			continue;
		if (ph->p_filesz > ph->p_memsz || ph->p_offset + ph->p_filesz > size ||
		    ph->p_vaddr < UTEMP || ph->p_vaddr + ph->p_memsz > USTACKTOP - USTACKMAX ||
		    ph->p_vaddr + ph->p_memsz < ph->p_vaddr)
			panic("load_icode: %s: bad program header %d", name, i);
		region_alloc(e, ph->p_vaddr, ph->p_memsz);
		memcpy((void *)ph->p_vaddr, binary + ph->p_offset, ph->p_filesz);
		memset((char *)ph->p_vaddr + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	}
	e->env_tf.tf_eip = elf->e_entry;
	shlib_link(e, binary);          /* a program linked against libshared.so */

	region_alloc(e, USTACKTOP - PGSIZE, PGSIZE);
	e->env_tf.tf_esp = setup_args(name, argc, argv);
	lcr3(PADDR(curenv ? curenv->env_pgdir : kern_pgdir));
}

void env_create(const uint8_t *binary, size_t size, const char *name, int argc, char **argv)
{
	struct Env *e;
	int r = env_alloc(&e, 0);
	if (r < 0)
		panic("env_create: cannot allocate an environment for %s (%d)", name, r);
	strlcpy(e->env_name, name, sizeof(e->env_name));
	load_icode(e, binary, size, name, argc, argv);
}

/* Give back everything e holds. */
void env_free(struct Env *e)
{
	/* Do not pull the page directory out from under ourselves. */
	if (e == curenv)
		lcr3(PADDR(kern_pgdir));

	cprintf("[%08x] free env %08x\n", curenv ? curenv->env_id : 0, e->env_id);

	for (int pdx = 0; pdx < PDX(UTOP); pdx++) {
		pde_t pde = e->env_pgdir[pdx];
		if (!(pde & PTE_P))
			continue;
		pte_t *pt = KADDR(PTE_ADDR(pde));
		for (int ptx = 0; ptx < NPTENTRIES; ptx++)
			if (pt[ptx] & PTE_P)
				page_remove(e->env_pgdir, PGADDR(pdx, ptx, 0));
		e->env_pgdir[pdx] = 0;
		page_decref(pa2page(PTE_ADDR(pde)));
	}
	struct PageInfo *pd = pa2page(PADDR(e->env_pgdir));
	e->env_pgdir = NULL;
	page_decref(pd);

	e->env_status = ENV_FREE;
	e->env_link = env_free_list;
	env_free_list = e;
}

void env_destroy(struct Env *e)
{
#ifdef JOS_SMP
	/* Running on another CPU: mark it, make that CPU enter the kernel and let go of it (it does
	 * so with the lock, trap.c and sched.c), and free it only then, as if it had been stopped. */
	int cpu = env_cpu(e);
	if (e != curenv && cpu >= 0) {
		e->env_status = ENV_DYING;
		smp_kick(cpu);
		unlock_kernel();
		while (env_cpu(e) >= 0)
			asm volatile("pause");
		lock_kernel();
	}
#endif
	env_free(e);
	if (e == curenv) {
		curenv = NULL;
		sched_yield();
	}
}

/* Switch to e and resume it in user mode. */
void env_run(struct Env *e)
{
	if (curenv && curenv != e && curenv->env_status == ENV_RUNNING)
		curenv->env_status = ENV_RUNNABLE;
	if (curenv != e)
		lcr3(PADDR(e->env_pgdir));
	curenv = e;
	e->env_status = ENV_RUNNING;
	e->env_runs++;
	unlock_kernel();                /* jos-smp: held from the kernel entry to here */
	env_pop_tf(&e->env_tf);
}
