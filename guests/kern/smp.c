/*
 * jos-smp: the processors the MP table lists (lapic.c's mp_init fills cpus[]), their kernel stacks,
 * and the start of each application processor (AP) as the MultiProcessor Specification 1.4
 * (appendix B.4) and the Intel SDM (vol. 3, 8.4.4) describe it: INIT, 10 ms, STARTUP, 200 us,
 * STARTUP, 200 us, the delays measured on the local APIC timer.  The AP starts in real mode in
 * kern/apboot.S and arrives in ap_main with paging on, on its own stack.
 */
#include "kern.h"

struct Cpu cpus[NCPU];
int ncpu = 1;

/* Read by kern/apboot.S: the page directory to turn paging on with, the stack to call ap_main on. */
uint32_t ap_boot_cr3;
uintptr_t ap_boot_esp;

extern const char apboot_start[], apboot_end[];
void ap_main(void) __attribute__((noreturn));

#define CMOS_INDEX	0x70
#define CMOS_DATA	0x71
#define CMOS_SHUTDOWN	0x0F		/* shutdown status byte */
#define SHUTDOWN_JUMP	0x0A		/* after a reset: jump through the warm-reset vector at 40:67 */
#define WARM_RESET	0x467

#define AP_START_TIMEOUT_US	1000000

static uintptr_t kstack_top(int cpu)
{
	return KSTACKTOP - cpu * (KSTKSIZE + KSTKGAP);
}

/* CPU 0 uses the boot stack (mem_init maps it at KSTACKTOP); the others get fresh pages. */
static void map_kernel_stacks(void)
{
	for (int cpu = 1; cpu < ncpu; cpu++)
		for (uintptr_t va = kstack_top(cpu) - KSTKSIZE; va < kstack_top(cpu); va += PGSIZE) {
			struct PageInfo *pp = page_alloc(ALLOC_ZERO);
			pte_t *pte = pgdir_walk(kern_pgdir, (void *)va, 1);
			if (pp == NULL || pte == NULL)
				panic("smp: out of memory for CPU %d's kernel stack", cpu);
			pp->pp_ref++;
			*pte = page2pa(pp) | PTE_P | PTE_W;
		}
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	outb(CMOS_INDEX, reg);
	outb(CMOS_DATA, v);
}

static bool start_ap(int cpu)
{
	uint8_t id = cpus[cpu].cpu_apic_id;

	ap_boot_esp = kstack_top(cpu);
	lapic_send_init(id);
	lapic_delay_us(10000);
	for (int i = 0; i < 2; i++) {          /* the spec's second STARTUP is for APs that missed the first */
		if (cpus[cpu].cpu_started)
			break;
		lapic_send_startup(id, APBOOT_PADDR);
		lapic_delay_us(200);
	}
	for (int waited = 0; !cpus[cpu].cpu_started; waited += 100) {
		if (waited >= AP_START_TIMEOUT_US)
			return false;
		lapic_delay_us(100);
	}
	return true;
}

/* With the kernel lock held: start every AP, one after the other.  Each then waits for the lock. */
void smp_init(void)
{
	cpus[0].cpu_started = true;
	if (ncpu == 1)
		return;
	map_kernel_stacks();
	memcpy(KADDR(APBOOT_PADDR), apboot_start, apboot_end - apboot_start);

	/* apboot.S runs at its physical address when it turns paging on: map the low 4 MiB at 0
	 * too until the APs are in, as the entry page directory did for the BSP. */
	kern_pgdir[0] = kern_pgdir[PDX(KERNBASE)];
	ap_boot_cr3 = PADDR(kern_pgdir);

	/* The warm-reset vector, for a processor that takes INIT as a reset (MP spec B.4). */
	cmos_write(CMOS_SHUTDOWN, SHUTDOWN_JUMP);
	volatile uint16_t *warm = KADDR(WARM_RESET);
	warm[0] = 0;
	warm[1] = APBOOT_PADDR >> 4;

	for (int cpu = 1; cpu < ncpu; cpu++)
		if (!start_ap(cpu))
			panic("smp: CPU %d (APIC %d) did not start", cpu, cpus[cpu].cpu_apic_id);

	cmos_write(CMOS_SHUTDOWN, 0);
	kern_pgdir[0] = 0;
	lcr3(PADDR(kern_pgdir));        /* and each AP flushes it with its first CR3 load */
}

/* An AP, from kern/apboot.S: its own GDT slot, TSS and local APIC, then the scheduler. */
void ap_main(void)
{
	trap_init_percpu();
	lapic_init_ap();
	thiscpu->cpu_started = true;
	lock_kernel();
	lcr3(PADDR(kern_pgdir));        /* the low 4 MiB are unmapped again by now */
	sched_yield();
}

int env_cpu(struct Env *e)
{
	for (int cpu = 0; cpu < ncpu; cpu++)
		if (cpus[cpu].cpu_env == e)
			return cpu;
	return -1;
}

void smp_kick(int cpu)
{
	lapic_send_ipi(cpus[cpu].cpu_apic_id, T_IPI_KICK);
}
