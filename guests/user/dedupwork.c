/*
 * A workload for the hypervisor's page sharing.  Parameters (kernel command
 * line, all optional):
 *
 *   dedup.same=N     pages whose content depends only on the parameters,
 *                    identical in every guest run with the same ones (64)
 *   dedup.zero=N     pages left all zero (32)
 *   dedup.unique=N   pages whose content also depends on the seed (32)
 *   dedup.rewrite=P  percent of the same + unique pages rewritten with new
 *                    content in each round (10)
 *   dedup.rounds=R   rounds (20)
 *   dedup.passes=K   verification passes over all pages per round (1)
 *   seed=S           this guest's seed (1)
 *
 * The pages live at UDEDUP: first the same pages, then the zero pages, then
 * the unique pages.  Which pages a round rewrites depends only on the round
 * number and the page counts, never on the seed, so same pages stay identical
 * across guests that run the same parameters.  Each pass compares every word
 * with what it must hold and checksums the pages, so a transcript also shows
 * that no sharing or copy-on-write ever changed what the guest sees.
 */
#include <lib.h>
#include <hash.h>

#define MAXPAGES        ((USTACKTOP - USTACKMAX - UDEDUP) / PGSIZE)
#define WORDS           (PGSIZE / 4)

static uint32_t nsame, nzero, nunique, npages;
static uint32_t seed;
static uint16_t *version;                       /* at UDEDUP_META */

static uint32_t *page(uint32_t g)
{
	return (uint32_t *)(UDEDUP + g * PGSIZE);
}

enum { SAME, ZERO, UNIQUE };

static int kind(uint32_t g)
{
	return g < nsame ? SAME : g < nsame + nzero ? ZERO : UNIQUE;
}

/* Page g at version v holds base, base + step, base + 2 step, ... */
static void content(uint32_t g, uint32_t v, uint32_t *base, uint32_t *step)
{
	uint32_t h;

	switch (kind(g)) {
	case ZERO:
		*base = *step = 0;
		return;
	case SAME:
		h = mix32(0x53414D45u ^ mix32(g * 0x10001u + v));
		break;
	default:
		h = mix32(0x554E4951u ^ mix32(seed + mix32(g * 0x10001u + v)));
		break;
	}
	*base = h;
	*step = mix32(h + 1) | 1;
}

static void fill(uint32_t g)
{
	uint32_t base, step;
	uint32_t *p = page(g);

	content(g, version[g], &base, &step);
	for (int j = 0; j < WORDS; j++, base += step)
		p[j] = base;
}

struct sums {
	uint32_t sum[3];
	uint32_t mismatches;
};

/* Check every word of every page and checksum them, per kind. */
static void verify(struct sums *s)
{
	for (uint32_t g = 0; g < npages; g++) {
		uint32_t base, step, cs = s->sum[kind(g)];
		const volatile uint32_t *p = page(g);

		content(g, version[g], &base, &step);
		for (int j = 0; j < WORDS; j++, base += step) {
			uint32_t w = p[j];
			cs = (cs << 5 | cs >> 27) ^ w;
			if (w != base && s->mismatches++ < 5)
				printf("dedupwork: MISMATCH page %u word %d: %08x, expected %08x\n",
				       g, j, w, base);
		}
		s->sum[kind(g)] = cs;
	}
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Rewrite count of the same + unique pages, chosen from the round number:
 * a start and a stride coprime to their number visit distinct pages. */
static uint32_t rewrite(uint32_t round, uint32_t percent)
{
	uint32_t n = nsame + nunique;
	uint32_t count = (n * percent + 99) / 100;
	if (n == 0 || count == 0)
		return 0;

	uint32_t r = mix32(round * 0x9E3779B1u + 0x5EED);
	uint32_t idx = r % n;
	uint32_t stride = 1 + mix32(r) % n;
	while (gcd(stride, n) != 1)
		stride++;
	for (uint32_t t = 0; t < count; t++) {
		uint32_t g = idx < nsame ? idx : idx + nzero;
		version[g]++;
		fill(g);
		idx = (idx + stride) % n;
	}
	return count;
}

static int alloc_pages(uintptr_t va, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		int r = sys_page_alloc(0, (void *)(va + i * PGSIZE), PTE_P | PTE_U | PTE_W);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint32_t arg_count(int argc, char **argv, const char *key, long dflt)
{
	long v = arg_long(argc, argv, key, dflt);
	return v < 0 ? 0 : (uint32_t)v;
}

void umain(int argc, char **argv)
{
	nsame = arg_count(argc, argv, "dedup.same", 64);
	nzero = arg_count(argc, argv, "dedup.zero", 32);
	nunique = arg_count(argc, argv, "dedup.unique", 32);
	uint32_t percent = arg_count(argc, argv, "dedup.rewrite", 10);
	uint32_t rounds = arg_count(argc, argv, "dedup.rounds", 20);
	uint32_t passes = arg_count(argc, argv, "dedup.passes", 1);
	seed = arg_long(argc, argv, "seed", 1);
	if (percent > 100)
		percent = 100;
	if (passes < 1)
		passes = 1;
	if (nsame > MAXPAGES || nzero > MAXPAGES || nunique > MAXPAGES ||
	    nsame + nzero + nunique > MAXPAGES) {
		printf("dedupwork: at most %u pages\n", MAXPAGES);
		return;
	}
	npages = nsame + nzero + nunique;

	printf("dedupwork: same=%u zero=%u unique=%u rewrite=%u%% rounds=%u passes=%u seed=%u\n",
	       nsame, nzero, nunique, percent, rounds, passes, seed);

	version = (uint16_t *)UDEDUP_META;
	int r = alloc_pages(UDEDUP_META, ROUNDUP(npages * sizeof(uint16_t), PGSIZE) / PGSIZE);
	if (r >= 0)
		r = alloc_pages(UDEDUP, npages);
	if (r < 0) {
		printf("dedupwork: out of memory for %u pages (%d)\n", npages, r);
		return;
	}
	for (uint32_t g = 0; g < npages; g++)
		if (kind(g) != ZERO)
			fill(g);
	printf("dedupwork: %u pages (%u KiB) filled at %08x\n", npages, npages * 4, UDEDUP);

	uint32_t writes = 0, mismatches = 0;
	struct sums s;
	for (uint32_t round = 1; round <= rounds; round++) {
		uint32_t n = rewrite(round, percent);
		writes += n;
		for (uint32_t pass = 0; pass < passes; pass++) {
			memset(&s, 0, sizeof(s));
			verify(&s);
			mismatches += s.mismatches;
		}
		printf("dedupwork: round %u: rewrote %u pages, checksum %08x\n", round, n,
		       s.sum[SAME] ^ s.sum[ZERO] ^ s.sum[UNIQUE]);
	}
	if (rounds == 0) {
		memset(&s, 0, sizeof(s));
		verify(&s);
		mismatches += s.mismatches;
	}
	printf("dedupwork: done: %u rounds, %u page rewrites, %u mismatches\n", rounds, writes,
	       mismatches);
	printf("dedupwork: checksums: same %08x zero %08x unique %08x\n", s.sum[SAME],
	       s.sum[ZERO], s.sum[UNIQUE]);
}
