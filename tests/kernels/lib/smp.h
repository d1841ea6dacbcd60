/* The processors of the MP table and the start of the application processors (APs) through INIT
   and STARTUP IPIs, for the multiprocessor test kernels (Intel SDM vol. 3, 8.4.4 and 10.6; the
   MultiProcessor Specification 1.4, appendix B.4). */
#ifndef SMP_H
#define SMP_H

#include <stdint.h>
#include "pc.h"

#define MAXCPU 16

/* CPU i's APIC ID; CPU 0 is the BSP, the APs follow in the MP table's order. */
extern int ncpu;
extern uint8_t cpu_apic_id[MAXCPU];

/* Reads the processor entries of the MP configuration table (usable ones only); 0 if none. */
int smp_find_cpus(struct mp_config *c);
/* Starts every AP, one at a time: each loads the GDT and IDT, enables its local APIC and calls
   ap_main(cpu) on its own 16 KiB stack.  Returns how many CPUs run (the BSP included). */
int smp_start_aps(void (*ap_main)(int cpu));
/* The CPU we run on, by the local APIC's ID register. */
int this_cpu(void);
/* Spins for 'us' microseconds on the local APIC timer (one-shot, masked, divide 16): it counts
   the 1 GHz bus clock of QEMU and MiniHv.  The caller's timer is free to use. */
void delay_us(uint32_t us);

/* The interrupt command register (SDM 10.6.1): delivery mode, destination mode, shorthand. */
#define ICR_FIXED        (0u << 8)
#define ICR_LOWEST       (1u << 8)
#define ICR_NMI          (4u << 8)
#define ICR_INIT         (5u << 8)
#define ICR_STARTUP      (6u << 8)
#define ICR_LOGICAL      (1u << 11)
#define ICR_PENDING      (1u << 12)
#define ICR_ASSERT       (1u << 14)
#define ICR_SELF         (1u << 18)
#define ICR_ALL          (2u << 18)
#define ICR_OTHERS       (3u << 18)
/* Sends an IPI and waits until the local APIC has sent it. */
void send_ipi(uint8_t dest, uint32_t low);

/* Atomic add (LOCK XADD): returns the old value. */
static inline uint32_t atomic_add(volatile uint32_t *p, uint32_t v)
{
    asm volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
}

static inline void cpu_relax(void) { asm volatile("pause" ::: "memory"); }

#endif
