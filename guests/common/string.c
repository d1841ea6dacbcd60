/* String and memory functions for the kernel and the user library. */
#include <string.h>

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

char *strcpy(char *dst, const char *src)
{
	char *d = dst;
	while ((*d++ = *src++) != 0)
		;
	return dst;
}

/* Copy at most size-1 bytes and always terminate; return strlen(src). */
size_t strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);
	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = 0;
	}
	return len;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (int)(unsigned char)*a - (int)(unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n > 0; n--, a++, b++) {
		if (*a != *b)
			return (int)(unsigned char)*a - (int)(unsigned char)*b;
		if (*a == 0)
			return 0;
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (*s == 0)
			return NULL;
	}
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;
	if (((uintptr_t)d & 3) == 0 && (n & 3) == 0) {
		uint32_t w = (uint8_t)c;
		w |= w << 8;
		w |= w << 16;
		size_t words = n / 4;
		asm volatile("cld; rep stosl"
			     : "+D"(d), "+c"(words)
			     : "a"(w)
			     : "memory");
		return dst;
	}
	while (n-- > 0)
		*d++ = (uint8_t)c;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	uint8_t *d = dst;
	if (s < d && s + n > d) {
		/* Overlap with the destination above: copy backwards. */
		while (n-- > 0)
			d[n] = s[n];
		return dst;
	}
	if ((((uintptr_t)s | (uintptr_t)d | n) & 3) == 0) {
		size_t words = n / 4;
		asm volatile("cld; rep movsl"
			     : "+S"(s), "+D"(d), "+c"(words)
			     :
			     : "memory");
		return dst;
	}
	while (n-- > 0)
		*d++ = *s++;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	return memmove(dst, src, n);
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (; n > 0; n--, x++, y++)
		if (*x != *y)
			return (int)*x - (int)*y;
	return 0;
}

/* Base 0 accepts 0x (hex) and 0 (octal) prefixes. */
long strtol(const char *s, char **end, int base)
{
	int neg = 0;
	long v = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
	} else if (base == 0 && s[0] == '0') {
		base = 8;
	} else if (base == 0) {
		base = 10;
	}
	for (;; s++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'z')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'Z')
			d = *s - 'A' + 10;
		else
			break;
		if (d >= base)
			break;
		v = v * base + d;
	}
	if (end)
		*end = (char *)s;
	return neg ? -v : v;
}
