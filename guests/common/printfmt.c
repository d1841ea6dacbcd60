/*
 * A small printf engine: the kernel's cprintf and the user's printf both feed
 * it a putch function.  Numbers that fit in 32 bits are converted with 32-bit
 * division; only %ll conversions of large values reach the 64-bit helpers.
 */
#include <stdio.h>
#include <string.h>

static const char digits_lower[] = "0123456789abcdef";
static const char digits_upper[] = "0123456789ABCDEF";

/* Write the digits of v in base b into buf (backwards); return how many. */
static int convert(char *buf, uint64_t v, unsigned b, const char *digits)
{
	int n = 0;
	if (v >> 32) {
		do {
			buf[n++] = digits[v % b];
			v /= b;
		} while (v >> 32);
	}
	uint32_t w = (uint32_t)v;
	do {
		buf[n++] = digits[w % b];
		w /= b;
	} while (w != 0);
	return n;
}

struct spec {
	int left;       /* '-': pad on the right */
	int zero;       /* '0': pad numbers with zeros */
	int width;
	int prec;       /* -1: none */
};

static void pad(putch_fn putch, void *arg, int ch, int n)
{
	while (n-- > 0)
		putch(ch, arg);
}

static void put_number(putch_fn putch, void *arg, const struct spec *sp,
		       uint64_t v, unsigned base, int neg, const char *digits, const char *prefix)
{
	char buf[24];
	int n = convert(buf, v, base, digits);
	int plen = strlen(prefix);
	int len = n + neg + plen;
	int fill = sp->width > len ? sp->width - len : 0;

	if (!sp->left && !sp->zero)
		pad(putch, arg, ' ', fill);
	if (neg)
		putch('-', arg);
	while (*prefix)
		putch(*prefix++, arg);
	if (!sp->left && sp->zero)
		pad(putch, arg, '0', fill);
	while (n > 0)
		putch(buf[--n], arg);
	if (sp->left)
		pad(putch, arg, ' ', fill);
}

void vprintfmt(putch_fn putch, void *arg, const char *fmt, va_list ap)
{
	for (;;) {
		int ch = (unsigned char)*fmt++;
		if (ch == 0)
			return;
		if (ch != '%') {
			putch(ch, arg);
			continue;
		}

		struct spec sp = { 0, 0, 0, -1 };
		int lflag = 0;
		/* Flags. */
		for (;; fmt++) {
			if (*fmt == '-')
				sp.left = 1;
			else if (*fmt == '0')
				sp.zero = 1;
			else
				break;
		}
		/* Width. */
		if (*fmt == '*') {
			sp.width = va_arg(ap, int);
			if (sp.width < 0) {
				sp.left = 1;
				sp.width = -sp.width;
			}
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				sp.width = sp.width * 10 + (*fmt++ - '0');
		}
		/* Precision. */
		if (*fmt == '.') {
			fmt++;
			sp.prec = 0;
			if (*fmt == '*') {
				sp.prec = va_arg(ap, int);
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					sp.prec = sp.prec * 10 + (*fmt++ - '0');
			}
		}
		/* Length. */
		while (*fmt == 'l') {
			lflag++;
			fmt++;
		}

		uint64_t u;
		int64_t s;
		switch (ch = (unsigned char)*fmt++) {
		case 'c': {
			struct spec cs = sp;
			cs.zero = 0;
			if (!cs.left)
				pad(putch, arg, ' ', cs.width - 1);
			putch(va_arg(ap, int), arg);
			if (cs.left)
				pad(putch, arg, ' ', cs.width - 1);
			break;
		}
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (str == NULL)
				str = "(null)";
			int len = sp.prec >= 0 ? (int)strnlen(str, sp.prec) : (int)strlen(str);
			if (!sp.left)
				pad(putch, arg, ' ', sp.width - len);
			for (int i = 0; i < len; i++)
				putch(str[i], arg);
			if (sp.left)
				pad(putch, arg, ' ', sp.width - len);
			break;
		}
		case 'd':
		case 'i':
			if (lflag >= 2)
				s = va_arg(ap, long long);
			else
				s = va_arg(ap, long);
			if (s < 0)
				put_number(putch, arg, &sp, (uint64_t)-s, 10, 1, digits_lower, "");
			else
				put_number(putch, arg, &sp, (uint64_t)s, 10, 0, digits_lower, "");
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			if (lflag >= 2)
				u = va_arg(ap, unsigned long long);
			else
				u = va_arg(ap, unsigned long);
			put_number(putch, arg, &sp, u, ch == 'u' ? 10 : ch == 'o' ? 8 : 16, 0,
				   ch == 'X' ? digits_upper : digits_lower, "");
			break;
		case 'p':
			sp.zero = 1;
			sp.width = 10;
			put_number(putch, arg, &sp, (uintptr_t)va_arg(ap, void *), 16, 0,
				   digits_lower, "0x");
			break;
		case '%':
			putch('%', arg);
			break;
		case 0:
			return;
		default:
			/* Unknown conversion: print it as written. */
			putch('%', arg);
			putch(ch, arg);
			break;
		}
	}
}

void printfmt(putch_fn putch, void *arg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintfmt(putch, arg, fmt, ap);
	va_end(ap);
}

struct sbuf {
	char *p;
	char *end;
	int count;
};

static void sputch(int ch, void *arg)
{
	struct sbuf *b = arg;
	b->count++;
	if (b->p < b->end)
		*b->p++ = (char)ch;
}

/* Like C's vsnprintf: always terminates (if size > 0), returns the full length. */
int vsnprintf(char *buf, int size, const char *fmt, va_list ap)
{
	struct sbuf b = { buf, buf + (size > 0 ? size - 1 : 0), 0 };
	vprintfmt(sputch, &b, fmt, ap);
	if (size > 0)
		*b.p = 0;
	return b.count;
}

int snprintf(char *buf, int size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
