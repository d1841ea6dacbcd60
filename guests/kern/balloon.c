/* The balloon driver: gives the host the free pages it asks for (the device's target) and takes them
 * back when it asks for fewer.  The device's registers are in guests/README.md, "Balloon".
 *
 * A page in the balloon stays where it is on the free list, marked pp_ballooned; page_alloc takes it
 * back from the balloon (telling the host first) when its turn comes.  So the free list is always the
 * one a kernel without a balloon would have: every allocation gets the very page it would have got,
 * and nothing a program sees changes; the kernel never runs short because of the balloon.  The balloon
 * marks pages from BALLOON_SKIP pages down the list (the next allocations' pages stay out of it): pages
 * freed lately, which the host has frames behind, before pages never used, which cost it nothing.
 * Under QEMU (no such device) the driver does nothing. */
#include "kern.h"

#define BALLOON_PORT            0x5b0
#define BALLOON_SIGNATURE       0x4e4c4142      /* "BALN" */
#define BALLOON_TARGET          (BALLOON_PORT + 4)
#define BALLOON_INFLATE         (BALLOON_PORT + 12)
#define BALLOON_DEFLATE         (BALLOON_PORT + 16)

#define BALLOON_BATCH   256     /* pages given per timer tick at most (1 MiB) */
#define BALLOON_SKIP    256     /* free pages at the head of the list the balloon leaves alone */

static uint32_t held;           /* free pages marked pp_ballooned */

/* True when the hypervisor offers a balloon device (nothing answers the port elsewhere: all ones). */
static bool balloon_present(void)
{
	return inl(BALLOON_PORT) == BALLOON_SIGNATURE;
}

/* Give the host up to n more free pages. */
static void balloon_inflate(uint32_t n)
{
	uint32_t skipped = 0;
	for (struct PageInfo *pp = page_free_first(); pp && n; pp = pp->pp_link) {
		if (skipped < BALLOON_SKIP) {
			skipped++;
			continue;
		}
		if (pp->pp_ballooned)
			continue;
		pp->pp_ballooned = 1;
		outl(BALLOON_INFLATE, page2pa(pp) >> PGSHIFT);
		held++;
		n--;
	}
}

/* Take n pages back, those nearest the head of the list (the next to be allocated) first. */
static void balloon_deflate(uint32_t n)
{
	for (struct PageInfo *pp = page_free_first(); pp && n; pp = pp->pp_link) {
		if (pp->pp_ballooned) {
			balloon_reclaim(pp);
			n--;
		}
	}
}

/* On the timer: move towards the host's target. */
void balloon_tick(void)
{
	if (!balloon_present())
		return;
	uint32_t target = inl(BALLOON_TARGET);
	if (target > held)
		balloon_inflate(MIN(target - held, BALLOON_BATCH));
	else if (target < held)
		balloon_deflate(held - target);
}

/* The kernel needs pp, a page in the balloon: the host hears of it before anything touches it. */
void balloon_reclaim(struct PageInfo *pp)
{
	outl(BALLOON_DEFLATE, page2pa(pp) >> PGSHIFT);
	pp->pp_ballooned = 0;
	held--;
}
