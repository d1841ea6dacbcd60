/* Error codes; system calls return them negated. */
#ifndef JOS_INC_ERROR_H
#define JOS_INC_ERROR_H

enum {
	E_UNSPECIFIED = 1,  /* unspecified or unknown problem */
	E_BAD_ENV,          /* no such environment, or not allowed to touch it */
	E_INVAL,            /* invalid parameter */
	E_NO_MEM,           /* out of memory */
	E_NO_FREE_ENV,      /* no free environment slot */
	E_IPC_NOT_RECV,     /* target is not receiving */
	E_FAULT,            /* bad user memory */
	MAXERROR
};

#endif
