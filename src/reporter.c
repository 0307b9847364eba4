/*
 * The reporter: one unprivileged child that owns all traffic to the
 * Spamhaus submission API.  It reads fixed-size records from the report
 * pipe (untrusted: every field is checked), drops what must not be
 * reported (safe_address, private addresses, repeats within the ttl),
 * keeps the rest in the spool until the service has taken it, and sends
 * one request at a time within the rate limit, backing off on errors.
 * Mail never waits on any of this: workers write without blocking.
 *
 * SIGTERM: the request in flight is finished, the pipe is read into the
 * spool, and the rest stays there for the next reporter.  SIGUSR1: the
 * counters are logged.
 */

#include "phishmilter.h"
#include "reporter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#define ASSEMBLY_MAX		8	/* messages being received at once */
#define ASSEMBLY_TTL_MS		60000
#define INVALID_LOG_MS		60000
#define POLL_MS			1000

/* Never reported unless report_private is set. */
static const char *const reporter_private_nets[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4",
	"240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10",
	"ff00::/8",
};
#define NPRIVATE	(sizeof(reporter_private_nets) / \
			    sizeof(reporter_private_nets[0]))

/* One message arriving in chunks from one worker. */
struct assembly {
	uint32_t		 as_pid;
	uint32_t		 as_msgno;
	uint32_t		 as_total;
	uint32_t		 as_got;
	long long		 as_started;
	struct report_record	 as_meta;	/* the first chunk's fields */
	char			*as_buf;
};

struct counters {
	unsigned long	 n_sent;
	unsigned long	 n_already;
	unsigned long	 n_failed;
	unsigned long	 n_retries;
	unsigned long	 n_safe;
	unsigned long	 n_private;
	unsigned long	 n_duplicate;
	unsigned long	 n_invalid;
	unsigned long	 n_incomplete;
};

struct reporter {
	const struct spamhaus_config	*r_sh;
	int				 r_fd;
	unsigned char			 r_buf[REPORT_RECORD_SIZE * 8];
	size_t				 r_buflen;
	struct spool			 r_spool;
	struct submit			 r_submit;
	struct cidr			 r_private[NPRIVATE];
	struct seen_table		 r_seen;
	struct assembly			 r_asm[ASSEMBLY_MAX];
	double				 r_tokens;	/* rate limit bucket */
	long long			 r_tokens_at;
	long long			 r_not_before;	/* backoff, pause */
	long long			 r_backoff;	/* ms, 0: none */
	long long			 r_invalid_logged;
	struct counters			 r_n;
};

static volatile sig_atomic_t	reporter_term, reporter_usr1;
static int			reporter_self[2] = { -1, -1 };

static void
reporter_signal(int sig)
{
	int	saved = errno;

	if (sig == SIGUSR1)
		reporter_usr1 = 1;
	else
		reporter_term = 1;
	(void)write(reporter_self[1], "", 1);
	errno = saved;
}

static void
reporter_signals(void)
{
	struct sigaction	sa;
	sigset_t		set;

	if (pipe2(reporter_self, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = reporter_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);	/* the parent restarts us instead */
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

static void
reporter_counters(const struct reporter *r)
{
	const struct counters	*n = &r->r_n;

	log_info("counters: sent=%lu already_reported=%lu failed=%lu "
	    "dropped=%lu spooled=%zu retries=%lu skipped_safe=%lu "
	    "skipped_private=%lu duplicates=%lu invalid=%lu", n->n_sent,
	    n->n_already, n->n_failed, r->r_spool.sp_dropped +
	    n->n_incomplete, spool_count(&r->r_spool), n->n_retries,
	    n->n_safe, n->n_private, n->n_duplicate, n->n_invalid);
}

/*
 * Intake: from pipe records to spool entries.
 */

static void
reporter_invalid(struct reporter *r, const char *why)
{
	r->r_n.n_invalid++;
	if (now_ms() - r->r_invalid_logged < INVALID_LOG_MS &&
	    r->r_invalid_logged != 0)
		return;
	r->r_invalid_logged = now_ms();
	log_warnx("invalid report record: %s (%lu so far)", why,
	    r->r_n.n_invalid);
}

static void
reporter_spool(struct reporter *r, const struct report_record *rec,
    char *object, size_t len)
{
	struct spool_entry	se;

	memset(&se, 0, sizeof(se));
	se.se_kind = rec->rec_kind;
	se.se_action = rec->rec_action;
	(void)strlcpy(se.se_addr, rec->rec_addr, sizeof(se.se_addr));
	(void)strlcpy(se.se_filter, rec->rec_filter, sizeof(se.se_filter));
	(void)strlcpy(se.se_qid, rec->rec_qid, sizeof(se.se_qid));
	se.se_object = object;
	se.se_len = len;
	if (spool_add(&r->r_spool, &se) == 0)
		log_debug("queued %s report %s (filter %s)",
		    submit_kind_name(rec->rec_kind), rec->rec_kind ==
		    REPORT_EMAIL ? rec->rec_addr : object, rec->rec_filter);
}

/* Is the client one whose mail is never reported?  (Any kind.) */
static int
reporter_safe(struct reporter *r, const struct report_record *rec)
{
	if (!cidr_match_string(r->r_sh->sh_safe, r->r_sh->sh_nsafe,
	    rec->rec_addr))
		return 0;
	r->r_n.n_safe++;
	log_debug("not reporting %s: safe_address", rec->rec_addr);
	return 1;
}

static void
reporter_take_ip(struct reporter *r, const struct report_record *rec)
{
	const char	*a = rec->rec_addr;

	if (!r->r_sh->sh_report_private &&
	    cidr_match_string(r->r_private, NPRIVATE, a)) {
		r->r_n.n_private++;
		log_debug("not reporting %s: private address", a);
		return;
	}
	if (seen_check(&r->r_seen, REPORT_IP, a, strlen(a))) {
		r->r_n.n_duplicate++;
		return;
	}
	reporter_spool(r, rec, xstrdup(a), strlen(a));
}

static void
reporter_take_url(struct reporter *r, const struct report_record *rec)
{
	char	*url;

	if (seen_check(&r->r_seen, REPORT_URL, rec->rec_data,
	    rec->rec_len)) {
		r->r_n.n_duplicate++;
		return;
	}
	url = xmalloc((size_t)rec->rec_len + 1);
	memcpy(url, rec->rec_data, rec->rec_len);
	url[rec->rec_len] = '\0';
	reporter_spool(r, rec, url, rec->rec_len);
}

static void
reporter_asm_free(struct assembly *as)
{
	free(as->as_buf);
	memset(as, 0, sizeof(*as));
}

static struct assembly *
reporter_asm_find(struct reporter *r, const struct report_record *rec)
{
	struct assembly	*as, *oldest = &r->r_asm[0];
	size_t		 i;

	for (i = 0; i < ASSEMBLY_MAX; i++) {
		as = &r->r_asm[i];
		if (as->as_buf != NULL && as->as_pid == rec->rec_pid &&
		    as->as_msgno == rec->rec_msgno)
			return as;
	}
	if (rec->rec_offset != 0)
		return NULL;	/* its start was lost */
	for (i = 0; i < ASSEMBLY_MAX; i++) {
		as = &r->r_asm[i];
		if (as->as_buf == NULL)
			break;
		if (as->as_started < oldest->as_started)
			oldest = as;
	}
	if (i == ASSEMBLY_MAX) {
		r->r_n.n_incomplete++;
		reporter_asm_free(as = oldest);
	}
	as->as_pid = rec->rec_pid;
	as->as_msgno = rec->rec_msgno;
	as->as_total = rec->rec_total;
	as->as_started = now_ms();
	as->as_meta = *rec;
	as->as_buf = xmalloc(rec->rec_total);
	return as;
}

/* Chunks of one message come in order: one writer, one pipe. */
static void
reporter_take_chunk(struct reporter *r, const struct report_record *rec)
{
	struct assembly	*as;
	char		*msg;
	size_t		 len;

	if ((as = reporter_asm_find(r, rec)) == NULL) {
		r->r_n.n_incomplete++;
		return;
	}
	if (rec->rec_offset != as->as_got || rec->rec_total != as->as_total) {
		r->r_n.n_incomplete++;
		reporter_asm_free(as);
		return;
	}
	memcpy(as->as_buf + as->as_got, rec->rec_data, rec->rec_len);
	as->as_got += rec->rec_len;
	if (as->as_got < as->as_total)
		return;
	msg = as->as_buf;
	len = as->as_total;
	as->as_buf = NULL;
	if (seen_check(&r->r_seen, REPORT_EMAIL, msg, len)) {
		r->r_n.n_duplicate++;
		free(msg);
	} else
		reporter_spool(r, &as->as_meta, msg, len);
	reporter_asm_free(as);
}

static void
reporter_expire_assemblies(struct reporter *r)
{
	size_t	i;

	for (i = 0; i < ASSEMBLY_MAX; i++)
		if (r->r_asm[i].as_buf != NULL &&
		    now_ms() - r->r_asm[i].as_started > ASSEMBLY_TTL_MS) {
			r->r_n.n_incomplete++;
			reporter_asm_free(&r->r_asm[i]);
		}
}

static void
reporter_record(struct reporter *r, const unsigned char *buf)
{
	struct report_record	 rec;
	const char		*why;

	if (report_parse(buf, sizeof(rec), &rec, &why) == -1) {
		reporter_invalid(r, why);
		return;
	}
	if (reporter_safe(r, &rec))
		return;
	switch (rec.rec_kind) {
	case REPORT_IP:
		reporter_take_ip(r, &rec);
		break;
	case REPORT_URL:
		reporter_take_url(r, &rec);
		break;
	case REPORT_EMAIL:
		reporter_take_chunk(r, &rec);
		break;
	}
}

/* Where the next record starts after garbage: its magic, or nowhere. */
static size_t
reporter_resync(const unsigned char *buf, size_t len)
{
	uint32_t	magic = REPORT_MAGIC;
	size_t		i;

	for (i = 1; i + sizeof(magic) <= len; i++)
		if (memcmp(buf + i, &magic, sizeof(magic)) == 0)
			return i;
	return len >= sizeof(magic) ? len - sizeof(magic) + 1 : 0;
}

static void
reporter_consume(struct reporter *r)
{
	uint32_t	magic = REPORT_MAGIC;
	size_t		off = 0, skip;

	while (r->r_buflen - off >= REPORT_RECORD_SIZE) {
		if (memcmp(r->r_buf + off, &magic, sizeof(magic)) != 0) {
			skip = reporter_resync(r->r_buf + off,
			    r->r_buflen - off);
			reporter_invalid(r, "lost record boundary");
			off += skip;
			continue;
		}
		reporter_record(r, r->r_buf + off);
		off += REPORT_RECORD_SIZE;
	}
	memmove(r->r_buf, r->r_buf + off, r->r_buflen - off);
	r->r_buflen -= off;
}

/*
 * Reads what the workers wrote.  The end of the pipe means that every
 * writer is gone, the parent too (it holds a write end for the workers
 * it forks): the reporter stops as if asked to.
 */
static void
reporter_read(struct reporter *r)
{
	ssize_t	n;

	while (r->r_fd != -1) {
		n = read(r->r_fd, r->r_buf + r->r_buflen,
		    sizeof(r->r_buf) - r->r_buflen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0) {
			log_info("the report pipe has no writer left: the "
			    "parent process is gone; stopping");
			close(r->r_fd);
			r->r_fd = -1;
			reporter_term = 1;
		}
		if (n <= 0)
			return;
		r->r_buflen += (size_t)n;
		reporter_consume(r);
	}
}

/*
 * Sending.
 */

/* A token bucket of rate per minute, as deep as one minute's worth. */
static int
reporter_rate_ok(struct reporter *r)
{
	long long	now = now_ms();
	double		per_ms = r->r_sh->sh_rate / 60000.0;

	r->r_tokens += (double)(now - r->r_tokens_at) * per_ms;
	r->r_tokens_at = now;
	if (r->r_tokens > r->r_sh->sh_rate)
		r->r_tokens = r->r_sh->sh_rate;
	if (r->r_tokens < 1.0) {
		r->r_not_before = now + (long long)((1.0 - r->r_tokens) /
		    per_ms) + 1;
		return 0;
	}
	r->r_tokens -= 1.0;
	return 1;
}

/* Exponential backoff with jitter: half fixed, half random. */
static long long
reporter_backoff(struct reporter *r)
{
	long long	max = r->r_sh->sh_retry_max * 1000LL, half;

	r->r_backoff = r->r_backoff == 0 ? r->r_sh->sh_retry_min * 1000LL :
	    r->r_backoff * 2;
	if (r->r_backoff > max)
		r->r_backoff = max;
	half = r->r_backoff / 2;
	r->r_not_before = now_ms() + half + random() % (half + 1);
	return (r->r_not_before - now_ms() + 999) / 1000;
}

/*
 * The backoff, or longer where the answer's Retry-After asks it, up to
 * retry_max: the service knows best when it will take reports again.
 */
static long long
reporter_retry(struct reporter *r, const struct submit_result *sr)
{
	long long	secs = reporter_backoff(r), ra = sr->sr_retry_after;

	if (ra > r->r_sh->sh_retry_max)
		ra = r->r_sh->sh_retry_max;
	if (ra > secs) {
		r->r_not_before = now_ms() + ra * 1000;
		secs = ra;
	}
	return secs;
}

static void
reporter_send_next(struct reporter *r)
{
	struct spool_entry	*se;
	char			*body;

	if (r->r_submit.su_busy || now_ms() < r->r_not_before ||
	    (se = spool_head(&r->r_spool)) == NULL || !reporter_rate_ok(r))
		return;
	body = submit_body(r->r_sh, se);
	if (submit_start(&r->r_submit, submit_endpoint(r->r_sh,
	    se->se_kind), body) == -1) {
		log_warnx("cannot start a request; retry in %lld s",
		    reporter_backoff(r));
		r->r_n.n_retries++;
	}
}

static void
reporter_done_ok(struct reporter *r, const struct spool_entry *se,
    long status)
{
	if (status == 208)
		r->r_n.n_already++;
	else
		r->r_n.n_sent++;
	log_info("reported %s %s (filter %s, queue id %s): HTTP %ld%s",
	    submit_kind_name(se->se_kind), se->se_kind == REPORT_EMAIL ?
	    "from" : se->se_object, se->se_filter, se->se_qid[0] ?
	    se->se_qid : "-", status, status == 208 ?
	    " (already reported)" : "");
	r->r_backoff = 0;
}

static void
reporter_done(struct reporter *r, const struct submit_result *sr)
{
	struct spool_entry	*se = spool_head(&r->r_spool);
	char			 resp[600];
	const char		*what = submit_kind_name(se->se_kind);
	const char		*obj = se->se_kind == REPORT_EMAIL ?
				    se->se_addr : se->se_object;
	long			 st = sr->sr_status;

	log_escape(resp, sizeof(resp), r->r_submit.su_resp,
	    r->r_submit.su_resplen);
	if (sr->sr_transport != 0) {
		r->r_n.n_retries++;
		log_warnx("report %s %s: %s; retry in %lld s", what, obj,
		    sr->sr_error, reporter_backoff(r));
	} else if (st >= 200 && st < 300) {
		reporter_done_ok(r, se, st);
		spool_remove_head(&r->r_spool);
	} else if (st == 400 || st == 413 || st == 422) {
		r->r_n.n_failed++;
		log_warnx("report %s %s refused, dropped: HTTP %ld: %s", what,
		    obj, st, resp);
		spool_remove_head(&r->r_spool);
		r->r_backoff = 0;
	} else if (st == 429 || st == 408 || st >= 500 || st < 200) {
		r->r_n.n_retries++;
		log_warnx("report %s %s: HTTP %ld; retry in %lld s", what, obj,
		    st, reporter_retry(r, sr));
	} else {
		/* 401, 403, 404...: nothing will work until a human acts. */
		r->r_n.n_retries++;
		log_warnx("configuration error: HTTP %ld from %s (%s): check "
		    "token_file and url; reporting paused for %lld s", st,
		    submit_endpoint(r->r_sh, se->se_kind), resp,
		    reporter_backoff(r));
	}
}

static int
reporter_timeout(const struct reporter *r)
{
	long long	wait;

	if (r->r_submit.su_busy || spool_count(&r->r_spool) == 0)
		return POLL_MS;
	wait = r->r_not_before - now_ms();
	if (wait < 0)
		return 0;
	return wait < POLL_MS ? (int)wait : POLL_MS;
}

static void
reporter_loop(struct reporter *r)
{
	struct submit_result	sr;
	int			fds[2];
	char			buf[64];

	for (;;) {
		reporter_read(r);
		reporter_expire_assemblies(r);
		spool_tick(&r->r_spool);
		if (reporter_term && !r->r_submit.su_busy)
			break;
		if (!reporter_term)
			reporter_send_next(r);
		if (submit_step(&r->r_submit, &sr)) {
			reporter_done(r, &sr);
			continue;
		}
		fds[0] = reporter_self[0];
		fds[1] = r->r_fd;
		if (submit_wait(&r->r_submit, fds, r->r_fd != -1 ? 2 : 1,
		    reporter_timeout(r)) == -1)
			(void)poll(NULL, 0, 100);
		while (read(reporter_self[0], buf, sizeof(buf)) > 0)
			;
		if (reporter_usr1) {
			reporter_usr1 = 0;
			reporter_counters(r);
		}
	}
}

static void
reporter_setup(struct reporter *r, const struct config *cf, int fd)
{
	size_t	i;

	memset(r, 0, sizeof(*r));
	r->r_sh = &cf->cf_spamhaus;
	r->r_fd = fd;
	for (i = 0; i < NPRIVATE; i++)
		if (cidr_parse(reporter_private_nets[i], &r->r_private[i]) != 0)
			fatalx("bad built-in network %s",
			    reporter_private_nets[i]);
	seen_init(&r->r_seen, r->r_sh->sh_ttl);
	r->r_tokens = r->r_sh->sh_rate;
	r->r_tokens_at = now_ms();
	srandom((unsigned int)(getpid() ^ time(NULL)));
	if (fd != -1 && set_nonblock(fd) == -1)
		fatal("report pipe");
}

static void
reporter_teardown(struct reporter *r)
{
	size_t	i;

	for (i = 0; i < ASSEMBLY_MAX; i++)
		reporter_asm_free(&r->r_asm[i]);
	spool_close(&r->r_spool);
	seen_free(&r->r_seen);
}

/*
 * The intake alone, for the tests and the fuzzer: bytes as they would
 * come from the pipe, through the checks, into the spool of cf.
 */
struct reporter *
reporter_intake_new(const struct config *cf)
{
	struct reporter	*r = xcalloc(1, sizeof(*r));

	reporter_setup(r, cf, -1);
	if (spool_open(&r->r_spool, cf->cf_spamhaus.sh_spool,
	    cf->cf_spamhaus.sh_spool_size) == -1) {
		reporter_teardown(r);
		free(r);
		return NULL;
	}
	return r;
}

void
reporter_intake(struct reporter *r, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	size_t			 n;

	while (len > 0) {
		n = sizeof(r->r_buf) - r->r_buflen;
		if (n > len)
			n = len;
		memcpy(r->r_buf + r->r_buflen, p, n);
		r->r_buflen += n;
		reporter_consume(r);
		p += n;
		len -= n;
	}
}

struct spool *
reporter_intake_spool(struct reporter *r)
{
	return &r->r_spool;
}

void
reporter_intake_free(struct reporter *r)
{
	reporter_teardown(r);
	free(r);
}

/*
 * The reporter process, from the parent's fork: token is its only copy
 * of the API token, wiped once libcurl holds it.  Never returns.
 */
void
reporter_main(const struct config *cf, char *token, size_t tokensize,
    int fd)
{
	static struct reporter	r;

	log_set_procname("reporter");
#if defined(HAVE_PRCTL) && defined(PR_SET_NAME)
	(void)prctl(PR_SET_NAME, "phishmilter-rp");
#endif
	reporter_signals();
	reporter_setup(&r, cf, fd);
	/* No chroot: TLS needs the CA files and DNS the resolver's. */
	privsep_drop(cf, "reporter", 0);
	if (spool_open(&r.r_spool, cf->cf_spamhaus.sh_spool,
	    cf->cf_spamhaus.sh_spool_size) == -1)
		fatalx("cannot use the spool");
	seen_load(&r.r_seen, r.r_spool.sp_dirfd);
	if (submit_init(&r.r_submit, &cf->cf_spamhaus, token) == -1)
		fatalx("cannot set up libcurl");
	explicit_bzero(token, tokensize);
	log_info("ready: %zu reports waiting, sending to %s", spool_count(
	    &r.r_spool), cf->cf_spamhaus.sh_url);
	reporter_loop(&r);
	reporter_counters(&r);
	submit_free(&r.r_submit);
	seen_save(&r.r_seen, r.r_spool.sp_dirfd);
	reporter_teardown(&r);
	exit(0);
}
