/*
 * A binary tree of environments made with copy-on-write fork: each one prints
 * its branch name, then forks children with the name extended by '0' and '1'.
 * Each parent waits for a child to be gone before forking the next, so the
 * lines (and the environment ids) come in a fixed order whatever the timer
 * does.  Parameter forktree.depth=N (default 3, at most 6).
 */
#include <lib.h>

#define MAXDEPTH 6

static int depth;

static void forktree(const char *cur);

static void forkchild(const char *cur, char branch)
{
	char name[MAXDEPTH + 1];

	if ((int)strlen(cur) >= depth)
		return;
	snprintf(name, sizeof(name), "%s%c", cur, branch);
	envid_t child = fork();
	if (child < 0)
		panic("fork: %d", child);
	if (child == 0) {
		forktree(name);
		exit();
	}
	wait(child);
}

static void forktree(const char *cur)
{
	printf("%08x: I am '%s'\n", sys_getenvid(), cur);
	forkchild(cur, '0');
	forkchild(cur, '1');
}

void umain(int argc, char **argv)
{
	depth = arg_long(argc, argv, "forktree.depth", 3);
	if (depth < 0)
		depth = 0;
	if (depth > MAXDEPTH)
		depth = MAXDEPTH;
	forktree("");
}
