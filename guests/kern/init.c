/* The kernel's C entry point: bring the machine up and start the programs
 * named on the command line. */
#include "kern.h"

#define MAXTOKENS 64

static char cmdline_copy[CMDLINE_MAX];
static char *progs[MAXTOKENS];      /* the values of prog=NAME */
static int nprogs;
static char *args[MAXTOKENS];       /* every other key=value word */
static int nargs;
bool show_ticks;
uint32_t idle_ticks;

/*
 * Split the command line into words.  Words of the form prog=NAME choose the
 * programs; every other word with an '=' is passed to each program as an
 * argument.  Words without '=' (QEMU puts the image path first) are ignored.
 */
static void parse_cmdline(void)
{
	char *p = cmdline_copy;

	if (boot_magic == MULTIBOOT_BOOT_MAGIC && (boot_mbi.flags & MBI_CMDLINE))
		strlcpy(cmdline_copy, boot_cmdline, sizeof(cmdline_copy));
	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = 0;
		if (*p == 0)
			break;
		char *word = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = 0;
		if (strchr(word, '=') == NULL)
			continue;
		if (strncmp(word, "prog=", 5) == 0) {
			if (nprogs < MAXTOKENS)
				progs[nprogs++] = word + 5;
		} else if (strcmp(word, "jos.ticks=1") == 0) {
			show_ticks = true;
		} else if (strncmp(word, "jos.idle=", 9) == 0) {
			idle_ticks = (uint32_t)strtol(word + 9, NULL, 10);
		} else if (nargs < MAXTOKENS) {
			/* The loader's options (lib.*, aslr=, seed=) go to the programs too. */
			shlib_option(word);
			args[nargs++] = word;
		}
	}

	cprintf("jos: command line:");
	for (int i = 0; i < nprogs; i++)
		cprintf(" prog=%s", progs[i]);
	for (int i = 0; i < nargs; i++)
		cprintf(" %s", args[i]);
	cprintf("\n");
}

static const struct user_prog *find_prog(const char *name)
{
	for (const struct user_prog *p = user_progs; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static void start_programs(void)
{
	if (nprogs == 0) {
		cprintf("jos: no prog=NAME on the command line, running hello\n");
		progs[nprogs++] = "hello";
	}
	for (int i = 0; i < nprogs; i++) {
		const struct user_prog *p = find_prog(progs[i]);
		if (p == NULL) {
			cprintf("jos: unknown program '%s'; programs:", progs[i]);
			for (p = user_progs; p->name; p++)
				cprintf(" %s", p->name);
			cprintf("\n");
			continue;
		}
		env_create(p->start, p->end - p->start, p->name, nargs, args);
	}
}

void i386_init(void)
{
	cons_init();
	cprintf("jos: MiniHv JOS-style guest kernel\n");
	if (boot_magic != MULTIBOOT_BOOT_MAGIC)
		cprintf("jos: not booted by a multiboot loader (eax %08x)\n", boot_magic);
	parse_cmdline();

	mem_init();
	env_init();
	trap_init();
	pic_init();
#ifdef JOS_LAPIC
	mp_init();
	lapic_init();
#else
	timer_init();
#endif
#ifdef JOS_SMP
	lock_kernel();          /* released by the first env_run; the APs wait for it */
	smp_init();
#endif

	start_programs();
	sched_yield();
}
