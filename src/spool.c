/*
 * The spool: every report the service has not yet taken, one file each,
 * named by arrival time so that a directory listing is the queue order.
 * A file is written under a temporary name, synced and renamed, so a
 * crash leaves either the whole report or none.  The bound (bytes) is
 * kept by dropping the oldest reports, each with a log line.  When the
 * disk refuses a write the report is kept in memory only, within the
 * same bound, and the error is logged at most once a minute; such
 * reports are written as soon as the disk takes a report again.
 */

#include "phishmilter.h"
#include "reporter.h"

#include <sys/stat.h>

#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_HEADER_MAX	512
#define SPOOL_ERRLOG_MS		60000
#define SPOOL_RETRY_MS		5000	/* writing what is in memory only */

static const char *const spool_kinds[] = { "", "ip", "url", "email" };

static int
spool_kind_parse(const char *s)
{
	int	i;

	for (i = REPORT_IP; i <= REPORT_EMAIL; i++)
		if (strcmp(s, spool_kinds[i]) == 0)
			return i;
	return -1;
}

static void
spool_entry_free(struct spool_entry *se)
{
	free(se->se_object);
	se->se_object = NULL;
}

/* The file's text: "key value" lines, an empty line, the object. */
static int
spool_header(const struct spool_entry *se, char *buf, size_t size)
{
	int	n;

	n = snprintf(buf, size, "kind %s\naction %s\nclient %s\nfilter %s\n"
	    "qid %s\ntime %lld\n\n", spool_kinds[se->se_kind],
	    action_name((enum action)se->se_action), se->se_addr,
	    se->se_filter, se->se_qid[0] ? se->se_qid : "-", se->se_time);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

static void
spool_disk_error(struct spool *sp, const char *what)
{
	if (now_ms() - sp->sp_errlog < SPOOL_ERRLOG_MS && sp->sp_errlog != 0)
		return;
	sp->sp_errlog = now_ms();
	log_warn("spool %s: %s; reports are kept in memory until it works",
	    sp->sp_dir, what);
}

static int
spool_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes name in the directory dirfd atomically: under "tmp.<name>",
 * synced, renamed, then the directory synced, so that a crash leaves
 * the whole file or none (spool_open() removes what a crash left under
 * tmp.).  The content is a, then b.  -1 with errno set.
 */
int
spool_file_write(int dirfd, const char *name, const void *a, size_t alen,
    const void *b, size_t blen)
{
	char	tmp[64];
	int	fd, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "tmp.%s", name) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	if (spool_write_all(fd, a, alen) == -1 ||
	    spool_write_all(fd, b, blen) == -1 ||
	    fsync(fd) == -1 || close(fd) == -1) {
		saved = errno;
		(void)close(fd);
		(void)unlinkat(dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		saved = errno;
		(void)unlinkat(dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	(void)fsync(dirfd);
	return 0;
}

/* Writes se to disk atomically; -1 (errno set) when the disk refused. */
static int
spool_write(struct spool *sp, const struct spool_entry *se)
{
	char	head[SPOOL_HEADER_MAX];
	int	n;

	if ((n = spool_header(se, head, sizeof(head))) == -1) {
		errno = EINVAL;
		return -1;
	}
	return spool_file_write(sp->sp_dirfd, se->se_name, head, (size_t)n,
	    se->se_object, se->se_len);
}

static void
spool_push(struct spool *sp, struct spool_entry *se)
{
	if (sp->sp_head > 0 && sp->sp_head >= sp->sp_n / 2) {
		memmove(sp->sp_q, sp->sp_q + sp->sp_head,
		    (sp->sp_n - sp->sp_head) * sizeof(*sp->sp_q));
		sp->sp_n -= sp->sp_head;
		sp->sp_head = 0;
	}
	if (sp->sp_n == sp->sp_cap) {
		sp->sp_cap = sp->sp_cap ? sp->sp_cap * 2 : 64;
		sp->sp_q = xreallocarray(sp->sp_q, sp->sp_cap,
		    sizeof(*sp->sp_q));
	}
	sp->sp_q[sp->sp_n++] = *se;
	sp->sp_size += se->se_size;
}

static void
spool_drop_oldest(struct spool *sp)
{
	struct spool_entry	*se = spool_head(sp);

	/* An email's object is the message: name its client instead. */
	log_warnx("spool %s full (%zu bytes): dropped the oldest report, %s "
	    "%s (filter %s)", sp->sp_dir, sp->sp_max,
	    spool_kinds[se->se_kind], se->se_kind == REPORT_EMAIL ?
	    se->se_addr : se->se_object, se->se_filter);
	sp->sp_dropped++;
	spool_remove_head(sp);
}

/*
 * Writes the reports kept in memory only, oldest first, until the disk
 * refuses one; their names keep them in arrival order on disk.
 */
static void
spool_write_memory(struct spool *sp)
{
	struct spool_entry	*se;
	size_t			 i, before = sp->sp_nmem;

	sp->sp_retry_at = now_ms() + SPOOL_RETRY_MS;
	for (i = sp->sp_head; i < sp->sp_n && sp->sp_nmem > 0; i++) {
		se = &sp->sp_q[i];
		if (se->se_ondisk)
			continue;
		if (spool_write(sp, se) == -1) {
			spool_disk_error(sp, "cannot write a report");
			break;
		}
		se->se_ondisk = 1;
		sp->sp_nmem--;
	}
	if (sp->sp_nmem < before)
		log_info("spool %s: %zu reports kept in memory are written%s",
		    sp->sp_dir, before - sp->sp_nmem, sp->sp_nmem > 0 ?
		    ", some are not yet" : "");
}

/* Now and then: the disk may take the reports kept in memory again. */
void
spool_tick(struct spool *sp)
{
	if (sp->sp_nmem > 0 && now_ms() >= sp->sp_retry_at)
		spool_write_memory(sp);
}

/*
 * Takes se (and its object) into the spool, dropping the oldest reports
 * if the bound needs it; -1 when se alone is over the bound (dropped).
 */
int
spool_add(struct spool *sp, struct spool_entry *se)
{
	char	head[SPOOL_HEADER_MAX];
	int	n;

	se->se_time = (long long)time(NULL);
	snprintf(se->se_name, sizeof(se->se_name), "%016llx.%08x",
	    (unsigned long long)now_us(), sp->sp_seq++);
	if ((n = spool_header(se, head, sizeof(head))) == -1 ||
	    (se->se_size = (size_t)n + se->se_len) > sp->sp_max) {
		log_warnx("spool %s: a %zu-byte report is over the bound "
		    "(%zu bytes): dropped", sp->sp_dir, se->se_len, sp->sp_max);
		sp->sp_dropped++;
		spool_entry_free(se);
		return -1;
	}
	while (sp->sp_size + se->se_size > sp->sp_max)
		spool_drop_oldest(sp);
	/* Older reports first, so that the disk keeps the queue's order. */
	if (sp->sp_nmem > 0)
		spool_write_memory(sp);
	se->se_ondisk = sp->sp_nmem == 0 && spool_write(sp, se) == 0;
	if (!se->se_ondisk) {
		spool_disk_error(sp, "cannot write a report");
		sp->sp_nmem++;
		sp->sp_retry_at = now_ms() + SPOOL_RETRY_MS;
	}
	spool_push(sp, se);
	sp->sp_written++;
	return 0;
}

struct spool_entry *
spool_head(struct spool *sp)
{
	return sp->sp_head < sp->sp_n ? &sp->sp_q[sp->sp_head] : NULL;
}

size_t
spool_count(const struct spool *sp)
{
	return sp->sp_n - sp->sp_head;
}

void
spool_remove_head(struct spool *sp)
{
	struct spool_entry	*se = spool_head(sp);

	if (se == NULL)
		return;
	if (!se->se_ondisk)
		sp->sp_nmem--;
	else if (unlinkat(sp->sp_dirfd, se->se_name, 0) == -1 &&
	    errno != ENOENT)
		spool_disk_error(sp, "cannot remove a sent report");
	sp->sp_size -= se->se_size;
	spool_entry_free(se);
	sp->sp_head++;
}

/*
 * Loading what an earlier reporter left.
 */

static int
spool_header_line(struct spool_entry *se, char *line)
{
	char		*val;
	const char	*errstr;
	enum action	 act;

	if ((val = strchr(line, ' ')) == NULL)
		return -1;
	*val++ = '\0';
	if (strcmp(line, "kind") == 0)
		return (se->se_kind = spool_kind_parse(val)) == -1 ? -1 : 0;
	if (strcmp(line, "action") == 0) {
		if (action_parse(val, &act) == -1)
			return -1;
		se->se_action = (int)act;
		return 0;
	}
	if (strcmp(line, "client") == 0)
		return strlcpy(se->se_addr, val, sizeof(se->se_addr)) >=
		    sizeof(se->se_addr) ? -1 : 0;
	if (strcmp(line, "filter") == 0)
		return strlcpy(se->se_filter, val, sizeof(se->se_filter)) >=
		    sizeof(se->se_filter) ? -1 : 0;
	if (strcmp(line, "qid") == 0)
		return strlcpy(se->se_qid, strcmp(val, "-") ? val : "",
		    sizeof(se->se_qid)) >= sizeof(se->se_qid) ? -1 : 0;
	if (strcmp(line, "time") == 0) {
		se->se_time = strtonum(val, 0, LLONG_MAX, &errstr);
		return errstr == NULL ? 0 : -1;
	}
	return 0;	/* a later version's field */
}

/*
 * A file from disk is checked as a record from the pipe is: a report
 * the reporter would not have written is not sent.
 */
static int
spool_check(struct spool_entry *se)
{
	char	addr[INET6_ADDRSTRLEN];
	int	family;

	if (!report_string_ok(se->se_filter, sizeof(se->se_filter), 0))
		return -1;
	if (report_addr_normalize(se->se_addr, addr, sizeof(addr),
	    &family) == -1)
		return -1;
	switch (se->se_kind) {
	case REPORT_IP:
		return strlen(se->se_object) == se->se_len &&
		    report_addr_normalize(se->se_object, addr, sizeof(addr),
		    &family) == 0 && strcmp(addr, se->se_object) == 0 ? 0 : -1;
	case REPORT_URL:
		return report_url_ok(se->se_object, se->se_len) ? 0 : -1;
	default:
		return se->se_len > 0 && se->se_len <= REPORT_EMAIL_MAX ? 0 : -1;
	}
}

static int
spool_parse(struct spool_entry *se, char *buf, size_t len)
{
	char	*end, *line, *next;

	if ((end = memmem(buf, len, "\n\n", 2)) == NULL)
		return -1;
	*end = '\0';
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (spool_header_line(se, line) == -1)
			return -1;
	}
	if (se->se_kind <= 0 || se->se_filter[0] == '\0')
		return -1;
	se->se_len = len - (size_t)(end + 2 - buf);
	se->se_object = xmalloc(se->se_len + 1);
	memcpy(se->se_object, end + 2, se->se_len);
	se->se_object[se->se_len] = '\0';
	se->se_size = len;
	return spool_check(se);
}

static char *
spool_read_file(struct spool *sp, const char *name, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	int		 fd;

	fd = openat(sp->sp_dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > sp->sp_max + SPOOL_HEADER_MAX) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*lenp = (size_t)n;
	return buf;
}

static void
spool_load_one(struct spool *sp, const char *name)
{
	struct spool_entry	 se;
	char			*buf, bad[64];
	size_t			 len;

	memset(&se, 0, sizeof(se));
	if ((buf = spool_read_file(sp, name, &len)) == NULL ||
	    strlcpy(se.se_name, name, sizeof(se.se_name)) >=
	    sizeof(se.se_name) || spool_parse(&se, buf, len) == -1) {
		/* Kept aside for a human, never silently lost. */
		snprintf(bad, sizeof(bad), "bad.%s", name);
		log_warnx("spool %s: %s is not a report; renamed %s",
		    sp->sp_dir, name, bad);
		(void)renameat(sp->sp_dirfd, name, sp->sp_dirfd, bad);
		spool_entry_free(&se);
		free(buf);
		return;
	}
	free(buf);
	se.se_ondisk = 1;
	spool_push(sp, &se);
}

static int
spool_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
spool_is_report(const char *name)
{
	size_t	i, len = strlen(name);

	if (len != 25 || name[16] != '.')
		return 0;
	for (i = 0; i < len; i++)
		if (i != 16 && !ascii_isdigit(name[i]) &&
		    (name[i] < 'a' || name[i] > 'f'))
			return 0;
	return 1;
}

/* Lists the reports in name (= arrival) order; removes stale temp files. */
static char **
spool_list(struct spool *sp, size_t *np)
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL;
	size_t		 n = 0, cap = 0;
	int		 fd;

	if ((fd = dup(sp->sp_dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "tmp.", 4) == 0) {
			(void)unlinkat(sp->sp_dirfd, de->d_name, 0);
			continue;
		}
		if (!spool_is_report(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), spool_name_cmp);
	*np = n;
	return names;
}

int
spool_open(struct spool *sp, const char *dir, size_t max)
{
	char	**names;
	size_t	  i, n = 0;

	memset(sp, 0, sizeof(*sp));
	sp->sp_dir = xstrdup(dir);
	sp->sp_max = max;
	sp->sp_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->sp_dirfd == -1) {
		log_warn("spool %s", dir);
		return -1;
	}
	names = spool_list(sp, &n);
	for (i = 0; i < n; i++) {
		spool_load_one(sp, names[i]);
		free(names[i]);
	}
	free(names);
	while (sp->sp_size > sp->sp_max)
		spool_drop_oldest(sp);
	if (spool_count(sp) > 0)
		log_info("spool %s: %zu reports from before, %zu bytes",
		    dir, spool_count(sp), sp->sp_size);
	return 0;
}

/*
 * What is on disk stays for the next reporter; what is in memory only
 * is written if the disk takes it now, and otherwise lost, with a line.
 */
void
spool_close(struct spool *sp)
{
	size_t	i;

	if (sp->sp_nmem > 0)
		spool_write_memory(sp);
	if (sp->sp_nmem > 0)
		log_warnx("spool %s: %zu reports kept in memory are lost: the "
		    "disk refused them", sp->sp_dir, sp->sp_nmem);
	for (i = sp->sp_head; i < sp->sp_n; i++)
		spool_entry_free(&sp->sp_q[i]);
	free(sp->sp_q);
	free(sp->sp_dir);
	if (sp->sp_dirfd != -1)
		close(sp->sp_dirfd);
	memset(sp, 0, sizeof(*sp));
	sp->sp_dirfd = -1;
}
