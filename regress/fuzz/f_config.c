/*
 * Fuzzes the configuration parser (config.c, libconfuse, and PCRE2 for
 * the check of each condition): the input is written as a file of the
 * harness's private directory and loaded as the daemon loads its file.
 *
 * Includes stay in that directory.  The harness is linked with
 * -Wl,--wrap=open,--wrap=glob, and while a configuration loads, a path
 * or pattern outside the directory is refused: it could name any file
 * (or a FIFO, which would block) or glob the whole file system.  No
 * component may start with a dot or a backslash, since "..", "\.\."
 * and ".*" all reach the parent; glob(3) never matches a leading dot
 * with a wildcard.  The input itself is "fuzz.conf" there, so an input
 * may include itself, or "*.conf", down to the nesting limit.
 *
 * libFuzzer: -max_len=65536 -dict=config.dict
 */

#include "phishmilter.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

int	__real_open(const char *, int, ...);
int	__wrap_open(const char *, int, ...);
int	__real_glob(const char *, int, int (*)(const char *, int), glob_t *);
int	__wrap_glob(const char *, int, int (*)(const char *, int), glob_t *);

const char	*__asan_default_options(void);
const char	*__lsan_default_suppressions(void);

static int	confined;	/* a configuration is being loaded */

/*
 * libconfuse 3.3 leaks the arguments of a function call with a syntax
 * error in them, such as 'include("a" x)': its parser leaves by its
 * error path without freeing them.  What libconfuse allocates itself is
 * forgiven, and only that: with allocation stacks of two frames, the
 * second is the function that called malloc(), so a leak of what
 * config.c allocates, in libconfuse's callbacks too, is still reported
 * (a cfg_t never freed would not be).  For a crash, rerun its input
 * with ASAN_OPTIONS=malloc_context_size=30 to see whole stacks.
 */
const char *
__asan_default_options(void)
{
	return "malloc_context_size=2";
}

const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfuse.so\n";
}

/* Whether a path or pattern stays inside the harness's directory. */
static int
confined_ok(const char *path)
{
	const char	*dir = fuzz_dir(), *p;
	size_t		 len = strlen(dir);

	if (strncmp(path, dir, len) != 0 || path[len] != '/')
		return 0;
	for (p = path + len; p != NULL; p = strchr(p + 1, '/'))
		if (p[1] == '.' || p[1] == '\\' || p[1] == '/')
			return 0;
	return 1;
}

int
__wrap_open(const char *path, int flags, ...)
{
	va_list	ap;
	int	mode = 0;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	if (confined && !confined_ok(path)) {
		errno = EACCES;
		return -1;
	}
	return __real_open(path, flags, mode);
}

int
__wrap_glob(const char *pattern, int flags, int (*errfunc)(const char *, int),
    glob_t *g)
{
	if (confined && !confined_ok(pattern))
		return GLOB_NOMATCH;
	return __real_glob(pattern, flags, errfunc, g);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_log_init();
	(void)fuzz_dir();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct config	*cf;
	char		 path[PATH_MAX];

	fuzz_path(path, sizeof(path), "fuzz.conf");
	fuzz_write(path, data, len);
	confined = 1;
	cf = config_load(path);
	confined = 0;
	if (cf != NULL) {
		(void)rules_needs(cf);
		config_free(cf);
	}
	(void)unlink(path);
	return 0;
}
