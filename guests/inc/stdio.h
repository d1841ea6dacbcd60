/* The formatted-output engine shared by the kernel's cprintf and the user's printf. */
#ifndef JOS_INC_STDIO_H
#define JOS_INC_STDIO_H

#include <stdarg.h>
#include <types.h>

typedef void (*putch_fn)(int ch, void *arg);

/*
 * Conversions: %d %i %u %x %X %o %c %s %p %%, flags '-' and '0', a width and
 * (for %s) a precision, either of them may be '*', length modifiers l and ll.
 */
void vprintfmt(putch_fn putch, void *arg, const char *fmt, va_list ap);
void printfmt(putch_fn putch, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, int size, const char *fmt, va_list ap);
int snprintf(char *buf, int size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
