/*
 * hostile_mta: the MTA side of the milter protocol, for the tests that
 * need what phishmilter-client does not do: a message streamed from
 * standard input, however large (the client reads a whole file first),
 * a peer that trickles a message one small packet at a time, and
 * thousands of connections opened at once.  Not installed; built by
 * make check for regress/ scripts.
 *
 *	hostile_mta [-p port] [-t seconds] send <message
 *	hostile_mta [-p port] [-t seconds] [-i ms] [-e] trickle count
 *	hostile_mta [-p port] [-t seconds] flood connections
 *
 * send and trickle print the verdict ("accept", "reject 550 ...",
 * "tempfail", "discard") or "closed: reason", then "ms=" and the
 * milliseconds it took; exit 0 for a verdict, 3 for a closed
 * connection.  trickle sends a header (with -e a recipient) every -i
 * ms.  flood prints one line of counts and exits 1 if one hung, 77 if
 * it may not have that many descriptors.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "milter.h"

#define PEER_ACTIONS	0x1ffU
#define PEER_PROTOCOL	0x001fffffU	/* any step may go, or go unanswered */
#define PEER_CLIENT	"client.example\0" "4" "\0\031" "192.0.2.1"
#define PEER_MAIL	"<sender@example.org>"
#define PEER_RCPT	"<rcpt@example.net>"

enum reply {
	REPLY_CLOSED = -1,
	REPLY_CONTINUE,
	REPLY_SKIP,
	REPLY_FINAL
};

struct peer {
	struct milter_conn	 p_mc;
	uint32_t		 p_protocol;	/* as negotiated */
	char			 p_verdict[1100];
};

static int		 port = 8898;
static int		 timeout_s = 30;
static long long	 t_start;

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static int
peer_socket(int nonblock)
{
	struct sockaddr_in	sin;
	int			fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK :
	    0), 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Packets that want no answer go at once, as an MTA's do. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    (!nonblock || errno != EINPROGRESS)) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Ends the run: the verdict or why the connection ended, and the time. */
static void __attribute__((__noreturn__))
peer_done(struct peer *p, const char *closed)
{
	if (closed != NULL)
		printf("closed: %s\n", closed);
	else
		printf("%s\n", p->p_verdict);
	printf("ms=%lld\n", now_ms() - t_start);
	exit(closed != NULL ? 3 : 0);
}

/* Reads replies until one that ends the wait. */
static enum reply
peer_reply(struct peer *p)
{
	struct milter_packet	mp;
	const char		*text;

	for (;;) {
		if (milter_read_packet(&p->p_mc, &mp) != MILTER_OK)
			return (REPLY_CLOSED);
		switch (mp.mp_cmd) {
		case SMFIR_CONTINUE:
			return (REPLY_CONTINUE);
		case SMFIR_SKIP:
			return (REPLY_SKIP);
		case SMFIR_ACCEPT:
			text = "accept";
			break;
		case SMFIR_DISCARD:
			text = "discard";
			break;
		case SMFIR_REJECT:
			text = "reject";
			break;
		case SMFIR_TEMPFAIL:
			text = "tempfail";
			break;
		case SMFIR_REPLYCODE:
			(void)snprintf(p->p_verdict, sizeof(p->p_verdict),
			    "%s %.*s", mp.mp_len > 0 && mp.mp_data[0] == '4' ?
			    "tempfail" : "reject", (int)strnlen(mp.mp_data,
			    mp.mp_len < 1024 ? mp.mp_len : 1024), mp.mp_data);
			return (REPLY_FINAL);
		default:	/* progress, header changes, quarantine */
			continue;
		}
		(void)snprintf(p->p_verdict, sizeof(p->p_verdict), "%s", text);
		return (REPLY_FINAL);
	}
}

/*
 * Sends one command (its payload in two pieces) unless the filter asked
 * to be spared it, and waits for its answer unless it asked not to
 * answer; a final answer ends the run.  Returns REPLY_CONTINUE or
 * REPLY_SKIP.
 */
static enum reply
peer_step2(struct peer *p, char cmd, uint32_t nosend, uint32_t noreply,
    const void *d1, size_t l1, const void *d2, size_t l2)
{
	enum reply	r;

	if (p->p_protocol & nosend)
		return (REPLY_CONTINUE);
	if (milter_queue2(&p->p_mc, cmd, d1, l1, d2, l2) == -1 ||
	    milter_flush(&p->p_mc) == -1)
		peer_done(p, p->p_mc.mc_error);
	if (p->p_protocol & noreply)
		return (REPLY_CONTINUE);
	if ((r = peer_reply(p)) == REPLY_CLOSED)
		peer_done(p, p->p_mc.mc_error != NULL ? p->p_mc.mc_error :
		    "end of file");
	if (r == REPLY_FINAL)
		peer_done(p, NULL);
	return (r);
}

static enum reply
peer_step(struct peer *p, char cmd, uint32_t nosend, uint32_t noreply,
    const void *data, size_t len)
{
	return (peer_step2(p, cmd, nosend, noreply, data, len, NULL, 0));
}

/* Connects, negotiates, and sends the envelope. */
static void
peer_open(struct peer *p)
{
	struct milter_packet	mp;
	unsigned char		opt[12];
	uint32_t		version, actions;
	int			fd;

	t_start = now_ms();
	if ((fd = peer_socket(0)) == -1)
		err(2, "connect to port %d", port);
	if (milter_conn_init(&p->p_mc, fd, timeout_s * 1000,
	    MILTER_MAX_PACKET) == -1)
		err(2, "milter_conn_init");
	milter_optneg_encode(opt, MILTER_VERSION, PEER_ACTIONS,
	    PEER_PROTOCOL);
	if (milter_send(&p->p_mc, SMFIC_OPTNEG, opt, sizeof(opt)) == -1)
		peer_done(p, p->p_mc.mc_error);
	if (milter_read_packet(&p->p_mc, &mp) != MILTER_OK ||
	    mp.mp_cmd != SMFIC_OPTNEG || milter_optneg_decode(mp.mp_data,
	    mp.mp_len, &version, &actions, &p->p_protocol) == -1)
		peer_done(p, "no option negotiation");
	(void)peer_step(p, SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN,
	    PEER_CLIENT, sizeof(PEER_CLIENT));
	(void)peer_step(p, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL,
	    PEER_MAIL, sizeof(PEER_MAIL));
	(void)peer_step(p, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT,
	    PEER_RCPT, sizeof(PEER_RCPT));
}

/* "Name: value" (folded lines joined) as one HEADER packet. */
static void
peer_header(struct peer *p, char *h, size_t len)
{
	char	*colon, *value;

	h[len] = '\0';
	if ((colon = memchr(h, ':', len)) == NULL)
		return;
	*colon = '\0';
	value = colon + 1;
	if (!(p->p_protocol & SMFIP_HDR_LEADSPC) && *value == ' ')
		value++;
	(void)peer_step2(p, SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR, h,
	    colon - h + 1, value, h + len - value + 1);
}

/* A message from standard input, however large, in a stream. */
static void
peer_send(void)
{
	struct peer	 p;
	char		*line = NULL, *hdr = NULL, chunk[MILTER_CHUNK_SIZE];
	size_t		 lsize = 0, hlen = 0, hsize = 0, n;
	ssize_t		 len;
	int		 skip = 0;

	memset(&p, 0, sizeof(p));
	peer_open(&p);
	while ((len = getline(&line, &lsize, stdin)) != -1) {
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (hlen > 0 && (len == 0 || (line[0] != ' ' &&
		    line[0] != '\t'))) {
			peer_header(&p, hdr, hlen);
			hlen = 0;
		}
		if (len == 0)
			break;
		if (hlen + len + 2 > hsize) {
			hsize = hlen + len + 2;
			if ((hdr = realloc(hdr, hsize)) == NULL)
				err(2, "realloc");
		}
		if (hlen > 0)
			hdr[hlen++] = '\n';
		memcpy(hdr + hlen, line, len);
		hlen += len;
	}
	if (hlen > 0)
		peer_header(&p, hdr, hlen);
	free(line);
	free(hdr);
	(void)peer_step(&p, SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, NULL, 0);
	while (!skip && !(p.p_protocol & SMFIP_NOBODY) &&
	    (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		skip = peer_step(&p, SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY,
		    chunk, n) == REPLY_SKIP;
	(void)peer_step(&p, SMFIC_BODYEOB, 0, 0, NULL, 0);
	peer_done(&p, "no verdict");
}

/*
 * A message sent one small packet every interval ms: count headers (or
 * body chunks where the filter wants no headers), or with envelope
 * count recipients before one header; then the end.  Between packets
 * it watches the connection, to tell when the daemon closed it.
 */
static void
peer_trickle(int count, int interval, int envelope)
{
	struct peer	 p;
	struct pollfd	 pfd;
	char		 buf[64];
	int		 i;

	memset(&p, 0, sizeof(p));
	peer_open(&p);
	for (i = 0; i < count; i++) {
		pfd.fd = p.p_mc.mc_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, interval) == 1)
			peer_done(&p, "by the daemon while trickling");
		if (envelope) {
			(void)snprintf(buf, sizeof(buf), "<r%d@example.net>",
			    i);
			(void)peer_step(&p, SMFIC_RCPT, SMFIP_NORCPT,
			    SMFIP_NR_RCPT, buf, strlen(buf) + 1);
		} else if (p.p_protocol & SMFIP_NOHDRS)
			(void)peer_step(&p, SMFIC_BODY, SMFIP_NOBODY,
			    SMFIP_NR_BODY, "trickle\r\n", 9);
		else {
			(void)snprintf(buf, sizeof(buf), "X-Trickle-%d", i);
			(void)peer_step2(&p, SMFIC_HEADER, SMFIP_NOHDRS,
			    SMFIP_NR_HDR, buf, strlen(buf) + 1, "trickle", 8);
		}
	}
	(void)peer_step2(&p, SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR,
	    "Subject", 8, "trickle", 8);
	(void)peer_step(&p, SMFIC_BODYEOB, 0, 0, NULL, 0);
	peer_done(&p, "no verdict");
}

/* One connection of a flood, and what became of it. */
enum flood_state {
	FLOOD_CONNECTING,
	FLOOD_WAITING,		/* OPTNEG and QUIT sent */
	FLOOD_ANSWERED,		/* OPTNEG answered, waiting for the close */
	FLOOD_DONE
};

struct flood {
	struct pollfd	*f_pfd;
	int		*f_state;
	int		*f_got;		/* bytes of the answer read */
	int		 f_answered, f_closed, f_failed;
};

static void
flood_fail(struct flood *f, int i, int *counter)
{
	close(f->f_pfd[i].fd);
	f->f_pfd[i].fd = -1;
	f->f_state[i] = FLOOD_DONE;
	(*counter)++;
}

/* The connection is up: OPTNEG offering everything, then QUIT. */
static void
flood_connected(struct flood *f, int i)
{
	unsigned char	pkt[4 + 1 + 12 + 4 + 1];
	int		e = 0;
	socklen_t	len = sizeof(e);

	if (getsockopt(f->f_pfd[i].fd, SOL_SOCKET, SO_ERROR, &e, &len) ==
	    -1 || e != 0) {
		flood_fail(f, i, &f->f_failed);
		return;
	}
	milter_put32(pkt, 13);
	pkt[4] = SMFIC_OPTNEG;
	milter_optneg_encode(pkt + 5, MILTER_VERSION, PEER_ACTIONS, 0);
	milter_put32(pkt + 17, 1);
	pkt[21] = SMFIC_QUIT;
	/* 22 bytes into an empty socket buffer: never a short write. */
	if (send(f->f_pfd[i].fd, pkt, sizeof(pkt), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(pkt)) {
		flood_fail(f, i, &f->f_closed);
		return;
	}
	f->f_state[i] = FLOOD_WAITING;
	f->f_pfd[i].events = POLLIN;
}

/* The 17 bytes of the OPTNEG answer, then the daemon's close. */
static void
flood_readable(struct flood *f, int i)
{
	char	buf[64];
	ssize_t	n;

	n = recv(f->f_pfd[i].fd, buf, sizeof(buf), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		flood_fail(f, i, f->f_state[i] == FLOOD_ANSWERED ?
		    &f->f_answered : &f->f_closed);
		return;
	}
	f->f_got[i] += (int)n;
	if (f->f_state[i] == FLOOD_WAITING && f->f_got[i] >= 17)
		f->f_state[i] = FLOOD_ANSWERED;
}

static void
flood_event(struct flood *f, int i)
{
	short	re = f->f_pfd[i].revents;

	if (re == 0 || f->f_pfd[i].fd == -1)
		return;
	if (f->f_state[i] == FLOOD_CONNECTING)
		flood_connected(f, i);
	else if (re & (POLLIN | POLLHUP | POLLERR))
		flood_readable(f, i);
}

/*
 * n connections opened at once, each a short but complete milter
 * session; counts those answered, those closed by the daemon before the
 * answer, those that could not connect, and those still open at the
 * timeout (hung).
 */
static void
peer_flood(int n)
{
	struct flood	 f;
	struct rlimit	 rl;
	long long	 deadline;
	int		 i, left, wait;

	rl.rlim_cur = rl.rlim_max = (rlim_t)n + 16;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		warn("setrlimit RLIMIT_NOFILE %d", n + 16);
		exit(77);
	}
	memset(&f, 0, sizeof(f));
	if ((f.f_pfd = calloc(n, sizeof(*f.f_pfd))) == NULL ||
	    (f.f_state = calloc(n, sizeof(*f.f_state))) == NULL ||
	    (f.f_got = calloc(n, sizeof(*f.f_got))) == NULL)
		err(2, "calloc");
	t_start = now_ms();
	deadline = t_start + timeout_s * 1000LL;
	for (i = 0; i < n; i++) {
		f.f_pfd[i].events = POLLOUT;
		if ((f.f_pfd[i].fd = peer_socket(1)) == -1) {
			f.f_failed++;
			f.f_state[i] = FLOOD_DONE;
		}
	}
	printf("opened in %lld ms\n", now_ms() - t_start);
	for (left = n - f.f_failed; left > 0 && now_ms() < deadline;) {
		wait = (int)(deadline - now_ms());
		if (poll(f.f_pfd, n, wait > 0 ? wait : 0) == -1 &&
		    errno != EINTR)
			err(2, "poll");
		for (i = 0; i < n; i++)
			flood_event(&f, i);
		left = n - f.f_answered - f.f_closed - f.f_failed;
	}
	printf("connections=%d answered=%d closed=%d failed=%d hung=%d "
	    "ms=%lld\n", n, f.f_answered, f.f_closed, f.f_failed, left,
	    now_ms() - t_start);
	exit(left > 0 ? 1 : 0);
}

static void __attribute__((__noreturn__))
usage(void)
{
	fprintf(stderr, "usage: hostile_mta [-e] [-i ms] [-p port] "
	    "[-t seconds] send | trickle count |\n"
	    "\tflood connections\n");
	exit(2);
}

static int
number(const char *s, int min, int max)
{
	char	*end;
	long	 l;

	errno = 0;
	l = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || l < min || l > max)
		usage();
	return ((int)l);
}

int
main(int argc, char *argv[])
{
	int	ch, interval = 500, envelope = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "ei:p:t:")) != -1) {
		switch (ch) {
		case 'e':
			envelope = 1;
			break;
		case 'i':
			interval = number(optarg, 1, 3600000);
			break;
		case 'p':
			port = number(optarg, 1, 65535);
			break;
		case 't':
			timeout_s = number(optarg, 1, 86400);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 1 && strcmp(argv[0], "send") == 0)
		peer_send();
	else if (argc == 2 && strcmp(argv[0], "trickle") == 0)
		peer_trickle(number(argv[1], 0, 1000000), interval, envelope);
	else if (argc == 2 && strcmp(argv[0], "flood") == 0)
		peer_flood(number(argv[1], 1, 1000000));
	usage();
}
