/* Physical page allocation and page tables. */
#include "kern.h"

size_t npages;                          /* physical pages of RAM */
static size_t npages_basemem;           /* pages below 640 KiB */
pde_t *kern_pgdir;                      /* the kernel's page directory */
struct PageInfo *pages;                 /* one per physical page */
static struct PageInfo *page_free_list;

/* ---------------------------------------------------------------------
 * Memory size
 * --------------------------------------------------------------------- */

static unsigned nvram_read(int reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static unsigned nvram_read16(int reg)
{
	return nvram_read(reg) | nvram_read(reg + 1) << 8;
}

static void detect_memory(void)
{
	uint32_t basemem, extmem;   /* KiB */
	const char *source;

	if (boot_magic == MULTIBOOT_BOOT_MAGIC && (boot_mbi.flags & MBI_MEM)) {
		basemem = boot_mbi.mem_lower;
		extmem = boot_mbi.mem_upper;
		source = "multiboot";
	} else {
		/* CMOS NVRAM: 0x15 base, 0x17 (and 0x30) extended memory in
		 * KiB up to 64 MiB, 0x34 memory above 16 MiB in 64 KiB units. */
		basemem = nvram_read16(0x15);
		extmem = nvram_read16(0x17);
		if (extmem == 0)
			extmem = nvram_read16(0x30);
		uint32_t ext16 = nvram_read16(0x34) * 64;
		if (ext16)
			extmem = 16 * 1024 - 1024 + ext16;
		source = "CMOS";
	}

	uint32_t total = extmem ? 1024 + extmem : basemem;
	npages = total / (PGSIZE / 1024);
	npages_basemem = basemem / (PGSIZE / 1024);
	if (npages > MAXPHYSMEM / PGSIZE)
		npages = MAXPHYSMEM / PGSIZE;
	if (npages < 1024)
		panic("only %uK of memory: need at least 4 MiB", total);

	cprintf("jos: physical memory %uK (base %uK, extended %uK, from %s), using %u pages\n",
		total, basemem, extmem, source, npages);
}

/* ---------------------------------------------------------------------
 * Boot-time allocation, before the free list exists
 * --------------------------------------------------------------------- */

/* Allocate n bytes (page-aligned, not cleared) after the kernel image.
 * Only the entry mapping of physical [0, ENTRY_MAPPED) exists at this point. */
static void *boot_alloc(uint32_t n)
{
	static char *nextfree;

	if (nextfree == NULL)
		nextfree = ROUNDUP((char *)end, PGSIZE);
	char *result = nextfree;
	nextfree = ROUNDUP(nextfree + n, PGSIZE);
	if (PADDR(nextfree) > ENTRY_MAPPED)
		panic("boot_alloc: out of the entry mapping (%u bytes wanted)", n);
	return result;
}

/* Map [va, va+size) to [pa, pa+size) with perm; only for static kernel mappings. */
static void boot_map_region(pde_t *pgdir, uintptr_t va, size_t size, physaddr_t pa, int perm)
{
	for (size_t off = 0; off < size; off += PGSIZE) {
		pte_t *pte = pgdir_walk(pgdir, (void *)(va + off), 1);
		if (pte == NULL)
			panic("boot_map_region: out of memory");
		*pte = (pa + off) | perm | PTE_P;
	}
}

/* ---------------------------------------------------------------------
 * The free page list
 * --------------------------------------------------------------------- */

static bool page_is_reserved(size_t pn, size_t first_free_ext)
{
	if (pn == 0)
		return true;                    /* real-mode IVT and BIOS data */
#ifdef JOS_SMP
	if (pn == PGNUM(APBOOT_PADDR))
		return true;                    /* where the APs start (kern/smp.c) */
#endif
	if (pn >= npages_basemem && pn < PGNUM(EXTPHYSMEM))
		return true;                    /* EBDA, the I/O hole and the BIOS */
	if (pn >= PGNUM(EXTPHYSMEM) && pn < first_free_ext)
		return true;                    /* the kernel and boot_alloc'd memory */
	return false;
}

/* Put every page that is not in use on the free list, lowest address first. */
static void page_init(void)
{
	size_t first_free_ext = PGNUM(PADDR(boot_alloc(0)));

	page_free_list = NULL;
	for (size_t pn = npages; pn-- > 0;) {
		pages[pn].pp_ref = 0;
		pages[pn].pp_link = NULL;
		if (page_is_reserved(pn, first_free_ext))
			continue;
		pages[pn].pp_link = page_free_list;
		page_free_list = &pages[pn];
	}
}

struct PageInfo *page_alloc(int flags)
{
	struct PageInfo *pp = page_free_list;
	if (pp == NULL)
		return NULL;
	page_free_list = pp->pp_link;
	pp->pp_link = NULL;
	if (pp->pp_ballooned)
		balloon_reclaim(pp);
	if (flags & ALLOC_ZERO)
		memset(page2kva(pp), 0, PGSIZE);
	return pp;
}

/* The free list, head first, for the balloon to walk (it marks pages but never moves them). */
struct PageInfo *page_free_first(void)
{
	return page_free_list;
}

void page_free(struct PageInfo *pp)
{
	if (pp->pp_ref != 0 || pp->pp_link != NULL)
		panic("page_free: page %08x still in use (ref %u)", page2pa(pp), pp->pp_ref);
	pp->pp_link = page_free_list;
	page_free_list = pp;
}

void page_decref(struct PageInfo *pp)
{
	if (--pp->pp_ref == 0)
		page_free(pp);
}

/* ---------------------------------------------------------------------
 * Page tables
 * --------------------------------------------------------------------- */

/* The PTE for va in pgdir; with create, allocate a missing page table. */
pte_t *pgdir_walk(pde_t *pgdir, const void *va, int create)
{
	pde_t *pde = &pgdir[PDX(va)];

	if (!(*pde & PTE_P)) {
		if (!create)
			return NULL;
		struct PageInfo *pp = page_alloc(ALLOC_ZERO);
		if (pp == NULL)
			return NULL;
		pp->pp_ref++;
		/* The PTEs decide the permissions; the PDE allows everything. */
		*pde = page2pa(pp) | PTE_P | PTE_W | PTE_U;
	}
	pte_t *pt = KADDR(PTE_ADDR(*pde));
	return &pt[PTX(va)];
}

void tlb_invalidate(pde_t *pgdir, void *va)
{
	(void)pgdir;    /* one CPU, no global pages: harmless for any pgdir */
	invlpg(va);
}

struct PageInfo *page_lookup(pde_t *pgdir, void *va, pte_t **pte_store)
{
	pte_t *pte = pgdir_walk(pgdir, va, 0);
	if (pte_store)
		*pte_store = pte;
	if (pte == NULL || !(*pte & PTE_P))
		return NULL;
	return pa2page(PTE_ADDR(*pte));
}

void page_remove(pde_t *pgdir, void *va)
{
	pte_t *pte;
	struct PageInfo *pp = page_lookup(pgdir, va, &pte);
	if (pp == NULL)
		return;
	*pte = 0;
	tlb_invalidate(pgdir, va);
	page_decref(pp);
}

/* Map pp at va with perm, replacing what was there. */
int page_insert(pde_t *pgdir, struct PageInfo *pp, void *va, int perm)
{
	pte_t *pte = pgdir_walk(pgdir, va, 1);
	if (pte == NULL)
		return -E_NO_MEM;
	/* Take the reference first: re-inserting the same page must not free it. */
	pp->pp_ref++;
	if (*pte & PTE_P)
		page_remove(pgdir, va);
	*pte = page2pa(pp) | perm | PTE_P;
	tlb_invalidate(pgdir, va);
	return 0;
}

/* ---------------------------------------------------------------------
 * User memory checks for system calls
 * --------------------------------------------------------------------- */

static uintptr_t user_mem_check_addr;

/* 0 if env may access [va, va+len) with perm (plus PTE_P), else -E_FAULT. */
int user_mem_check(struct Env *env, const void *va, size_t len, int perm)
{
	uintptr_t start = (uintptr_t)va, stop = start + len;

	if (stop < start) {
		user_mem_check_addr = start;
		return -E_FAULT;
	}
	perm |= PTE_P;
	for (uintptr_t a = ROUNDDOWN(start, PGSIZE); a < stop; a += PGSIZE) {
		uintptr_t bad = a < start ? start : a;
		if (a >= ULIM) {
			user_mem_check_addr = bad;
			return -E_FAULT;
		}
		pte_t *pte = pgdir_walk(env->env_pgdir, (void *)a, 0);
		if (pte == NULL || (*pte & perm) != (uint32_t)perm) {
			user_mem_check_addr = bad;
			return -E_FAULT;
		}
		if (a + PGSIZE < a)
			break;
	}
	return 0;
}

void user_mem_assert(struct Env *env, const void *va, size_t len, int perm)
{
	if (user_mem_check(env, va, len, perm | PTE_U) < 0) {
		cprintf("[%08x] user_mem_check assertion failure for va %08x\n",
			env->env_id, user_mem_check_addr);
		env_destroy(env);
	}
}

/* ---------------------------------------------------------------------
 * Self-tests, run once at boot
 * --------------------------------------------------------------------- */

static size_t count_free_pages(void)
{
	size_t n = 0, first_free_ext = PGNUM(PADDR(boot_alloc(0)));
	for (struct PageInfo *pp = page_free_list; pp; pp = pp->pp_link) {
		assert(pp >= pages && pp < pages + npages);
		assert(!page_is_reserved(pp - pages, first_free_ext));
		n++;
	}
	return n;
}

/* Every static kernel mapping translates as mem_init set it up. */
static physaddr_t walk_pa(pde_t *pgdir, uintptr_t va)
{
	pte_t *pte = pgdir_walk(pgdir, (void *)va, 0);
	if (pte == NULL || !(*pte & PTE_P))
		return ~0u;
	return PTE_ADDR(*pte) | PGOFF(va);
}

static void check_kern_pgdir(void)
{
	for (size_t i = 0; i < npages; i += 17)
		assert(walk_pa(kern_pgdir, KERNBASE + i * PGSIZE) == i * PGSIZE);
	assert(walk_pa(kern_pgdir, KERNBASE + (npages - 1) * PGSIZE) == (npages - 1) * PGSIZE);
	for (size_t off = 0; off < npages * sizeof(struct PageInfo); off += PGSIZE)
		assert(walk_pa(kern_pgdir, UPAGES + off) == PADDR(pages) + off);
	for (size_t off = 0; off < NENV * sizeof(struct Env); off += PGSIZE)
		assert(walk_pa(kern_pgdir, UENVS + off) == PADDR(envs) + off);
	for (size_t off = 0; off < KSTKSIZE; off += PGSIZE)
		assert(walk_pa(kern_pgdir, KSTACKTOP - KSTKSIZE + off) == PADDR(bootstack) + off);
	assert(walk_pa(kern_pgdir, KSTACKTOP - KSTKSIZE - PGSIZE) == ~0u);    /* guard */
	assert(walk_pa(kern_pgdir, 0) == ~0u);
	assert(kern_pgdir[PDX(UVPT)] == (PADDR(kern_pgdir) | PTE_U | PTE_P));
}

/* page_alloc, page_insert, page_lookup, page_remove and reference counts. */
static void check_page_ops(void)
{
	size_t nfree = count_free_pages();
	struct PageInfo *a = page_alloc(0), *b = page_alloc(0), *c = page_alloc(ALLOC_ZERO);
	assert(a && b && c && a != b && b != c && a != c);
	assert(count_free_pages() == nfree - 3);
	for (int i = 0; i < PGSIZE; i++)
		assert(((uint8_t *)page2kva(c))[i] == 0);

	/* Pick a test address whose page table does not exist yet. */
	void *va = (void *)(UTEMP + 3 * PGSIZE);
	assert(pgdir_walk(kern_pgdir, va, 0) == NULL);
	assert(page_insert(kern_pgdir, a, va, PTE_W) == 0);     /* also allocates a page table */
	assert(a->pp_ref == 1);
	assert(count_free_pages() == nfree - 4);
	pte_t *pte;
	assert(page_lookup(kern_pgdir, va, &pte) == a);
	assert((*pte & (PTE_P | PTE_W | PTE_U)) == (PTE_P | PTE_W));

	/* The mapping is live: a write through va shows at the page's kernel address. */
	*(volatile uint32_t *)va = 0x6a6f7321;
	assert(*(uint32_t *)page2kva(a) == 0x6a6f7321);

	/* Re-inserting the same page keeps one reference and changes perm. */
	assert(page_insert(kern_pgdir, a, va, PTE_U) == 0);
	assert(a->pp_ref == 1 && (*pte & PTE_U) && !(*pte & PTE_W));

	/* Replacing it with b drops a's last reference: a goes back to the list. */
	assert(page_insert(kern_pgdir, b, va, PTE_W) == 0);
	assert(a->pp_ref == 0 && b->pp_ref == 1);
	assert(page_free_list == a);

	/* The same page at two addresses. */
	void *va2 = (char *)va + PGSIZE;
	assert(page_insert(kern_pgdir, b, va2, PTE_W) == 0);
	assert(b->pp_ref == 2);
	*(volatile uint32_t *)va2 = 0x12345678;
	assert(*(volatile uint32_t *)va == 0x12345678);
	page_remove(kern_pgdir, va);
	assert(b->pp_ref == 1 && page_lookup(kern_pgdir, va, NULL) == NULL);
	page_remove(kern_pgdir, va2);
	assert(b->pp_ref == 0 && page_free_list == b);

	/* Give the test page table back. */
	pde_t *pde = &kern_pgdir[PDX(va)];
	struct PageInfo *pt = pa2page(PTE_ADDR(*pde));
	*pde = 0;
	page_decref(pt);
	tlb_invalidate(kern_pgdir, va);
	tlb_invalidate(kern_pgdir, va2);
	page_free(c);
	assert(count_free_pages() == nfree);
}

/* ---------------------------------------------------------------------
 * Setup
 * --------------------------------------------------------------------- */

void mem_init(void)
{
	detect_memory();

	kern_pgdir = boot_alloc(PGSIZE);
	memset(kern_pgdir, 0, PGSIZE);
	/* The page directory maps itself at UVPT: user code reads its page
	 * tables there (read-only). */
	kern_pgdir[PDX(UVPT)] = PADDR(kern_pgdir) | PTE_U | PTE_P;

	pages = boot_alloc(npages * sizeof(struct PageInfo));
	memset(pages, 0, npages * sizeof(struct PageInfo));
	envs = boot_alloc(NENV * sizeof(struct Env));
	memset(envs, 0, NENV * sizeof(struct Env));

	page_init();

	boot_map_region(kern_pgdir, UPAGES, ROUNDUP(npages * sizeof(struct PageInfo), PGSIZE),
			PADDR(pages), PTE_U);
	boot_map_region(kern_pgdir, UENVS, ROUNDUP(NENV * sizeof(struct Env), PGSIZE),
			PADDR(envs), PTE_U);
	boot_map_region(kern_pgdir, KSTACKTOP - KSTKSIZE, KSTKSIZE, PADDR(bootstack), PTE_W);
	boot_map_region(kern_pgdir, KERNBASE, npages * PGSIZE, 0, PTE_W);
	check_kern_pgdir();

	lcr3(PADDR(kern_pgdir));
	lcr0(rcr0() | CR0_PE | CR0_PG | CR0_WP);

	check_page_ops();
	cprintf("jos: page tables and page allocator checked\n");
}
