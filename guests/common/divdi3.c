/*
 * 64-bit division for a 32-bit freestanding target.  gcc turns 64-bit '/' and
 * '%' into calls to these (the libgcc names); there is no 32-bit libgcc here.
 * Only 32-bit DIV and shifts are used, so these never call themselves.
 */
#include <types.h>

uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);
uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem);
int64_t __divmoddi4(int64_t n, int64_t d, int64_t *rem);

/* One DIVL: (hi:lo) / d, which must not overflow (hi < d). */
static inline uint32_t divl(uint32_t hi, uint32_t lo, uint32_t d, uint32_t *rem)
{
	uint32_t q, r;
	asm("divl %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
	*rem = r;
	return q;
}

static uint64_t udivmod(uint64_t n, uint64_t d, uint64_t *rem)
{
	uint32_t nh = n >> 32, nl = (uint32_t)n;
	uint32_t dh = d >> 32, dl = (uint32_t)d;

	if (dh == 0) {
		if (dl == 0) {
			/* Divide by zero: let the CPU raise #DE as for 32-bit code. */
			uint32_t r;
			volatile uint32_t z = 0;
			uint32_t q = divl(0, nl, z, &r);
			*rem = r;
			return q;
		}
		/* Schoolbook division by a one-digit (32-bit) divisor. */
		uint32_t r;
		uint32_t qh = divl(0, nh, dl, &r);
		uint32_t ql = divl(r, nl, dl, &r);
		*rem = r;
		return (uint64_t)qh << 32 | ql;
	}

	/* The divisor is 33..64 bits wide: the quotient fits in 32 bits.
	 * Shift-and-subtract over the bits where it can be non-zero. */
	if (n < d) {
		*rem = n;
		return 0;
	}
	int shift = __builtin_clz(dh) - (nh ? __builtin_clz(nh) : 32);
	uint64_t dd = d << shift;
	uint32_t q = 0;
	for (int i = 0; i <= shift; i++) {
		q <<= 1;
		if (n >= dd) {
			n -= dd;
			q |= 1;
		}
		dd >>= 1;
	}
	*rem = n;
	return q;
}

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem)
{
	uint64_t r;
	uint64_t q = udivmod(n, d, &r);
	if (rem)
		*rem = r;
	return q;
}

int64_t __divmoddi4(int64_t n, int64_t d, int64_t *rem)
{
	int64_t q = __divdi3(n, d);
	if (rem)
		*rem = n - q * d;
	return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
	uint64_t r;
	return udivmod(n, d, &r);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
	uint64_t r;
	udivmod(n, d, &r);
	return r;
}

int64_t __divdi3(int64_t n, int64_t d)
{
	uint64_t r;
	int neg = (n < 0) != (d < 0);
	uint64_t q = udivmod(n < 0 ? -(uint64_t)n : (uint64_t)n,
			     d < 0 ? -(uint64_t)d : (uint64_t)d, &r);
	return neg ? -(int64_t)q : (int64_t)q;
}

int64_t __moddi3(int64_t n, int64_t d)
{
	uint64_t r;
	udivmod(n < 0 ? -(uint64_t)n : (uint64_t)n, d < 0 ? -(uint64_t)d : (uint64_t)d, &r);
	return n < 0 ? -(int64_t)r : (int64_t)r;
}
