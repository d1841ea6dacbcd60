/* Inline wrappers for the x86 instructions C cannot express. */
#ifndef JOS_INC_X86_H
#define JOS_INC_X86_H

#include <types.h>

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	asm volatile("inb %w1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %w1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	asm volatile("inl %w1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %w1" : : "a"(v), "Nd"(port));
}

static inline void lcr3(uint32_t v) { asm volatile("movl %0, %%cr3" : : "r"(v) : "memory"); }
static inline void lcr0(uint32_t v) { asm volatile("movl %0, %%cr0" : : "r"(v) : "memory"); }

static inline uint32_t rcr0(void)
{
	uint32_t v;
	asm volatile("movl %%cr0, %0" : "=r"(v));
	return v;
}

static inline uint32_t rcr2(void)
{
	uint32_t v;
	asm volatile("movl %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint32_t rcr3(void)
{
	uint32_t v;
	asm volatile("movl %%cr3, %0" : "=r"(v));
	return v;
}

static inline void invlpg(void *va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline void lgdt(void *p) { asm volatile("lgdt (%0)" : : "r"(p) : "memory"); }
static inline void lidt(void *p) { asm volatile("lidt (%0)" : : "r"(p) : "memory"); }
static inline void ltr(uint16_t sel) { asm volatile("ltr %0" : : "r"(sel) : "memory"); }
static inline void cli(void) { asm volatile("cli"); }
static inline void hlt(void) { asm volatile("hlt"); }

static inline uint32_t read_eflags(void)
{
	uint32_t v;
	asm volatile("pushfl; popl %0" : "=r"(v));
	return v;
}

#endif
