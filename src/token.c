/*
 * The Spamhaus API token: read by the root parent from token_file, which
 * must be a regular file owned by root or the unprivileged user and
 * open to nobody else, and handed to the reporter only.  The token is
 * never logged; callers wipe their copy with explicit_bzero().
 */

#include "phishmilter.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int
token_check_file(const char *path, int fd, uid_t user)
{
	struct stat	st;

	if (fstat(fd, &st) == -1) {
		log_warn("token_file %s", path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("token_file %s: not a regular file", path);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != user) {
		log_warnx("token_file %s: owned by uid %ld, not by root or the "
		    "phishmilter user", path, (long)st.st_uid);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		log_warnx("token_file %s: mode %04o lets group or others in; "
		    "refused (chmod 600 it)", path,
		    (unsigned int)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* One token, printable ASCII, surrounding white space removed. */
static int
token_clean(const char *path, char *buf, size_t len)
{
	size_t	start = 0, i;

	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
	    buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	while (start < len && (buf[start] == ' ' || buf[start] == '\t'))
		start++;
	for (i = start; i < len; i++)
		if ((unsigned char)buf[i] <= 0x20 ||
		    (unsigned char)buf[i] >= 0x7f) {
			log_warnx("token_file %s: the token must be one line "
			    "of printable ASCII", path);
			return -1;
		}
	if (len == start) {
		log_warnx("token_file %s: empty", path);
		return -1;
	}
	memmove(buf, buf + start, len - start);
	buf[len - start] = '\0';
	return 0;
}

/* Reads the token into buf; -1 with a log line (never the token). */
int
token_read(const struct config *cf, char *buf, size_t size)
{
	const char	*path = cf->cf_spamhaus.sh_token_file;
	ssize_t		 n;
	int		 fd, rc = -1;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("token_file %s", path);
		return -1;
	}
	if (token_check_file(path, fd, cf->cf_uid) == 0) {
		n = read(fd, buf, size - 1);
		if (n == -1)
			log_warn("token_file %s", path);
		else if ((size_t)n == size - 1)
			log_warnx("token_file %s: longer than %zu bytes", path,
			    size - 2);
		else
			rc = token_clean(path, buf, (size_t)n);
	}
	close(fd);
	if (rc == -1)
		explicit_bzero(buf, size);
	return rc;
}
