/*
 * The milter packet codec, shared by the daemon and phishmilter-client.
 *
 * A packet is a 4-byte big-endian length, which counts the command byte,
 * then the command byte, then the payload.  Reads are buffered: one
 * read(2) may bring many packets, because an MTA pipelines the steps for
 * which the filter asked for no reply.  Writes are collected in a buffer
 * and sent with as few syscalls as possible by milter_flush().
 *
 * Only libc is used here: no logging, no fatal(), no xmalloc(); every
 * failure is returned to the caller with a short reason in mc_error.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "milter.h"

#define MILTER_HDRLEN		4
#define MILTER_RBUF_START	(64 * 1024)
#define MILTER_WBUF_START	(64 * 1024)

static int	 milter_from_now(struct timespec *, int);
static int	 milter_until_set(const struct milter_conn *);
static int	 milter_deadline(struct milter_conn *, struct timespec *, int);
static int	 milter_remaining(const struct timespec *);
static int	 milter_wait(struct milter_conn *, short,
		    const struct timespec *);
static int	 milter_interrupted(struct milter_conn *);
static int	 milter_make_room(struct milter_conn *, size_t);
static int	 milter_fill(struct milter_conn *, size_t);
static ssize_t	 milter_write_some(int, const void *, size_t, int *);
static int	 milter_wgrow(struct milter_conn *, size_t);

/*
 * One read buffer of the starting size is kept for the next connection:
 * a worker serves one connection after another, and freeing 64 KiB each
 * time made malloc consolidate its free lists on every connection.
 */
static unsigned char	*milter_rbuf_spare;

static unsigned char *
milter_rbuf_take(void)
{
	unsigned char	*b = milter_rbuf_spare;

	if (b != NULL) {
		milter_rbuf_spare = NULL;
		return b;
	}
	return malloc(MILTER_RBUF_START);
}

static void
milter_rbuf_give(unsigned char *b, size_t size)
{
	if (b != NULL && size == MILTER_RBUF_START &&
	    milter_rbuf_spare == NULL)
		milter_rbuf_spare = b;
	else
		free(b);
}

int
milter_conn_init(struct milter_conn *mc, int fd, int timeout_ms,
    size_t max_payload)
{
	memset(mc, 0, sizeof(*mc));
	mc->mc_fd = fd;
	mc->mc_timeout = timeout_ms;
	mc->mc_stop = NULL;
	mc->mc_alive = -1;
	/* So that the header, command and payload always fit a size_t. */
	if (max_payload > SIZE_MAX - MILTER_HDRLEN - 1)
		max_payload = SIZE_MAX - MILTER_HDRLEN - 1;
	mc->mc_max = max_payload;
	if ((mc->mc_rbuf = milter_rbuf_take()) == NULL)
		return (-1);
	mc->mc_rsize = MILTER_RBUF_START;
	if ((mc->mc_wbuf = malloc(MILTER_WBUF_START)) == NULL) {
		milter_rbuf_give(mc->mc_rbuf, mc->mc_rsize);
		mc->mc_rbuf = NULL;
		return (-1);
	}
	mc->mc_wsize = MILTER_WBUF_START;
	return (0);
}

/* Frees the buffers; the descriptor belongs to the caller. */
void
milter_conn_free(struct milter_conn *mc)
{
	milter_rbuf_give(mc->mc_rbuf, mc->mc_rsize);
	free(mc->mc_wbuf);
	mc->mc_rbuf = mc->mc_wbuf = NULL;
	mc->mc_rsize = mc->mc_roff = mc->mc_rlen = 0;
	mc->mc_wsize = mc->mc_wlen = 0;
}

uint32_t
milter_get32(const void *p)
{
	const unsigned char	*b = p;

	return ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | (uint32_t)b[3]);
}

void
milter_put32(void *p, uint32_t v)
{
	unsigned char	*b = p;

	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

/* *ts gets the monotonic time ms milliseconds from now; -1: no clock. */
static int
milter_from_now(struct timespec *ts, int ms)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) == -1)
		return (-1);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
	return (0);
}

static int
milter_until_set(const struct milter_conn *mc)
{
	return (mc->mc_until.tv_sec != 0 || mc->mc_until.tv_nsec != 0);
}

/*
 * The timeout bounds each wait for the peer, not a whole packet; the
 * deadline keeps a wait restarted after EINTR from starting over.  A
 * read also ends by mc_until when one is set, however busy the peer
 * keeps the connection.  A zero deadline is no deadline.
 */
static int
milter_deadline(struct milter_conn *mc, struct timespec *deadline,
    int reading)
{
	memset(deadline, 0, sizeof(*deadline));
	if (mc->mc_timeout >= 0 &&
	    milter_from_now(deadline, mc->mc_timeout) == -1) {
		mc->mc_error = strerror(errno);
		return (-1);
	}
	if (reading && milter_until_set(mc) && (mc->mc_timeout < 0 ||
	    mc->mc_until.tv_sec < deadline->tv_sec ||
	    (mc->mc_until.tv_sec == deadline->tv_sec &&
	    mc->mc_until.tv_nsec < deadline->tv_nsec)))
		*deadline = mc->mc_until;
	return (0);
}

/* Milliseconds left until the deadline, rounded up; -1 is forever. */
static int
milter_remaining(const struct timespec *deadline)
{
	struct timespec	 now;
	long long	 ms;

	if (deadline->tv_sec == 0 && deadline->tv_nsec == 0)
		return (-1);
	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return (0);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec + 999999) / 1000000;
	if (ms < 0)
		return (0);
	return (ms > INT_MAX ? INT_MAX : (int)ms);
}

/*
 * Bounds every read from now on to ms milliseconds from now in all
 * (the whole of a message, where timeout bounds one wait); -1 lifts it.
 */
void
milter_read_until(struct milter_conn *mc, int ms)
{
	memset(&mc->mc_until, 0, sizeof(mc->mc_until));
	if (ms >= 0 && milter_from_now(&mc->mc_until, ms) == -1)
		memset(&mc->mc_until, 0, sizeof(mc->mc_until));
}

/*
 * Whether the MTA has sent something not read yet: bytes in the buffer,
 * or bytes (or its end of the connection) waiting on the socket.
 */
int
milter_pending(struct milter_conn *mc)
{
	struct pollfd	 pfd;

	if (mc->mc_rlen > mc->mc_roff)
		return (1);
	pfd.fd = mc->mc_fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return (poll(&pfd, 1, 0) > 0);
}

/*
 * An EINTR is retried unless the daemon asked us to stop and nothing the
 * MTA sent before that is waiting to be read.
 */
static int
milter_interrupted(struct milter_conn *mc)
{
	if (mc->mc_stop != NULL && *mc->mc_stop && !milter_pending(mc)) {
		mc->mc_error = "interrupted";
		return (1);
	}
	return (0);
}

/*
 * Waits until the descriptor is ready for events; 0, or -1 and mc_error.
 * Where a stop would end the wait (no message in hand), so does the
 * parent's death, which hangs up mc_alive: the stop is then set too.
 */
static int
milter_wait(struct milter_conn *mc, short events,
    const struct timespec *deadline)
{
	struct pollfd	 pfd[2];
	int		 n;

	for (;;) {
		pfd[0].fd = mc->mc_fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		pfd[1].fd = mc->mc_stop != NULL ? mc->mc_alive : -1;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = poll(pfd, 2, milter_remaining(deadline));
		if (n > 0 && pfd[0].revents != 0)
			return (0);	/* errors and hangups show in I/O */
		if (n > 0) {
			*mc->mc_stop = 1;
			mc->mc_error = "the parent process is gone";
			return (-1);
		}
		if (n == 0) {
			mc->mc_error = milter_until_set(mc) &&
			    deadline->tv_sec == mc->mc_until.tv_sec &&
			    deadline->tv_nsec == mc->mc_until.tv_nsec ?
			    "message timeout" : "timeout";
			return (-1);
		}
		if (errno != EINTR) {
			mc->mc_error = strerror(errno);
			return (-1);
		}
		if (milter_interrupted(mc))
			return (-1);
	}
}

/*
 * Makes room for need bytes of unread data in one piece: moves the unread
 * bytes to the front, and grows the buffer only for a large packet.
 */
static int
milter_make_room(struct milter_conn *mc, size_t need)
{
	unsigned char	*nbuf;
	size_t		 unread = mc->mc_rlen - mc->mc_roff;
	size_t		 nsize;

	if (mc->mc_roff > 0) {
		if (unread > 0)
			memmove(mc->mc_rbuf, mc->mc_rbuf + mc->mc_roff,
			    unread);
		mc->mc_roff = 0;
		mc->mc_rlen = unread;
	}
	if (need <= mc->mc_rsize)
		return (0);
	nsize = mc->mc_rsize;
	while (nsize < need)
		nsize = nsize > SIZE_MAX / 2 ? need : nsize * 2;
	if ((nbuf = realloc(mc->mc_rbuf, nsize)) == NULL) {
		mc->mc_error = "out of memory";
		return (-1);
	}
	mc->mc_rbuf = nbuf;
	mc->mc_rsize = nsize;
	return (0);
}

/*
 * Reads until at least need bytes are unread, taking whatever else the
 * peer has sent too.  Returns 1, 0 on EOF, or -1 with mc_error.
 */
static int
milter_fill(struct milter_conn *mc, size_t need)
{
	struct timespec	 deadline;
	ssize_t		 n;

	if (mc->mc_rlen - mc->mc_roff >= need)
		return (1);
	if (mc->mc_roff == mc->mc_rlen)
		mc->mc_roff = mc->mc_rlen = 0;
	/* Keep the free tail large, so that one read brings many packets. */
	if ((mc->mc_roff + need > mc->mc_rsize ||
	    mc->mc_rsize - mc->mc_rlen < mc->mc_rsize / 4) &&
	    milter_make_room(mc, need) == -1)
		return (-1);
	if (milter_deadline(mc, &deadline, 1) == -1)
		return (-1);
	/* Bytes that came in time are taken; no wait begins after it. */
	if (milter_until_set(mc) && milter_remaining(&mc->mc_until) == 0) {
		mc->mc_error = "message timeout";
		return (-1);
	}
	while (mc->mc_rlen - mc->mc_roff < need) {
		if (milter_wait(mc, POLLIN, &deadline) == -1)
			return (-1);
		n = read(mc->mc_fd, mc->mc_rbuf + mc->mc_rlen,
		    mc->mc_rsize - mc->mc_rlen);
		if (n == 0)
			return (0);
		if (n > 0) {
			mc->mc_rlen += n;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			continue;
		if (errno == EINTR) {
			if (milter_interrupted(mc))
				return (-1);
			continue;
		}
		mc->mc_error = errno == ECONNRESET ? "connection reset" :
		    strerror(errno);
		return (-1);
	}
	return (1);
}

int
milter_read_packet(struct milter_conn *mc, struct milter_packet *mp)
{
	static char	 toolarge[64];
	uint32_t	 len;
	int		 r;

	if ((r = milter_fill(mc, MILTER_HDRLEN)) <= 0) {
		if (r == 0 && mc->mc_rlen == mc->mc_roff)
			return (MILTER_EOF);
		if (r == 0)
			mc->mc_error = "truncated packet";
		return (MILTER_ERROR);
	}
	len = milter_get32(mc->mc_rbuf + mc->mc_roff);
	if (len == 0) {
		mc->mc_error = "zero-length packet";
		return (MILTER_ERROR);
	}
	/* Checked before any arithmetic: len may be up to 2^32-1. */
	if (len - 1 > mc->mc_max) {
		(void)snprintf(toolarge, sizeof(toolarge),
		    "packet too large (%lu bytes)", (unsigned long)len - 1);
		mc->mc_error = toolarge;
		return (MILTER_ERROR);
	}
	if ((r = milter_fill(mc, MILTER_HDRLEN + (size_t)len)) <= 0) {
		if (r == 0)
			mc->mc_error = "truncated packet";
		return (MILTER_ERROR);
	}
	mp->mp_cmd = (char)mc->mc_rbuf[mc->mc_roff + MILTER_HDRLEN];
	mp->mp_data = (const char *)mc->mc_rbuf + mc->mc_roff +
	    MILTER_HDRLEN + 1;
	mp->mp_len = len - 1;
	/* Consumed now; the bytes stay in place until the next call. */
	mc->mc_roff += MILTER_HDRLEN + (size_t)len;
	return (MILTER_OK);
}

/* Grows the write buffer so that more bytes fit after what is queued. */
static int
milter_wgrow(struct milter_conn *mc, size_t more)
{
	unsigned char	*nbuf;
	size_t		 nsize;

	if (more > SIZE_MAX - mc->mc_wlen) {
		mc->mc_error = "packet too large";
		return (-1);
	}
	if (mc->mc_wlen + more <= mc->mc_wsize)
		return (0);
	nsize = mc->mc_wsize > 0 ? mc->mc_wsize : MILTER_WBUF_START;
	while (nsize < mc->mc_wlen + more)
		nsize = nsize > SIZE_MAX / 2 ? mc->mc_wlen + more : nsize * 2;
	if ((nbuf = realloc(mc->mc_wbuf, nsize)) == NULL) {
		mc->mc_error = "out of memory";
		return (-1);
	}
	mc->mc_wbuf = nbuf;
	mc->mc_wsize = nsize;
	return (0);
}

int
milter_queue2(struct milter_conn *mc, char cmd, const void *data1,
    size_t len1, const void *data2, size_t len2)
{
	unsigned char	*p;

	/* The length field counts the command byte and must fit 32 bits. */
	if (len1 > UINT32_MAX - 1 || len2 > UINT32_MAX - 1 - len1 ||
	    len1 + len2 > SIZE_MAX - MILTER_HDRLEN - 1) {
		mc->mc_error = "packet too large";
		return (-1);
	}
	if (milter_wgrow(mc, MILTER_HDRLEN + 1 + len1 + len2) == -1)
		return (-1);
	p = mc->mc_wbuf + mc->mc_wlen;
	milter_put32(p, (uint32_t)(len1 + len2 + 1));
	p[MILTER_HDRLEN] = (unsigned char)cmd;
	p += MILTER_HDRLEN + 1;
	if (len1 > 0)
		memcpy(p, data1, len1);
	if (len2 > 0)
		memcpy(p + len1, data2, len2);
	mc->mc_wlen += MILTER_HDRLEN + 1 + len1 + len2;
	return (0);
}

int
milter_queue(struct milter_conn *mc, char cmd, const void *data, size_t len)
{
	return (milter_queue2(mc, cmd, data, len, NULL, 0));
}

/*
 * send(2) with MSG_NOSIGNAL keeps a dead peer from raising SIGPIPE where
 * the caller has not ignored it; a pipe or file gets write(2).
 */
static ssize_t
milter_write_some(int fd, const void *buf, size_t len, int *notsock)
{
	ssize_t	 n;

#ifdef MSG_NOSIGNAL
	if (!*notsock) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n != -1 || errno != ENOTSOCK)
			return (n);
		*notsock = 1;
	}
#else
	*notsock = 1;
#endif
	return (write(fd, buf, len));
}

int
milter_flush(struct milter_conn *mc)
{
	struct timespec	 deadline;
	size_t		 off = 0;
	ssize_t		 n;
	int		 notsock = 0, rv;

	if (mc->mc_wlen > 0 && milter_deadline(mc, &deadline, 0) == -1)
		return (-1);
	while (off < mc->mc_wlen) {
		n = milter_write_some(mc->mc_fd, mc->mc_wbuf + off,
		    mc->mc_wlen - off, &notsock);
		if (n >= 0) {
			off += n;
			continue;
		}
		if (errno == EINTR) {
			if (milter_interrupted(mc))
				break;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (milter_wait(mc, POLLOUT, &deadline) == -1)
				break;
			continue;
		}
		mc->mc_error = errno == EPIPE || errno == ECONNRESET ?
		    "connection reset" : strerror(errno);
		break;
	}
	/* A failed connection is dead: never resend half a buffer. */
	rv = off < mc->mc_wlen ? -1 : 0;
	mc->mc_wlen = 0;
	return (rv);
}

int
milter_send(struct milter_conn *mc, char cmd, const void *data, size_t len)
{
	if (milter_queue(mc, cmd, data, len) == -1)
		return (-1);
	return (milter_flush(mc));
}

const char *
milter_next_string(const char **p, size_t *len)
{
	const char	*s = *p;
	const char	*nul;

	if (*len == 0 || (nul = memchr(s, '\0', *len)) == NULL)
		return (NULL);
	*len -= (size_t)(nul - s) + 1;
	*p = nul + 1;
	return (s);
}

size_t
milter_optneg_encode(unsigned char *buf, uint32_t version, uint32_t actions,
    uint32_t protocol)
{
	milter_put32(buf, version);
	milter_put32(buf + 4, actions);
	milter_put32(buf + 8, protocol);
	return (12);
}

/* Bytes after the first 12 (macro lists of a v6 filter) are left alone. */
int
milter_optneg_decode(const char *data, size_t len, uint32_t *version,
    uint32_t *actions, uint32_t *protocol)
{
	if (len < 12)
		return (-1);
	*version = milter_get32(data);
	*actions = milter_get32(data + 4);
	*protocol = milter_get32(data + 8);
	return (0);
}

/* Commands are upper case and replies lower case, so one table names both. */
const char *
milter_command_name(char cmd)
{
	static const struct {
		char		 c;
		const char	*name;
	} names[] = {
		{ SMFIC_ABORT, "abort" },	{ SMFIC_BODY, "body" },
		{ SMFIC_CONNECT, "connect" },	{ SMFIC_MACRO, "macro" },
		{ SMFIC_BODYEOB, "eom" },	{ SMFIC_HELO, "helo" },
		{ SMFIC_QUIT_NC, "quit_nc" },	{ SMFIC_HEADER, "header" },
		{ SMFIC_MAIL, "mail" },		{ SMFIC_EOH, "eoh" },
		{ SMFIC_OPTNEG, "optneg" },	{ SMFIC_QUIT, "quit" },
		{ SMFIC_RCPT, "rcpt" },		{ SMFIC_DATA, "data" },
		{ SMFIC_UNKNOWN, "unknown" },
		{ SMFIR_ADDRCPT, "addrcpt" },	{ SMFIR_DELRCPT, "delrcpt" },
		{ SMFIR_ACCEPT, "accept" },	{ SMFIR_REPLBODY, "replbody" },
		{ SMFIR_CONTINUE, "continue" },	{ SMFIR_DISCARD, "discard" },
		{ SMFIR_CHGFROM, "chgfrom" },	{ SMFIR_ADDHEADER, "addheader" },
		{ SMFIR_INSHEADER, "insheader" },
		{ SMFIR_SETSYMLIST, "setsymlist" },
		{ SMFIR_CHGHEADER, "chgheader" },
		{ SMFIR_PROGRESS, "progress" },
		{ SMFIR_QUARANTINE, "quarantine" },
		{ SMFIR_REJECT, "reject" },	{ SMFIR_SKIP, "skip" },
		{ SMFIR_TEMPFAIL, "tempfail" },
		{ SMFIR_REPLYCODE, "replycode" },
		{ SMFIR_ADDRCPT_PAR, "addrcpt_par" }
	};
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].c == cmd)
			return (names[i].name);
	return ("unknown");
}
