/*
 * The kernel's memory is mapped in every environment, but for the kernel only:
 * physical page 0 is at KERNBASE (present, supervisor), while address 0 is not
 * mapped at all.  A read of KERNBASE is caught here by the page-fault upcall
 * (a protection fault, err 5); then, with the upcall removed, a write to
 * KERNBASE is reported by the kernel (err 7) and ends the environment.
 */
#include <lib.h>

extern char faultkernel_resume[];

static void handler(struct UTrapframe *utf)
{
	printf("faultkernel: caught a fault: va %08x, err %x (%s %s, %s), eip %08x\n",
	       utf->utf_fault_va, utf->utf_err,
	       utf->utf_err & FEC_U ? "user" : "kernel",
	       utf->utf_err & FEC_WR ? "write" : "read",
	       utf->utf_err & FEC_PR ? "protection" : "not present",
	       utf->utf_eip);
	/* Skip the faulting instruction. */
	utf->utf_eip = (uintptr_t)faultkernel_resume;
}

void umain(int argc, char **argv)
{
	uint32_t value = 0x600dcafe;

	printf("faultkernel: reading KERNBASE (%08x) from user mode\n", KERNBASE);
	set_pgfault_handler(handler);
	asm volatile("movl (%1), %0\n"
		     ".globl faultkernel_resume\n"
		     "faultkernel_resume:\n"
		     : "+a"(value)
		     : "r"(KERNBASE)
		     : "memory");
	printf("faultkernel: the read did not complete, eax still holds %08x\n", value);

	printf("faultkernel: writing KERNBASE from user mode, no handler\n");
	sys_env_set_pgfault_upcall(0, NULL);
	*(volatile uint32_t *)KERNBASE = 0;
	printf("faultkernel: wrote KERNBASE, which should have faulted\n");
}
