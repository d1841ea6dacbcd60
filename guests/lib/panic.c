/* A user panic prints where it happened and ends the environment. */
#include <lib.h>

void _panic(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("[%08x] user panic in %s at %s:%d: ", sys_getenvid(), binaryname, file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit();
}
