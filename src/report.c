/*
 * Report records, both ends.  A worker fills a fixed-size record and
 * writes it to the report pipe in one non-blocking write: a full pipe
 * drops the record (counted, logged at most once a minute), so mail
 * never waits on the reporter.  The reporter checks every field of what
 * it reads, as OpenSMTPD checks what crosses its process boundaries.
 */

#include "phishmilter.h"
#include "report.h"

#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define REPORT_DROP_LOG_MS	60000

static int		 report_fd = -1;
static unsigned long	 report_dropped, report_dropped_logged;
static long long	 report_drop_logged_at;
static uint32_t		 report_msgno;

#if REPORT_RECORD_SIZE > PIPE_BUF
#error "a report record must fit in one atomic pipe write"
#endif

/* The worker's end of the pipe; -1: reporting is off. */
void
report_init(int fd)
{
	report_fd = fd;
}

int
report_enabled(void)
{
	return report_fd != -1;
}

/* Logs the drops since the last line; at most once a minute unless asked. */
static void
report_log_drops(int force)
{
	if (report_dropped == report_dropped_logged)
		return;
	if (!force && now_ms() - report_drop_logged_at < REPORT_DROP_LOG_MS)
		return;
	log_warnx("report pipe full: %lu report records dropped (%lu in all)",
	    report_dropped - report_dropped_logged, report_dropped);
	report_dropped_logged = report_dropped;
	report_drop_logged_at = now_ms();
}

void
report_flush_drops(void)
{
	report_log_drops(1);
}

static int
report_write(const struct report_record *rec)
{
	ssize_t	n;

	do
		n = write(report_fd, rec, sizeof(*rec));
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)sizeof(*rec))
		return 0;
	/* EAGAIN: the pipe is full; EPIPE: no reader at all. */
	report_dropped++;
	report_log_drops(0);
	return -1;
}

static void
report_fill(struct report_record *rec, enum report_kind kind,
    const struct report_what *rw)
{
	memset(rec, 0, sizeof(*rec));
	rec->rec_magic = REPORT_MAGIC;
	rec->rec_kind = (uint8_t)kind;
	rec->rec_action = (uint8_t)rw->rw_action;
	rec->rec_pid = (uint32_t)getpid();
	(void)strlcpy(rec->rec_addr, rw->rw_addr, sizeof(rec->rec_addr));
	(void)strlcpy(rec->rec_filter, rw->rw_filter,
	    sizeof(rec->rec_filter));
	if (rw->rw_qid != NULL)
		(void)strlcpy(rec->rec_qid, rw->rw_qid, sizeof(rec->rec_qid));
}

void
report_ip(const struct report_what *rw)
{
	struct report_record	rec;

	if (report_fd == -1)
		return;
	report_fill(&rec, REPORT_IP, rw);
	(void)report_write(&rec);
}

/* What the reporter takes as a URL: http(s), printable ASCII. */
int
report_url_ok(const char *url, size_t len)
{
	size_t	i;

	if (len < 8 || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0))
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 ||
		    (unsigned char)url[i] >= 0x7f)
			return 0;
	return 1;
}

/*
 * One link; 0 if handed over.  A URL too long for one record is not
 * reported (cutting it would report another one), nor one that is not
 * plain http(s) ASCII.
 */
int
report_url(const struct report_what *rw, const char *url, size_t len)
{
	struct report_record	rec;

	if (report_fd == -1 || len >= sizeof(rec.rec_data) ||
	    !report_url_ok(url, len))
		return -1;
	report_fill(&rec, REPORT_URL, rw);
	memcpy(rec.rec_data, url, len);
	rec.rec_len = (uint16_t)len;
	return report_write(&rec);
}

/* The message in chunks; the reporter keeps it only if all arrive. */
void
report_email(const struct report_what *rw, const char *msg, size_t len)
{
	struct report_record	rec;
	size_t			off, n;

	if (report_fd == -1 || len == 0 || len > REPORT_EMAIL_MAX)
		return;
	report_msgno++;
	report_fill(&rec, REPORT_EMAIL, rw);
	rec.rec_msgno = report_msgno;
	rec.rec_total = (uint32_t)len;
	for (off = 0; off < len; off += n) {
		n = len - off < sizeof(rec.rec_data) ? len - off :
		    sizeof(rec.rec_data);
		rec.rec_offset = (uint32_t)off;
		rec.rec_len = (uint16_t)n;
		memcpy(rec.rec_data, msg + off, n);
		if (report_write(&rec) == -1)
			return;		/* the rest would be useless */
	}
}

/*
 * The reporter's side.
 */

/* A NUL-terminated string within size, without control characters. */
int
report_string_ok(const char *s, size_t size, int empty_ok)
{
	size_t	i;

	for (i = 0; i < size && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	if (i == size)
		return 0;		/* not terminated */
	return empty_ok || i > 0;
}

/*
 * An address as text, "IPv6:" prefix and brackets allowed, into its
 * canonical form ("::ffff:a.b.c.d" becomes a.b.c.d); *family gets
 * AF_INET or AF_INET6.  -1: not an address.
 */
int
report_addr_normalize(const char *in, char *out, size_t size, int *family)
{
	uint8_t	a[16];

	if (addr_parse(in, a, family) == -1)
		return -1;
	return inet_ntop(*family, a, out, size) == NULL ? -1 : 0;
}

static const char *
report_check_data(const struct report_record *rec)
{
	switch (rec->rec_kind) {
	case REPORT_IP:
		return rec->rec_len == 0 ? NULL : "data in an IP record";
	case REPORT_URL:
		return report_url_ok(rec->rec_data, rec->rec_len) ? NULL :
		    "not a plain http(s) URL";
	case REPORT_EMAIL:
		if (rec->rec_total == 0 || rec->rec_total > REPORT_EMAIL_MAX ||
		    rec->rec_len == 0 || rec->rec_offset > rec->rec_total ||
		    rec->rec_total - rec->rec_offset < rec->rec_len)
			return "email chunk out of bounds";
		return NULL;
	default:
		return "unknown kind";
	}
}

/*
 * Copies and checks one record read from the pipe; -1 with *why set
 * when it is not one a worker could have written.
 */
int
report_parse(const void *buf, size_t len, struct report_record *rec,
    const char **why)
{
	char	addr[INET6_ADDRSTRLEN];
	int	family;

	*why = NULL;
	if (len != sizeof(*rec)) {
		*why = "short record";
		return -1;
	}
	memcpy(rec, buf, sizeof(*rec));
	if (rec->rec_magic != REPORT_MAGIC)
		*why = "bad magic";
	else if (rec->rec_action >= ACTION_MAX)
		*why = "bad action";
	else if (rec->rec_len > sizeof(rec->rec_data))
		*why = "bad length";
	else if (!report_string_ok(rec->rec_addr, sizeof(rec->rec_addr), 0) ||
	    report_addr_normalize(rec->rec_addr, addr, sizeof(addr),
	    &family) == -1)
		*why = "bad client address";
	else if (!report_string_ok(rec->rec_filter, sizeof(rec->rec_filter),
	    0))
		*why = "bad filter name";
	else if (!report_string_ok(rec->rec_qid, sizeof(rec->rec_qid), 1))
		*why = "bad queue id";
	else
		*why = report_check_data(rec);
	if (*why != NULL)
		return -1;
	(void)strlcpy(rec->rec_addr, addr, sizeof(rec->rec_addr));
	return 0;
}
