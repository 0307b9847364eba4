/*
 * The reporter's de-duplication table: what was reported within the
 * ttl, by a 64-bit hash of its kind and object (never the object
 * itself), one slot per hash in a fixed table, so that memory is bounded
 * and a collision can only let a repeat through.
 *
 * A reload restarts the reporter; so that it does not report again what
 * its predecessor just did, the table is saved in the spool directory at
 * exit ("seen": one "hash expiry" line per entry, expiry in seconds of
 * the wall clock, which survives a reboot where the monotonic one does
 * not) and loaded at start.  The file is checked like any input.
 */

#include "phishmilter.h"
#include "reporter.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEEN_SLOTS	65536		/* a power of 2 */
#define SEEN_FILE	"seen"
#define SEEN_LINE	40		/* a line: 16 + 1 + 20 + 1, and its NUL */

void
seen_init(struct seen_table *t, int ttl)
{
	t->st_slot = xcalloc(SEEN_SLOTS, sizeof(*t->st_slot));
	t->st_ttl = ttl;
}

void
seen_free(struct seen_table *t)
{
	free(t->st_slot);
	t->st_slot = NULL;
}

static uint64_t
seen_hash(int kind, const char *s, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	h = (h ^ (uint64_t)kind) * 1099511628211ULL;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* Seen within the ttl?  If not, it is from now on. */
int
seen_check(struct seen_table *t, int kind, const char *s, size_t len)
{
	uint64_t	 h = seen_hash(kind, s, len);
	struct seen	*sn = &t->st_slot[h & (SEEN_SLOTS - 1)];
	long long	 now = now_ms();

	if (t->st_ttl == 0)
		return 0;
	if (sn->sn_hash == h && sn->sn_until > now)
		return 1;
	sn->sn_hash = h;
	sn->sn_until = now + t->st_ttl * 1000LL;
	return 0;
}

/* The entries still valid, as the file's lines; NULL: no memory. */
static char *
seen_text(const struct seen_table *t, size_t *lenp)
{
	long long	now = now_ms(), wall = (long long)time(NULL);
	char		*buf;
	size_t		 i, len = 0;

	if ((buf = malloc(SEEN_SLOTS * SEEN_LINE)) == NULL)
		return NULL;
	for (i = 0; i < SEEN_SLOTS; i++)
		if (t->st_slot[i].sn_until > now)
			len += (size_t)snprintf(buf + len, SEEN_LINE,
			    "%016" PRIx64 " %lld\n", t->st_slot[i].sn_hash,
			    wall + (t->st_slot[i].sn_until - now + 999) / 1000);
	*lenp = len;
	return buf;
}

/* At exit, as the spool writes its reports. */
void
seen_save(const struct seen_table *t, int dirfd)
{
	char	*buf;
	size_t	 len;

	if (t->st_slot == NULL || t->st_ttl == 0 || dirfd == -1)
		return;
	if ((buf = seen_text(t, &len)) == NULL ||
	    spool_file_write(dirfd, SEEN_FILE, buf, len, NULL, 0) == -1)
		log_warn("cannot save the de-duplication table");
	free(buf);
}

/* One line; 0 if it is not one this code writes, or has expired. */
static int
seen_line(struct seen_table *t, const char *line, long long wall,
    long long now)
{
	char		*end;
	uint64_t	 h;
	long long	 until;

	errno = 0;
	h = strtoull(line, &end, 16);
	if (errno != 0 || end != line + 16 || *end != ' ')
		return 0;
	until = strtoll(end + 1, &end, 10);
	if (errno != 0 || *end != '\n' || until <= wall ||
	    until - wall > t->st_ttl)
		return 0;
	t->st_slot[h & (SEEN_SLOTS - 1)].sn_hash = h;
	t->st_slot[h & (SEEN_SLOTS - 1)].sn_until = now + (until - wall) *
	    1000;
	return 1;
}

/* At start: what an earlier reporter saved, if anything. */
void
seen_load(struct seen_table *t, int dirfd)
{
	FILE		*fp;
	char		 line[64];
	long long	 wall = (long long)time(NULL), now = now_ms();
	size_t		 n = 0, bad = 0;
	int		 fd;

	if (t->st_ttl == 0 || dirfd == -1)
		return;
	if ((fd = openat(dirfd, SEEN_FILE, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK)) == -1) {
		if (errno != ENOENT)
			log_warn("cannot read the de-duplication table");
		return;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return;
	}
	/* Bounded: a file of any length takes bounded time. */
	while (n + bad < SEEN_SLOTS * 2 && fgets(line, sizeof(line), fp)) {
		if (seen_line(t, line, wall, now))
			n++;
		else
			bad++;
	}
	fclose(fp);
	log_info("de-duplication: %zu entries from before%s", n, bad > 0 ?
	    ", some lines expired or not valid" : "");
}
