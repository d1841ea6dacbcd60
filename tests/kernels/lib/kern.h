/* Tiny runtime shared by the MiniHv test kernels. */
#ifndef KERN_H
#define KERN_H

#include <stdarg.h>
#include <stdint.h>

/* ---- port I/O and a few privileged instructions ---- */
static inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint16_t inw(uint16_t port) { uint16_t v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void sti(void) { asm volatile("sti" ::: "memory"); }
/* Enable interrupts and wait for one; STI's one-instruction shadow makes the pair atomic. */
static inline void sti_hlt(void) { asm volatile("sti; hlt" ::: "memory"); }
static inline uint32_t read_cr0(void) { uint32_t v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr2(void) { uint32_t v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr4(void) { uint32_t v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint32_t v) { asm volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(uint32_t v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(uint32_t v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

/* ---- multiboot v1 information (the part we use) ---- */
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;      /* flags bit 0 */
    uint32_t boot_device;               /* bit 1 */
    uint32_t cmdline;                   /* bit 2 */
    uint32_t mods_count, mods_addr;     /* bit 3 */
    uint32_t syms[4];                   /* bits 4/5 */
    uint32_t mmap_length, mmap_addr;    /* bit 6 */
};

/* One memory map entry; 'size' does not count itself. */
struct __attribute__((packed)) multiboot_mmap_entry {
    uint32_t size;
    uint64_t addr, len;
    uint32_t type;                      /* 1: available RAM */
};

/* ---- COM1 (serial.c) ---- */
#define COM1 0x3F8
void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);

/* ---- formatted output (printf.c): %c %s %d %u %x %X %p %%, width and 0 flag ---- */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);

/* ---- leaving: QEMU's isa-debug-exit at port 0xf4, status (v << 1) | 1 ---- */
void qemu_exit(uint8_t v) __attribute__((noreturn));

/* ---- descriptor tables and traps (desc.c, traps.S) ---- */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10

/* What traps.S pushes, lowest address first. */
struct trapframe {
    uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;   /* pushal */
    uint32_t es, ds;
    uint32_t vector, err;        /* err is 0 for vectors without an error code */
    uint32_t eip, cs, eflags;    /* pushed by the CPU */
};

typedef void (*trap_handler)(struct trapframe *tf);

void gdt_init(void);                   /* flat code 0x08 and data 0x10, reloads all segments */
void idt_init(void);                   /* interrupt gates for vectors 0-47 and 0x80 */
void idt_load(void);                   /* LIDT of that table (another CPU's idt_init built it) */
void set_handler(int vector, trap_handler h);

/* ---- 8259A pair (pic.c) ---- */
#define IRQ_BASE 32
void pic_remap(void);                  /* IRQ 0-7 -> 32-39, IRQ 8-15 -> 40-47, all masked */
void pic_unmask(int irq);
void pic_eoi(int irq);

#endif
