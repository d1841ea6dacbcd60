/*
 * The kernel's dynamic linker: it loads libshared.so into the environments
 * of programs linked against it (the Makefile's SHPROGS), as ld.so would in
 * a Unix process, but eagerly and from inside the kernel.
 *
 * The page cache.  Each build of the library sits in the kernel image, page
 * aligned (kern/mklibs.sh).  Those pages are the library file in memory, one
 * copy per kernel, and loading maps them as they are wherever it can:
 *   - a page of the read-only segment (headers, text, read-only data) is
 *     mapped read-only from the page cache in every environment, unless a
 *     relocation writes it: only the nonpic build has such text relocations
 *     (its code holds absolute addresses), and each such page becomes a
 *     private copy, relocated, then mapped read-only; its bytes depend on
 *     the load address;
 *   - a page of the writable segment that a relocation writes (the GOT, the
 *     pointers in .data.rel.ro) is a private writable copy;
 *   - any other page of the writable segment is mapped copy-on-write
 *     (PTE_COW, read-only) from the page cache: shared until written.  The
 *     write is resolved by the kernel (trap.c) in an environment without a
 *     page-fault upcall, and by the upcall (lib/fork.c) in one with;
 *   - bss pages are private zeroed pages.
 *
 * The load address.  ULIB; with aslr=1 on the command line, a page-aligned
 * address in [ULIB, ULIB + ULIB_SPAN) drawn from a xorshift32 sequence
 * seeded from seed= (default 1): the n-th load of a boot takes the n-th
 * number, so a run is the same on QEMU and on MiniHv.  A forked child
 * inherits its parent's mappings, so its library is where its parent's is.
 *
 * Symbols.  A relocation's symbol is looked up by name first in the program,
 * then in the library (the gABI's global scope, so a program may interpose
 * on the library), through each object's DT_HASH table.  Relocation types:
 * R_386_RELATIVE, R_386_32, R_386_PC32, R_386_GLOB_DAT and R_386_JMP_SLOT,
 * all bound at load (no lazy binding).
 */
#include <elf.h>
#include "kern.h"

#define SHLIB_NAME      "libshared.so"
#define SHLIB_MAXPAGES  1024                    /* 4 MiB: the largest library */
#define SHLIB_MAXSYMS   2048                    /* symbols whose lookups are kept */
#define ELF_MACHINE_386 3

/* The options (kernel command line) and the library they select. */
static const char *want_variant;                /* lib.variant=pic|nonpic */
static uint32_t want_kib;                       /* lib.kib=N */
static bool aslr;                               /* aslr=1 */
static uint32_t aslr_state;                     /* from seed= */
static const struct shlib_image *selected;

/* One object being linked: the program (base 0, read at its own addresses)
 * or the library (read from the page cache, loaded at base). */
struct dso {
	const char *what;
	uintptr_t base;
	const uint8_t *file;                    /* the library's file; NULL for the program */
	const struct Elf_Sym *symtab;
	const char *strtab;
	const uint32_t *hash;                   /* nbucket, nchain, buckets, chains */
	const struct Elf_Rel *rel;
	uint32_t relsz;
	const struct Elf_Rel *jmprel;
	uint32_t pltrelsz;
	uint32_t *symcache;                     /* resolved values, by symbol index */
	uint8_t *symknown;
};

static uint32_t prog_symcache[SHLIB_MAXSYMS], lib_symcache[SHLIB_MAXSYMS];
static uint8_t prog_symknown[SHLIB_MAXSYMS], lib_symknown[SHLIB_MAXSYMS];

/* Per page of the library being loaded: a relocation writes it; and where
 * its private copy is (kernel address), or NULL if it is the page cache's. */
static uint8_t page_relocated[SHLIB_MAXPAGES];
static uint8_t *page_copy[SHLIB_MAXPAGES];

void shlib_option(const char *word)
{
	if (strncmp(word, "lib.variant=", 12) == 0)
		want_variant = word + 12;
	else if (strncmp(word, "lib.kib=", 8) == 0)
		want_kib = strtol(word + 8, NULL, 10);
	else if (strcmp(word, "aslr=1") == 0)
		aslr = true;
	else if (strcmp(word, "aslr=0") == 0)
		aslr = false;
	else if (strncmp(word, "seed=", 5) == 0)
		aslr_state = strtol(word + 5, NULL, 0);
}

/* The next load address: fixed, or the next number of the sequence. */
static uintptr_t next_base(void)
{
	if (!aslr)
		return ULIB;
	uint32_t x = aslr_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	aslr_state = x;
	return ULIB + (x % (ULIB_SPAN / PGSIZE)) * PGSIZE;
}

static const struct Proghdr *phdrs(const uint8_t *file)
{
	const struct Elf *elf = (const struct Elf *)file;
	return (const struct Proghdr *)(file + elf->e_phoff);
}

/* The library's PT_LOAD or PT_DYNAMIC headers, checked once: page-aligned
 * segments inside the file and inside SHLIB_MAXPAGES. */
static void check_library(const struct shlib_image *img)
{
	const struct Elf *elf = (const struct Elf *)img->start;
	size_t size = img->end - img->start;

	if (size < sizeof(*elf) || elf->e_magic != ELF_MAGIC || elf->e_type != ELF_TYPE_DYN ||
	    elf->e_machine != ELF_MACHINE_386 || elf->e_phoff + elf->e_phnum * sizeof(struct Proghdr) > size)
		panic("%s (%s, %uK): not an i386 shared object", SHLIB_NAME, img->variant, img->kib);
	const struct Proghdr *ph = phdrs(img->start);
	for (int i = 0; i < elf->e_phnum; i++) {
		if (ph[i].p_type != ELF_PROG_LOAD)
			continue;
		if (PGOFF(ph[i].p_vaddr) != 0 || PGOFF(ph[i].p_offset) != 0 ||
		    ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset + ph[i].p_filesz > size ||
		    ROUNDUP(ph[i].p_vaddr + ph[i].p_memsz, PGSIZE) / PGSIZE > SHLIB_MAXPAGES)
			panic("%s (%s, %uK): segment %d is not page-aligned or too big", SHLIB_NAME,
			      img->variant, img->kib, i);
	}
}

/* The build that lib.variant= and lib.kib= ask for (the first that fits),
 * with its pages held for good: the page cache never frees them. */
static const struct shlib_image *select_library(void)
{
	if (selected)
		return selected;
	for (const struct shlib_image *img = shlib_images; img->variant; img++) {
		if ((want_variant && strcmp(want_variant, img->variant) != 0) ||
		    (want_kib && want_kib != img->kib))
			continue;
		check_library(img);
		for (uintptr_t a = (uintptr_t)img->start; a < (uintptr_t)img->end; a += PGSIZE)
			pa2page(PADDR((void *)a))->pp_ref = 1;
		return selected = img;
	}
	cprintf("jos: no %s for lib.variant=%s lib.kib=%u; this kernel has:", SHLIB_NAME,
		want_variant ? want_variant : "(any)", want_kib);
	for (const struct shlib_image *img = shlib_images; img->variant; img++)
		cprintf(" %s %uK", img->variant, img->kib);
	cprintf("\n");
	panic("missing shared library");
}

/* A kernel-readable pointer to the object's link-time address va. */
static const void *dso_ptr(const struct dso *d, uint32_t va)
{
	if (d->file == NULL)
		return (const void *)va;        /* the program: loaded, on its page directory */
	const struct Elf *elf = (const struct Elf *)d->file;
	const struct Proghdr *ph = phdrs(d->file);
	for (int i = 0; i < elf->e_phnum; i++)
		if (ph[i].p_type == ELF_PROG_LOAD && va >= ph[i].p_vaddr &&
		    va < ph[i].p_vaddr + ph[i].p_filesz)
			return d->file + ph[i].p_offset + (va - ph[i].p_vaddr);
	panic("%s: address %08x is not in the file", d->what, va);
}

/* Fill in d's tables from its dynamic section (at link-time address dynva).
 * Returns the DT_NEEDED name, or NULL. */
static const char *read_dynamic(struct dso *d, uint32_t dynva)
{
	uint32_t needed = ~0u, hash = 0, symtab = 0, strtab = 0, rel = 0, jmprel = 0;

	for (const struct Elf_Dyn *dyn = dso_ptr(d, dynva); dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_NEEDED: needed = dyn->d_val; break;
		case DT_HASH: hash = dyn->d_val; break;
		case DT_SYMTAB: symtab = dyn->d_val; break;
		case DT_STRTAB: strtab = dyn->d_val; break;
		case DT_REL: rel = dyn->d_val; break;
		case DT_RELSZ: d->relsz = dyn->d_val; break;
		case DT_JMPREL: jmprel = dyn->d_val; break;
		case DT_PLTRELSZ: d->pltrelsz = dyn->d_val; break;
		}
	}
	if (!hash || !symtab || !strtab)
		panic("%s: no DT_HASH, DT_SYMTAB or DT_STRTAB", d->what);
	d->hash = dso_ptr(d, hash);
	d->symtab = dso_ptr(d, symtab);
	d->strtab = dso_ptr(d, strtab);
	d->rel = d->relsz ? dso_ptr(d, rel) : NULL;
	d->jmprel = d->pltrelsz ? dso_ptr(d, jmprel) : NULL;
	uint32_t nsyms = d->hash[1] < SHLIB_MAXSYMS ? d->hash[1] : SHLIB_MAXSYMS;
	memset(d->symknown, 0, nsyms);
	return needed == ~0u ? NULL : d->strtab + needed;
}

/* The System V ABI's symbol hash (gABI, "Hash Table"). */
static uint32_t elf_hash(const char *name)
{
	uint32_t h = 0;
	for (const uint8_t *p = (const uint8_t *)name; *p; p++) {
		h = (h << 4) + *p;
		uint32_t top = h & 0xF0000000;
		if (top)
			h ^= top >> 24;
		h &= ~top;
	}
	return h;
}

/* The address of the symbol name defined in d, if it is. */
static bool dso_lookup(const struct dso *d, const char *name, uint32_t h, uint32_t *value)
{
	uint32_t nbucket = d->hash[0];
	const uint32_t *bucket = d->hash + 2, *chain = bucket + nbucket;
	for (uint32_t i = bucket[h % nbucket]; i != 0; i = chain[i]) {
		const struct Elf_Sym *s = &d->symtab[i];
		if (s->st_shndx != SHN_UNDEF && strcmp(d->strtab + s->st_name, name) == 0) {
			*value = d->base + s->st_value;
			return true;
		}
	}
	return false;
}

/* S: the value of symbol index sym of d, in the global scope (program, library). */
static uint32_t resolve(struct dso *d, uint32_t sym, struct dso *scope[2])
{
	if (sym < SHLIB_MAXSYMS && d->symknown[sym])
		return d->symcache[sym];
	const struct Elf_Sym *s = &d->symtab[sym];
	const char *name = d->strtab + s->st_name;
	uint32_t h = elf_hash(name), value = 0;
	if (!dso_lookup(scope[0], name, h, &value) && !dso_lookup(scope[1], name, h, &value) &&
	    ELF_ST_BIND(s->st_info) != STB_WEAK)
		panic("%s: undefined symbol %s", d->what, name);
	if (sym < SHLIB_MAXSYMS) {
		d->symknown[sym] = 1;
		d->symcache[sym] = value;
	}
	return value;
}

/* Where the byte at d's link-time address va can be written. */
static uint8_t *place(struct dso *d, uint32_t va)
{
	if (d->file == NULL)
		return (uint8_t *)va;           /* the program's pages are private and writable */
	uint8_t *copy = page_copy[va / PGSIZE];
	if (copy == NULL)
		panic("%s: relocation at %08x in a shared page", d->what, va);
	return copy + PGOFF(va);
}

static uint32_t read_word(struct dso *d, uint32_t va)
{
	uint32_t w = 0;
	for (int i = 0; i < 4; i++)
		w |= (uint32_t)*place(d, va + i) << (8 * i);
	return w;
}

static void write_word(struct dso *d, uint32_t va, uint32_t w)
{
	for (int i = 0; i < 4; i++)
		*place(d, va + i) = w >> (8 * i);
}

/* Apply n bytes of relocations; returns how many there were. */
static uint32_t relocate(struct dso *d, const struct Elf_Rel *rel, uint32_t bytes, struct dso *scope[2])
{
	uint32_t n = bytes / sizeof(*rel);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t va = rel[i].r_offset, type = ELF_R_TYPE(rel[i].r_info);
		uint32_t sym = ELF_R_SYM(rel[i].r_info);
		uint32_t p = d->base + va;
		switch (type) {
		case R_386_NONE:
			break;
		case R_386_RELATIVE:
			write_word(d, va, d->base + read_word(d, va));
			break;
		case R_386_32:
			write_word(d, va, resolve(d, sym, scope) + read_word(d, va));
			break;
		case R_386_PC32:
			write_word(d, va, resolve(d, sym, scope) + read_word(d, va) - p);
			break;
		case R_386_GLOB_DAT:
		case R_386_JMP_SLOT:
			write_word(d, va, resolve(d, sym, scope));
			break;
		default:
			panic("%s: relocation type %u at %08x not supported", d->what, type, va);
		}
	}
	return n;
}

static void mark_relocated(const struct Elf_Rel *rel, uint32_t bytes)
{
	for (uint32_t i = 0; i < bytes / sizeof(*rel); i++) {
		uint32_t va = rel[i].r_offset;
		if (va / PGSIZE >= SHLIB_MAXPAGES || (va + 3) / PGSIZE >= SHLIB_MAXPAGES)
			panic("%s: relocation at %08x outside the library", SHLIB_NAME, va);
		page_relocated[va / PGSIZE] = 1;
		page_relocated[(va + 3) / PGSIZE] = 1;
	}
}

/* What a load did, for its line on the console. */
struct load_counts {
	uint32_t ro_shared, ro_relocated, rw_cow, rw_private;
};

/* Map the library's segments into e at base, as the comment at the top says. */
static void map_library(struct Env *e, const struct shlib_image *img, uintptr_t base,
			struct load_counts *c)
{
	const struct Elf *elf = (const struct Elf *)img->start;
	const struct Proghdr *ph = phdrs(img->start);
	size_t size = img->end - img->start;

	for (int i = 0; i < elf->e_phnum; i++) {
		if (ph[i].p_type != ELF_PROG_LOAD)
			continue;
		bool writable = ph[i].p_flags & ELF_PROG_FLAG_W;
		for (uint32_t off = 0; off < ph[i].p_memsz; off += PGSIZE) {
			uint32_t pn = (ph[i].p_vaddr + off) / PGSIZE;
			uint32_t foff = ph[i].p_offset + off;
			/* The file page as it is: wholly file bytes, or the last one
			 * of a segment without bss; and inside the image. */
			bool as_file = (off + PGSIZE <= ph[i].p_filesz ||
					(ph[i].p_memsz == ph[i].p_filesz && off < ph[i].p_filesz)) &&
				       foff + PGSIZE <= size;
			struct PageInfo *pp;
			int perm = PTE_P | PTE_U;

			page_copy[pn] = NULL;
			if (as_file && !page_relocated[pn]) {
				pp = pa2page(PADDR((void *)(img->start + foff)));
				if (writable) {
					perm |= PTE_COW;
					c->rw_cow++;
				} else {
					c->ro_shared++;
				}
			} else {
				if ((pp = page_alloc(ALLOC_ZERO)) == NULL)
					panic("%s: out of memory", SHLIB_NAME);
				if (off < ph[i].p_filesz)
					memcpy(page2kva(pp), img->start + foff, MIN((uint32_t)PGSIZE, ph[i].p_filesz - off));
				page_copy[pn] = page2kva(pp);
				if (writable) {
					perm |= PTE_W;
					c->rw_private++;
				} else {
					c->ro_relocated++;
				}
			}
			if (page_insert(e->env_pgdir, pp, (void *)(base + pn * PGSIZE), perm) < 0)
				panic("%s: out of memory", SHLIB_NAME);
		}
	}
}

void shlib_link(struct Env *e, const uint8_t *binary)
{
	const struct Elf *elf = (const struct Elf *)binary;
	const struct Proghdr *ph = phdrs(binary);
	uint32_t dynva = 0;

	for (int i = 0; i < elf->e_phnum; i++)
		if (ph[i].p_type == ELF_PROG_DYNAMIC)
			dynva = ph[i].p_vaddr;
	if (dynva == 0)
		return;                         /* linked statically */

	struct dso prog = { .what = e->env_name, .symcache = prog_symcache, .symknown = prog_symknown };
	const char *needed = read_dynamic(&prog, dynva);
	if (needed == NULL)
		return;
	if (strcmp(needed, SHLIB_NAME) != 0)
		panic("%s needs %s: only %s exists", e->env_name, needed, SHLIB_NAME);

	const struct shlib_image *img = select_library();
	struct dso lib = { .what = SHLIB_NAME, .base = next_base(), .file = img->start,
			   .symcache = lib_symcache, .symknown = lib_symknown };
	const struct Proghdr *lph = phdrs(img->start);
	for (int i = 0; i < ((const struct Elf *)img->start)->e_phnum; i++)
		if (lph[i].p_type == ELF_PROG_DYNAMIC)
			read_dynamic(&lib, lph[i].p_vaddr);
	if (lib.hash == NULL)
		panic("%s: no dynamic section", SHLIB_NAME);

	memset(page_relocated, 0, sizeof(page_relocated));
	if (lib.rel)
		mark_relocated(lib.rel, lib.relsz);
	if (lib.jmprel)
		mark_relocated(lib.jmprel, lib.pltrelsz);
	struct load_counts c = { 0 };
	map_library(e, img, lib.base, &c);

	struct dso *scope[2] = { &prog, &lib };
	uint32_t n = 0;
	if (lib.rel)
		n += relocate(&lib, lib.rel, lib.relsz, scope);
	if (lib.jmprel)
		n += relocate(&lib, lib.jmprel, lib.pltrelsz, scope);
	if (prog.rel)
		n += relocate(&prog, prog.rel, prog.relsz, scope);
	if (prog.jmprel)
		n += relocate(&prog, prog.jmprel, prog.pltrelsz, scope);

	cprintf("[%08x] %s (%s, %uK) at %08x: %u relocations; read-only pages: %u shared, "
		"%u relocated; data pages: %u copy-on-write, %u private\n", e->env_id, SHLIB_NAME,
		img->variant, img->kib, lib.base, n, c.ro_shared, c.ro_relocated, c.rw_cow,
		c.rw_private);
}
