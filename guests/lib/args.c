/* key=value arguments from the kernel command line. */
#include <lib.h>

const char *arg_get(int argc, char **argv, const char *key)
{
	size_t n = strlen(key);
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

long arg_long(int argc, char **argv, const char *key, long dflt)
{
	const char *v = arg_get(argc, argv, key);
	if (v == NULL || *v == 0)
		return dflt;
	return strtol(v, NULL, 0);
}
