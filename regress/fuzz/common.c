/*
 * Shared by the fuzz harnesses.  Logging goes through log.c as in the
 * daemon, every line formatted, but written to /dev/null, since a
 * harness runs millions of inputs; FUZZ_LOG=1 in the environment sends
 * the lines to stderr, to see what one input did.
 */

#include "phishmilter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fuzz.h"

static char	fuzz_tmp[PATH_MAX];

void
fuzz_fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

void
fuzz_log_init(void)
{
	const char	*v = getenv("FUZZ_LOG");

	if (v != NULL && *v != '\0' && strcmp(v, "0") != 0) {
		log_init(1, LOG_DEBUG, NULL);
		return;
	}
	log_set_level(LOG_DEBUG);
	if (log_open_file("/dev/null") == -1)
		fuzz_fatal("/dev/null: %s", strerror(errno));
}

/* What a harness left in its directory is removed by the harness. */
static void
fuzz_dir_remove(void)
{
	if (fuzz_tmp[0] != '\0')
		(void)rmdir(fuzz_tmp);
}

/*
 * The harness's own directory, made on first use.  Its name has no glob
 * characters, so that a pattern built on it only globs where it means
 * to (f_config.c confines the configuration's includes to it).
 */
const char *
fuzz_dir(void)
{
	const char	*tmp = getenv("TMPDIR");

	if (fuzz_tmp[0] != '\0')
		return fuzz_tmp;
	if (tmp == NULL || *tmp != '/' || strpbrk(tmp, "*?[\\") != NULL ||
	    strlen(tmp) > sizeof(fuzz_tmp) - 64)
		tmp = "/tmp";
	snprintf(fuzz_tmp, sizeof(fuzz_tmp), "%s/phishmilter-fuzz.XXXXXX",
	    tmp);
	if (mkdtemp(fuzz_tmp) == NULL)
		fuzz_fatal("mkdtemp %s: %s", fuzz_tmp, strerror(errno));
	atexit(fuzz_dir_remove);
	return fuzz_tmp;
}

void
fuzz_path(char *buf, size_t size, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", fuzz_dir(), name) >= size)
		fuzz_fatal("%s: path too long", name);
}

/* Writes a file of the harness's directory whole, or dies. */
void
fuzz_write(const char *path, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		fuzz_fatal("%s: %s", path, strerror(errno));
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			fuzz_fatal("%s: %s", path, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) == -1)
		fuzz_fatal("%s: %s", path, strerror(errno));
}

/* The configuration text loaded as the daemon loads its file. */
struct config *
fuzz_config(const char *text)
{
	struct config	*cf;
	char		 path[PATH_MAX];

	fuzz_path(path, sizeof(path), "fixed.conf");
	fuzz_write(path, text, strlen(text));
	cf = config_load(path);
	(void)unlink(path);
	if (cf == NULL)
		fuzz_fatal("the harness's configuration does not load "
		    "(FUZZ_LOG=1 shows why)");
	return cf;
}

/*
 * As a worker starts: libetpan's MIME tables and the charset converters
 * (text in a charset without one is decoded as undeclared), then the
 * configuration text.  For the harnesses that decode mail.
 */
struct config *
fuzz_worker_config(const char *text)
{
	mime_init();
	if (charset_init() == -1)
		fprintf(stderr, "fuzz: some charset converters are missing\n");
	return fuzz_config(text);
}
