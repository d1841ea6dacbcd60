/* Read address 0: nothing is mapped there, the kernel reports the fault. */
#include <lib.h>

void umain(int argc, char **argv)
{
	volatile uint32_t *p = NULL;

	printf("faultread: reading address 0\n");
	printf("faultread: read %08x from address 0, which should have faulted\n", *p);
}
