/* What the generated padding (padding.g.c) and the library (shlib.c) share. */
#ifndef JOS_SHLIB_PADDING_H
#define JOS_SHLIB_PADDING_H

#include <types.h>
#include <string.h>

typedef uint32_t (*padding_fn)(uint32_t x);

/* One block of padding: its functions and its writable table. */
struct padding_block {
	const padding_fn *funcs;
	unsigned nfuncs;
	uint32_t *state;            /* 1024 words */
};

extern const struct padding_block *const padding_blocks[];
extern const unsigned padding_nblocks;

/* Constant tables: pseudo-random words computed by the compiler. */
#define PAD_MIX(s, i) ((uint32_t)((((s) + (i)) * 0x9E3779B1u) ^ ((((s) + (i)) * 0x85EBCA77u) >> 13)))
#define PAD_MIX16(s, i) ((uint16_t)PAD_MIX(s, i))
#define PAD_4(M, s, i)    M(s, i), M(s, (i) + 1), M(s, (i) + 2), M(s, (i) + 3)
#define PAD_16(M, s, i)   PAD_4(M, s, i), PAD_4(M, s, (i) + 4), PAD_4(M, s, (i) + 8), PAD_4(M, s, (i) + 12)
#define PAD_64(M, s, i)   PAD_16(M, s, i), PAD_16(M, s, (i) + 16), PAD_16(M, s, (i) + 32), PAD_16(M, s, (i) + 48)
#define PAD_256(M, s, i)  PAD_64(M, s, i), PAD_64(M, s, (i) + 64), PAD_64(M, s, (i) + 128), PAD_64(M, s, (i) + 192)
#define PAD_1024(M, s)    PAD_256(M, s, 0u), PAD_256(M, s, 256u), PAD_256(M, s, 512u), PAD_256(M, s, 768u)
#define T1024(s)          PAD_1024(PAD_MIX, s)      /* 1024 words */
#define H1024(s)          PAD_1024(PAD_MIX16, s)    /* 1024 half-words */

#endif
