/* printf for user programs, buffered so that one call is one sys_cputs. */
#include <lib.h>

struct printbuf {
	int len;
	char buf[256];
};

static void putch(int ch, void *arg)
{
	struct printbuf *b = arg;
	b->buf[b->len++] = (char)ch;
	if (b->len == (int)sizeof(b->buf)) {
		sys_cputs(b->buf, b->len);
		b->len = 0;
	}
}

int vprintf(const char *fmt, va_list ap)
{
	struct printbuf b;
	b.len = 0;
	vprintfmt(putch, &b, fmt, ap);
	if (b.len > 0)
		sys_cputs(b.buf, b.len);
	return 0;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	return 0;
}

void cputchar(int c)
{
	char ch = (char)c;
	sys_cputs(&ch, 1);
}

/* Wait (yielding) for a character of input. */
int getchar(void)
{
	int c;
	while ((c = sys_cgetc()) == 0)
		sys_yield();
	return c;
}
