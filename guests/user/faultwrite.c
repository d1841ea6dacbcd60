/* Write address 0: nothing is mapped there, the kernel reports the fault. */
#include <lib.h>

void umain(int argc, char **argv)
{
	volatile uint32_t *p = NULL;

	printf("faultwrite: writing address 0\n");
	*p = 0;
	printf("faultwrite: wrote address 0, which should have faulted\n");
}
