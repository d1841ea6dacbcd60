/* The user library: what every user program includes. */
#ifndef JOS_INC_LIB_H
#define JOS_INC_LIB_H

#include <types.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <error.h>
#include <mmu.h>
#include <memlayout.h>
#include <env.h>
#include <trap.h>
#include <syscall.h>

/* The program's entry point, called by libmain with the kernel's arguments:
 * argv[0] is the program name, then every key=value word of the kernel
 * command line other than prog=. */
void umain(int argc, char **argv);

/* libmain.c */
extern const char *binaryname;
extern const volatile struct Env *thisenv;
extern const volatile struct Env envs[NENV];
extern const volatile struct PageInfo pages[];

/* exit.c */
void exit(void) __attribute__((noreturn));

/* panic.c */
void _panic(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
#define panic(...) _panic(__FILE__, __LINE__, __VA_ARGS__)
#define assert(x) do { if (!(x)) panic("assertion failed: %s", #x); } while (0)

/* printf.c: one sys_cputs per call (up to 256 bytes), so lines from
 * different environments do not mix. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
void cputchar(int c);
int getchar(void);

/* System calls (syscall.c); the raw trap is inline so that sys_exofork's
 * child returns into its caller's frame, not into a wrapper's. */
static inline __attribute__((always_inline)) int32_t
syscall(int num, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4, uint32_t a5)
{
	int32_t ret;
	asm volatile("int %1"
		     : "=a"(ret)
		     : "i"(T_SYSCALL), "a"(num), "d"(a1), "c"(a2), "b"(a3), "D"(a4), "S"(a5)
		     : "cc", "memory");
	return ret;
}

static inline __attribute__((always_inline)) envid_t sys_exofork(void)
{
	return syscall(SYS_exofork, 0, 0, 0, 0, 0);
}

void sys_cputs(const char *s, size_t len);
int sys_cgetc(void);
envid_t sys_getenvid(void);
int sys_env_destroy(envid_t envid);
void sys_yield(void);
int sys_env_set_status(envid_t envid, int status);
int sys_page_alloc(envid_t envid, void *va, int perm);
int sys_page_map(envid_t srcenv, void *srcva, envid_t dstenv, void *dstva, int perm);
int sys_page_unmap(envid_t envid, void *va);
int sys_env_set_pgfault_upcall(envid_t envid, void *upcall);
int sys_ipc_try_send(envid_t to, uint32_t value, void *srcva, int perm);
int sys_ipc_recv(void *dstva);
int sys_getcpuid(void);
int sys_ncpu(void);

/* pgfault.c: run handler (on the exception stack) on a page fault. */
void set_pgfault_handler(void (*handler)(struct UTrapframe *utf));
void _pgfault_upcall(void);

/* fork.c: copy-on-write fork. */
envid_t fork(void);

/* ipc.c */
int32_t ipc_recv(envid_t *from_store, void *pg, int *perm_store);
int ipc_send(envid_t to, uint32_t value, void *pg, int perm);

/* wait.c: yield until envid is gone. */
void wait(envid_t envid);

/* args.c: the value of key=value in argv, or NULL / dflt. */
const char *arg_get(int argc, char **argv, const char *key);
long arg_long(int argc, char **argv, const char *key, long dflt);

#endif
