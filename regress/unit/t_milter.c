/*
 * Unit test of the milter packet codec (src/milter.c) over socketpairs.
 * Emits TAP.  Links milter.c only.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "milter.h"

#define NTESTS		44
#define BIG		(3 * 1024 * 1024)

static int		 testno;
static int		 failed;
static volatile int	 stopflag;

static void	 ok(int, const char *);
static void	 pair(int [2]);
static void	 wfull(int, const void *, size_t);
static void	 rawpacket(int, uint32_t, char, const void *, size_t);
static int	 readone(int, size_t, struct milter_packet *,
		    struct milter_conn *);
static int	 iserr(struct milter_conn *, const char *);
static void	 onalarm(int);
static void	 alarm_ms(int);
static void	 t_roundtrip(void);
static void	 t_pipelined(void);
static void	 t_split(void);
static void	 t_lengths(void);
static void	 t_eof(void);
static void	 t_timeout(void);
static void	 t_interrupt(void);
static void	 t_large(void);
static void	 t_flush(void);
static void	 t_helpers(void);

static void
ok(int cond, const char *desc)
{
	testno++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", testno, desc);
	fflush(stdout);
}

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		printf("Bail out! socketpair: %s\n", strerror(errno));
		exit(1);
	}
}

static void
wfull(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			printf("Bail out! write: %s\n", strerror(errno));
			exit(1);
		}
		p += n;
		len -= n;
	}
}

/* A packet with any length field, not necessarily matching its data. */
static void
rawpacket(int fd, uint32_t len, char cmd, const void *data, size_t dlen)
{
	unsigned char	 hdr[5];

	milter_put32(hdr, len);
	hdr[4] = (unsigned char)cmd;
	wfull(fd, hdr, sizeof(hdr));
	if (dlen > 0)
		wfull(fd, data, dlen);
}

/* Reads one packet from fd with a fresh connection left in *mc. */
static int
readone(int fd, size_t max, struct milter_packet *mp, struct milter_conn *mc)
{
	if (milter_conn_init(mc, fd, 2000, max) == -1) {
		printf("Bail out! milter_conn_init\n");
		exit(1);
	}
	return (milter_read_packet(mc, mp));
}

static int
iserr(struct milter_conn *mc, const char *want)
{
	if (mc->mc_error == NULL)
		return (0);
	if (strcmp(mc->mc_error, want) != 0) {
		printf("# error \"%s\", expected \"%s\"\n", mc->mc_error, want);
		return (0);
	}
	return (1);
}

static void
onalarm(int sig)
{
	(void)sig;
	stopflag = 1;
}

/* One SIGALRM after ms milliseconds (ualarm is gone from POSIX). */
static void
alarm_ms(int ms)
{
	struct itimerval	 it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	if (setitimer(ITIMER_REAL, &it, NULL) == -1) {
		printf("Bail out! setitimer: %s\n", strerror(errno));
		exit(1);
	}
}

static void
t_roundtrip(void)
{
	struct milter_conn	 a, b;
	struct milter_packet	 mp;
	int			 sv[2];

	pair(sv);
	ok(milter_conn_init(&a, sv[0], 2000, MILTER_MAX_PACKET) == 0 &&
	    milter_conn_init(&b, sv[1], 2000, MILTER_MAX_PACKET) == 0 &&
	    a.mc_stop == NULL, "conn_init");
	ok(milter_send(&a, SMFIC_HELO, "mx.example\0", 11) == 0 &&
	    a.mc_wlen == 0, "send empties the write buffer");
	ok(milter_read_packet(&b, &mp) == MILTER_OK &&
	    mp.mp_cmd == SMFIC_HELO && mp.mp_len == 11 &&
	    memcmp(mp.mp_data, "mx.example\0", 11) == 0, "round trip");
	ok(milter_queue2(&a, SMFIC_HEADER, "Subject\0", 8, "hi\0", 3) == 0 &&
	    milter_queue(&a, SMFIC_EOH, NULL, 0) == 0 &&
	    milter_flush(&a) == 0, "queue2 + queue + flush");
	ok(milter_read_packet(&b, &mp) == MILTER_OK &&
	    mp.mp_cmd == SMFIC_HEADER && mp.mp_len == 11 &&
	    memcmp(mp.mp_data, "Subject\0hi\0", 11) == 0,
	    "queue2 joins its two pieces");
	ok(milter_read_packet(&b, &mp) == MILTER_OK &&
	    mp.mp_cmd == SMFIC_EOH && mp.mp_len == 0,
	    "second queued packet");
	milter_conn_free(&a);
	milter_conn_free(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
t_pipelined(void)
{
	struct milter_conn	 mc;
	struct milter_packet	 mp;
	unsigned char		 buf[64];
	size_t			 n = 0;
	int			 sv[2], i, good = 1;

	/* Three packets, one write(2). */
	for (i = 0; i < 3; i++) {
		milter_put32(buf + n, 3);
		buf[n + 4] = 'B';
		buf[n + 5] = 'x';
		buf[n + 6] = '0' + i;
		n += 7;
	}
	pair(sv);
	wfull(sv[0], buf, n);
	if (readone(sv[1], 1024, &mp, &mc) != MILTER_OK)
		good = 0;
	for (i = 0; good && i < 3; i++) {
		if (i > 0 && milter_read_packet(&mc, &mp) != MILTER_OK)
			good = 0;
		else if (mp.mp_cmd != 'B' || mp.mp_len != 2 ||
		    mp.mp_data[1] != '0' + i)
			good = 0;
	}
	ok(good, "three packets from one write");
	ok(mc.mc_roff == mc.mc_rlen, "nothing left over");
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);
}

/* The writer is a child, so that the reader really waits between pieces. */
static void
t_split(void)
{
	struct milter_conn	 mc;
	struct milter_packet	 mp;
	unsigned char		 pkt[5 + 6];
	struct timespec		 ts = { 0, 20 * 1000 * 1000 };
	pid_t			 pid;
	int			 sv[2], st, r;

	milter_put32(pkt, 7);
	pkt[4] = 'R';
	memcpy(pkt + 5, "<a@b>", 6);
	pair(sv);
	if ((pid = fork()) == -1) {
		printf("Bail out! fork\n");
		exit(1);
	}
	if (pid == 0) {
		close(sv[1]);
		wfull(sv[0], pkt, 2);		/* half the length */
		nanosleep(&ts, NULL);
		wfull(sv[0], pkt + 2, 4);	/* rest of it, command, 1 */
		nanosleep(&ts, NULL);
		wfull(sv[0], pkt + 6, sizeof(pkt) - 6);
		_exit(0);
	}
	close(sv[0]);
	r = readone(sv[1], 1024, &mp, &mc);
	ok(r == MILTER_OK && mp.mp_cmd == 'R' && mp.mp_len == 6 &&
	    memcmp(mp.mp_data, "<a@b>", 6) == 0,
	    "packet split across three writes");
	ok(milter_read_packet(&mc, &mp) == MILTER_EOF, "then clean EOF");
	milter_conn_free(&mc);
	close(sv[1]);
	waitpid(pid, &st, 0);
}

static void
t_lengths(void)
{
	struct milter_conn	 mc;
	struct milter_packet	 mp;
	int			 sv[2];

	pair(sv);
	rawpacket(sv[0], 0, 'X', NULL, 0);
	ok(readone(sv[1], 1024, &mp, &mc) == MILTER_ERROR &&
	    iserr(&mc, "zero-length packet"), "length 0 is an error");
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);

	pair(sv);
	rawpacket(sv[0], 1, SMFIC_QUIT, NULL, 0);
	ok(readone(sv[1], 1024, &mp, &mc) == MILTER_OK &&
	    mp.mp_cmd == SMFIC_QUIT && mp.mp_len == 0,
	    "length 1: command only");
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);

	pair(sv);
	rawpacket(sv[0], UINT32_C(0x80000000), 'B', "abc", 3);
	ok(readone(sv[1], MILTER_MAX_PACKET, &mp, &mc) == MILTER_ERROR &&
	    iserr(&mc, "packet too large (2147483647 bytes)"),
	    "length 2^31 rejected");
	ok(mc.mc_rsize == 64 * 1024, "length 2^31: nothing allocated");
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);

	pair(sv);
	rawpacket(sv[0], UINT32_MAX, 'B', "abc", 3);
	ok(readone(sv[1], MILTER_MAX_PACKET, &mp, &mc) == MILTER_ERROR &&
	    iserr(&mc, "packet too large (4294967294 bytes)"),
	    "length 2^32-1 rejected");
	ok(mc.mc_rsize == 64 * 1024, "length 2^32-1: nothing allocated");
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);

	pair(sv);
	rawpacket(sv[0], 101, 'B', NULL, 0);
	ok(readone(sv[1], 99, &mp, &mc) == MILTER_ERROR &&
	    iserr(&mc, "packet too large (100 bytes)"),
	    "payload one over mc_max rejected");
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);

	pair(sv);
	rawpacket(sv[0], 100, 'B', NULL, 0);
	wfull(sv[0], "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678", 99);
	ok(readone(sv[1], 99, &mp, &mc) == MILTER_OK && mp.mp_len == 99,
	    "payload of exactly mc_max accepted");
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);
}

static void
t_eof(void)
{
	struct milter_conn	 mc;
	struct milter_packet	 mp;
	int			 sv[2];

	pair(sv);
	close(sv[0]);
	ok(readone(sv[1], 1024, &mp, &mc) == MILTER_EOF, "clean EOF");
	milter_conn_free(&mc);
	close(sv[1]);

	pair(sv);
	rawpacket(sv[0], 10, 'B', "abc", 3);
	close(sv[0]);
	ok(readone(sv[1], 1024, &mp, &mc) == MILTER_ERROR &&
	    iserr(&mc, "truncated packet"), "EOF inside the payload");
	milter_conn_free(&mc);
	close(sv[1]);

	pair(sv);
	wfull(sv[0], "\0\0", 2);
	close(sv[0]);
	ok(readone(sv[1], 1024, &mp, &mc) == MILTER_ERROR &&
	    iserr(&mc, "truncated packet"), "EOF inside the length");
	milter_conn_free(&mc);
	close(sv[1]);
}

static void
t_timeout(void)
{
	struct milter_conn	 mc;
	struct milter_packet	 mp;
	struct timespec		 t0, t1;
	long			 ms;
	int			 sv[2], r;

	pair(sv);
	if (milter_conn_init(&mc, sv[1], 50, 1024) == -1)
		exit(1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = milter_read_packet(&mc, &mp);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ok(r == MILTER_ERROR && iserr(&mc, "timeout"), "read times out");
	ok(ms >= 45 && ms < 2000, "after about the timeout");

	/* Half a packet, then silence: the wait for the rest times out. */
	rawpacket(sv[0], 10, 'B', "ab", 2);
	r = milter_read_packet(&mc, &mp);
	ok(r == MILTER_ERROR && iserr(&mc, "timeout"),
	    "read times out inside a packet");
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);
}

/* A signal during a wait ends it only when mc_stop is set. */
static void
t_interrupt(void)
{
	struct sigaction	 sa;
	struct milter_conn	 mc;
	struct milter_packet	 mp;
	int			 sv[2], r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onalarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;		/* no SA_RESTART: poll sees EINTR */
	sigaction(SIGALRM, &sa, NULL);

	pair(sv);
	if (milter_conn_init(&mc, sv[1], 300, 1024) == -1)
		exit(1);
	stopflag = 0;
	alarm_ms(30);
	r = milter_read_packet(&mc, &mp);
	ok(r == MILTER_ERROR && iserr(&mc, "timeout") && stopflag,
	    "EINTR without mc_stop: retried until the timeout");

	mc.mc_stop = &stopflag;
	stopflag = 0;
	alarm_ms(30);
	r = milter_read_packet(&mc, &mp);
	ok(r == MILTER_ERROR && iserr(&mc, "interrupted"),
	    "EINTR with *mc_stop set: interrupted");
	signal(SIGALRM, SIG_DFL);
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A packet larger than the socket buffer: the writer, non-blocking, must
 * wait for POLLOUT; the reader's buffer must grow past 64 KiB.
 */
static void
t_large(void)
{
	struct milter_conn	 mc;
	struct milter_packet	 mp;
	unsigned char		*big;
	pid_t			 pid;
	size_t			 i;
	int			 sv[2], st, r, good;

	if ((big = malloc(BIG)) == NULL)
		exit(1);
	for (i = 0; i < BIG; i++)
		big[i] = (unsigned char)(i * 7 + 3);
	pair(sv);
	if ((pid = fork()) == -1)
		exit(1);
	if (pid == 0) {
		close(sv[1]);
		if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
		    milter_conn_init(&mc, sv[0], 5000, BIG) == -1 ||
		    milter_send(&mc, SMFIC_BODY, big, BIG) == -1 ||
		    milter_send(&mc, SMFIC_BODYEOB, NULL, 0) == -1)
			_exit(1);
		_exit(0);
	}
	close(sv[0]);
	r = readone(sv[1], BIG, &mp, &mc);
	good = r == MILTER_OK && mp.mp_cmd == SMFIC_BODY &&
	    mp.mp_len == BIG && memcmp(mp.mp_data, big, BIG) == 0;
	ok(good, "3 MiB packet through a non-blocking writer");
	ok(mc.mc_rsize >= (size_t)BIG + 5, "read buffer grew");
	ok(milter_read_packet(&mc, &mp) == MILTER_OK &&
	    mp.mp_cmd == SMFIC_BODYEOB, "packet after the large one");
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer succeeded");
	milter_conn_free(&mc);
	close(sv[1]);
	free(big);
}

static void
t_flush(void)
{
	struct milter_conn	 mc;
	struct milter_packet	 mp;
	unsigned char		*big;
	int			 sv[2], pfd[2];

	if ((big = calloc(1, BIG)) == NULL)
		exit(1);

	/* Nobody reads: a non-blocking writer must time out, not hang. */
	pair(sv);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
	    milter_conn_init(&mc, sv[0], 50, 1024) == -1)
		exit(1);
	ok(milter_send(&mc, SMFIC_BODY, big, BIG) == -1 &&
	    iserr(&mc, "timeout") && mc.mc_wlen == 0,
	    "flush times out when the peer does not read");
	milter_conn_free(&mc);
	close(sv[0]);
	close(sv[1]);

	/* SIGPIPE left at its default: MSG_NOSIGNAL must keep us alive. */
	signal(SIGPIPE, SIG_DFL);
	pair(sv);
	close(sv[1]);
	if (milter_conn_init(&mc, sv[0], 1000, 1024) == -1)
		exit(1);
	ok(milter_send(&mc, SMFIC_QUIT, NULL, 0) == -1 &&
	    iserr(&mc, "connection reset"),
	    "write to a closed peer fails without SIGPIPE");
	milter_conn_free(&mc);
	close(sv[0]);

	/* A pipe is not a socket: milter_flush falls back to write(2). */
	if (pipe(pfd) == -1)
		exit(1);
	if (milter_conn_init(&mc, pfd[1], 1000, 1024) == -1)
		exit(1);
	ok(milter_send(&mc, SMFIC_DATA, NULL, 0) == 0, "send on a pipe");
	milter_conn_free(&mc);
	close(pfd[1]);
	ok(readone(pfd[0], 1024, &mp, &mc) == MILTER_OK &&
	    mp.mp_cmd == SMFIC_DATA, "read from a pipe");
	milter_conn_free(&mc);
	close(pfd[0]);
	free(big);
}

static void
t_helpers(void)
{
	unsigned char	 b[16];
	const char	*p, *s;
	size_t		 len;
	uint32_t	 v, a, pr;

	milter_put32(b, UINT32_C(0x01020304));
	ok(b[0] == 1 && b[1] == 2 && b[2] == 3 && b[3] == 4 &&
	    milter_get32(b) == UINT32_C(0x01020304), "put32/get32");
	milter_put32(b, UINT32_MAX);
	ok(milter_get32(b) == UINT32_MAX, "get32 of 0xffffffff");

	p = "abc\0de\0fg";
	len = 9;
	s = milter_next_string(&p, &len);
	ok(s != NULL && strcmp(s, "abc") == 0 && len == 5 && *p == 'd',
	    "next_string returns and advances");
	s = milter_next_string(&p, &len);
	ok(s != NULL && strcmp(s, "de") == 0 && len == 2, "second string");
	s = milter_next_string(&p, &len);
	ok(s == NULL && len == 2, "unterminated string is NULL");
	len = 0;
	ok(milter_next_string(&p, &len) == NULL, "empty data is NULL");

	ok(milter_optneg_encode(b, 6, 0x1ff, 0x1fffff) == 12 &&
	    memcmp(b, "\0\0\0\6\0\0\1\377\0\37\377\377", 12) == 0,
	    "optneg encode");
	memcpy(b + 12, "\0\0\0\1", 4);
	ok(milter_optneg_decode((const char *)b, 16, &v, &a, &pr) == 0 &&
	    v == 6 && a == 0x1ff && pr == 0x1fffff,
	    "optneg decode ignores trailing bytes");
	ok(milter_optneg_decode((const char *)b, 12, &v, &a, &pr) == 0 &&
	    milter_optneg_decode((const char *)b, 11, &v, &a, &pr) == -1,
	    "optneg decode: 12 bytes fine, 11 too short");
	ok(strcmp(milter_command_name(SMFIC_CONNECT), "connect") == 0 &&
	    strcmp(milter_command_name(SMFIR_REPLYCODE), "replycode") == 0 &&
	    strcmp(milter_command_name('Z'), "unknown") == 0,
	    "command names");
}

int
main(void)
{
	printf("1..%d\n", NTESTS);
	t_roundtrip();
	t_pipelined();
	t_split();
	t_lengths();
	t_eof();
	t_timeout();
	t_interrupt();
	t_large();
	t_flush();
	t_helpers();
	if (testno != NTESTS)
		printf("# ran %d tests, planned %d\n", testno, NTESTS);
	return (failed || testno != NTESTS ? 1 : 0);
}
