/*
 * libshared.so: the shared library user programs can be linked against
 * (make's SHPROGS).  It holds printf, the string functions and the system
 * call wrappers of the user library (the same sources as libjos.a), its own
 * functions below, and generated padding (shlib/padding.g.c) that makes it
 * as big as a real library.  The kernel's loader (kern/shlib.c) maps it into
 * every environment of a program that needs it; guests/README.md tells how.
 */
#ifndef JOS_INC_SHLIB_H
#define JOS_INC_SHLIB_H

#include <types.h>

/* "libshared.so: pic" or "libshared.so: nonpic": how this copy was built. */
const char *shlib_build(void);

/* The padding functions, numbered from 0. */
unsigned shlib_functions(void);

/* Padding function i applied to x: a value that depends on nothing but
 * the library's contents, i and x, wherever the library was loaded. */
uint32_t shlib_call(unsigned i, uint32_t x);

/* Pages of the library's writable data (.data). */
unsigned shlib_data_pages(void);

/* Add value to a word of data page page: that page stops being shared
 * with the library file (copy-on-write). */
void shlib_touch(unsigned page, uint32_t value);

/* A checksum of all the library's writable data. */
uint32_t shlib_data_checksum(void);

#endif
