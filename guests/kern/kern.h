/* Declarations shared by the kernel's source files. */
#ifndef JOS_KERN_KERN_H
#define JOS_KERN_KERN_H

#include <types.h>
#include <mmu.h>
#include <memlayout.h>
#include <env.h>
#include <trap.h>
#include <error.h>
#include <stdio.h>
#include <string.h>
#include <multiboot.h>
#include <x86.h>

/* entry.S */
extern uint32_t boot_magic;
extern struct multiboot_info boot_mbi;
extern char boot_cmdline[];
extern char bootstack[], bootstacktop[];
extern char end[], edata[];

/* console.c */
void cons_init(void);
void cons_putc(int c);
void serial_intr(void);
int cons_getc(void);
int cprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vcprintf(const char *fmt, va_list ap);
void _panic(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
void halt_machine(void) __attribute__((noreturn));

#define panic(...) _panic(__FILE__, __LINE__, __VA_ARGS__)
#define assert(x) do { if (!(x)) panic("assertion failed: %s", #x); } while (0)

/* pmap.c */
extern size_t npages;
extern struct PageInfo *pages;
extern pde_t *kern_pgdir;

#define ALLOC_ZERO 1

void mem_init(void);
struct PageInfo *page_alloc(int flags);
void page_free(struct PageInfo *pp);
void page_decref(struct PageInfo *pp);
struct PageInfo *page_free_first(void);
pte_t *pgdir_walk(pde_t *pgdir, const void *va, int create);
int page_insert(pde_t *pgdir, struct PageInfo *pp, void *va, int perm);
struct PageInfo *page_lookup(pde_t *pgdir, void *va, pte_t **pte_store);
void page_remove(pde_t *pgdir, void *va);
void tlb_invalidate(pde_t *pgdir, void *va);
int user_mem_check(struct Env *env, const void *va, size_t len, int perm);
void user_mem_assert(struct Env *env, const void *va, size_t len, int perm);

static inline physaddr_t _paddr(const char *file, int line, const void *kva)
{
	if ((uintptr_t)kva < KERNBASE)
		_panic(file, line, "PADDR called with invalid kva %08x", (uintptr_t)kva);
	return (physaddr_t)kva - KERNBASE;
}

static inline void *_kaddr(const char *file, int line, physaddr_t pa)
{
	if (PGNUM(pa) >= npages && npages != 0)
		_panic(file, line, "KADDR called with invalid pa %08x", pa);
	return (void *)(pa + KERNBASE);
}

#define PADDR(kva) _paddr(__FILE__, __LINE__, kva)
#define KADDR(pa) _kaddr(__FILE__, __LINE__, pa)

static inline physaddr_t page2pa(struct PageInfo *pp) { return (pp - pages) << PGSHIFT; }
static inline void *page2kva(struct PageInfo *pp) { return KADDR(page2pa(pp)); }

static inline struct PageInfo *pa2page(physaddr_t pa)
{
	if (PGNUM(pa) >= npages)
		panic("pa2page called with invalid pa %08x", pa);
	return &pages[PGNUM(pa)];
}

/* smp.c, klock.c: the jos-smp flavour (built with -DJOS_SMP on top of -DJOS_LAPIC).  Every
 * other flavour has one CPU, and these collapse to it. */
#ifdef JOS_SMP
struct Cpu {
	uint8_t cpu_apic_id;            /* from the MP table */
	volatile bool cpu_started;      /* set by the CPU itself once it runs C code */
	volatile bool cpu_idle;         /* halted in the scheduler, the kernel lock released */
	struct Env *volatile cpu_env;   /* what it runs (its curenv), or NULL */
};
extern struct Cpu cpus[NCPU];
extern int ncpu;

/* The CPU we run on, by the kernel stack we are on: CPU i's stack is
 * [KSTACKTOP - i * (KSTKSIZE + KSTKGAP) - KSTKSIZE, ...); the BSP's boot stack
 * in .bss is CPU 0's too.  No APIC read: this is on every curenv. */
static inline int cpunum(void)
{
	uintptr_t esp;
	asm volatile("movl %%esp, %0" : "=r"(esp));
	uintptr_t below = KSTACKTOP - 1 - esp;
	if (esp >= KSTACKTOP || below >= NCPU * (KSTKSIZE + KSTKGAP))
		return 0;
	return below / (KSTKSIZE + KSTKGAP);
}
#define thiscpu (&cpus[cpunum()])
#define curenv (thiscpu->cpu_env)

void smp_init(void);                    /* per-CPU stacks, then every AP through INIT and STARTUP */
void smp_kick(int cpu);                 /* an IPI that makes the CPU enter the kernel */
int env_cpu(struct Env *e);             /* the CPU running e, or -1 */
void lock_kernel(void);
void unlock_kernel(void);
bool kernel_lock_held(void);
#else
static inline int cpunum(void) { return 0; }
static inline void lock_kernel(void) { }
static inline void unlock_kernel(void) { }
#endif

/* env.c */
extern struct Env *envs;
#ifndef JOS_SMP
extern struct Env *curenv;
#endif
extern uint32_t env_hiwater;

void env_init(void);
int env_alloc(struct Env **newenv_store, envid_t parent_id);
void env_create(const uint8_t *binary, size_t size, const char *name, int argc, char **argv);
void env_free(struct Env *e);
void env_destroy(struct Env *e);
int envid2env(envid_t envid, struct Env **env_store, bool checkperm);
void env_run(struct Env *e) __attribute__((noreturn));
void env_pop_tf(struct Trapframe *tf) __attribute__((noreturn));

/* trap.c */
void trap_init(void);
void trap_init_percpu(void);            /* this CPU's GDT, TSS and IDT */
void print_trapframe(struct Trapframe *tf);
const char *trapname(int trapno);

/* syscall.c */
int32_t syscall(uint32_t num, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4, uint32_t a5);

/* balloon.c: the balloon driver (guests/README.md, "Balloon") */
void balloon_tick(void);
void balloon_reclaim(struct PageInfo *pp);

/* sched.c */
void sched_yield(void) __attribute__((noreturn));

/* picirq.c */
void pic_init(void);
void pic_eoi(int irq);
uint8_t pic_master_isr(void);
void timer_init(void);
extern uint32_t timer_ticks;
extern bool show_ticks;
extern uint32_t idle_ticks;     /* jos.idle=N: idle N timer ticks before halting */
extern volatile bool idling;

/* The end of an interrupt: to the 8259A, or in the jos-lapic flavour (make builds both) to the local APIC. */
#ifdef JOS_LAPIC
/* lapic.c: the MP table, the local APIC timer and the I/O APIC instead of the PIT and the PIC's lines. */
void mp_init(void);
void lapic_init(void);
void lapic_eoi(void);
#ifdef JOS_SMP
void lapic_init_ap(void);                               /* an AP's own local APIC and timer */
void lapic_delay_us(uint32_t us);                       /* measured on the local APIC timer */
void lapic_send_init(uint8_t apic_id);
void lapic_send_startup(uint8_t apic_id, physaddr_t entry);
void lapic_send_ipi(uint8_t apic_id, uint8_t vector);
#endif
#define irq_eoi(irq) lapic_eoi()
#else
#define irq_eoi(irq) pic_eoi(irq)
#endif

/* shlib.c: the loader of libshared.so; its builds in the kernel image
 * (build/kern/libs-*.S, written by kern/mklibs.sh). */
struct shlib_image {
	const char *variant;        /* "pic" or "nonpic" */
	uint32_t kib;               /* the size it was built for */
	const uint8_t *start;       /* the file, page-aligned */
	const uint8_t *end;
};
extern const struct shlib_image shlib_images[];
void shlib_option(const char *word);
void shlib_link(struct Env *e, const uint8_t *binary);

/* The user programs linked into the kernel (build/kern/progs.S). */
struct user_prog {
	const char *name;
	const uint8_t *start;
	const uint8_t *end;
};
extern const struct user_prog user_progs[];

#endif
