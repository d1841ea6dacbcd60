/*
 * A 32-bit integer mix (the murmur3 finaliser's shape): a well-spread,
 * deterministic function for programs that derive page contents or choose
 * items from a seed.  Inline, so a program gets it without the library.
 */
#ifndef JOS_INC_HASH_H
#define JOS_INC_HASH_H

#include <types.h>

static inline uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x9E3779B1u;
	x ^= x >> 13;
	x *= 0x85EBCA77u;
	x ^= x >> 16;
	return x;
}

#endif
