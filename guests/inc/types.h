/* Basic fixed-size types and small helpers shared by the kernel and user code. */
#ifndef JOS_INC_TYPES_H
#define JOS_INC_TYPES_H

#ifndef NULL
#define NULL ((void *)0)
#endif

typedef _Bool bool;
#define true 1
#define false 0

typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;

typedef uint32_t uintptr_t;     /* a virtual (linear) address */
typedef uint32_t physaddr_t;    /* a physical address */
typedef uint32_t size_t;
typedef int32_t ssize_t;
typedef int32_t envid_t;

#define MIN(a, b) ({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); _a <= _b ? _a : _b; })
#define MAX(a, b) ({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); _a >= _b ? _a : _b; })

/* Round down / up to a multiple of n (n need not be a power of two). */
#define ROUNDDOWN(a, n) ({ uint32_t _v = (uint32_t)(a); (__typeof__(a))(_v - _v % (n)); })
#define ROUNDUP(a, n) ({ uint32_t _n = (n); \
        (__typeof__(a))(ROUNDDOWN((uint32_t)(a) + _n - 1, _n)); })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define offsetof(type, member) __builtin_offsetof(type, member)

#define STATIC_ASSERT(cond) _Static_assert(cond, #cond)

#endif
