/*
 * phishmilter-client: the MTA side of the milter protocol.  It replays
 * .eml files to any milter (phishmilter, libmilter filters, rspamd) the way
 * Postfix's milter8 client does, and prints one verdict line per message.
 *
 * A session is one negotiated connection; session_message() sends one
 * message on it, so several messages per connection, and several sessions
 * at once, need no change to the protocol code.  All packet I/O goes
 * through milter.c.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "milter.h"

#define CLIENT_SOCKET		"inet:127.0.0.1:8898"
#define CLIENT_ADDR		"192.0.2.1"	/* loopback is often exempt */
#define CLIENT_PORT		49152
#define CLIENT_RCPT		"<root@localhost>"
#define CLIENT_TIMEOUT		30		/* seconds, as Postfix */
#define CLIENT_MAX_FILE		(256 * 1024 * 1024)
#define CLIENT_FLUSH_AT		(256 * 1024)	/* pipelined bytes */
#define CLIENT_TRACE_MAX	200		/* payload bytes shown by -v */
#define CLIENT_NAME_MAX		128		/* longest macro name */
#define CLIENT_MAX_CONC		1024		/* -c: workers */

#ifdef PACKAGE_VERSION
#define CLIENT_VERSION		"phishmilter-client " PACKAGE_VERSION
#else
#define CLIENT_VERSION		"phishmilter-client"
#endif

/* The milter actions and protocol steps an MTA can offer (Postfix's). */
#define CLIENT_ACTIONS		0x000001ffU
#define NOSEND_MASK		(SMFIP_NOCONNECT | SMFIP_NOHELO | \
				    SMFIP_NOMAIL | SMFIP_NORCPT | \
				    SMFIP_NOBODY | SMFIP_NOHDRS | \
				    SMFIP_NOEOH | SMFIP_NOUNKNOWN | \
				    SMFIP_NODATA)
#define NOREPLY_MASK		(SMFIP_NR_CONN | SMFIP_NR_HELO | \
				    SMFIP_NR_MAIL | SMFIP_NR_RCPT | \
				    SMFIP_NR_DATA | SMFIP_NR_UNKN | \
				    SMFIP_NR_HDR | SMFIP_NR_EOH | \
				    SMFIP_NR_BODY)
#define PROTO_V2		(SMFIP_NOCONNECT | SMFIP_NOHELO | \
				    SMFIP_NOMAIL | SMFIP_NORCPT | \
				    SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH)
#define PROTO_V3		(PROTO_V2 | SMFIP_NOUNKNOWN)
#define PROTO_V4		(PROTO_V3 | SMFIP_NODATA)
#define PROTO_V6		(PROTO_V4 | SMFIP_SKIP | SMFIP_RCPT_REJ | \
				    NOREPLY_MASK | SMFIP_HDR_LEADSPC)

/*
 * Macro stages, numbered as on the wire (SMFIM_*) where a filter sends
 * its own macro lists, and the macros Postfix sends at each by default.
 */
enum stage {
	STAGE_CONNECT = 0,
	STAGE_HELO,
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_DATA,
	STAGE_EOM,
	STAGE_EOH,
	STAGE_MAX,
	STAGE_NONE = -1
};

static const struct {
	char		 cmd;
	const char	*macros;
} stages[STAGE_MAX] = {
	{ SMFIC_CONNECT, "j {daemon_name} v _ {client_addr} {client_name} "
	    "{client_port}" },
	{ SMFIC_HELO, "" },
	{ SMFIC_MAIL, "i {auth_type} {auth_authen} {auth_author} "
	    "{mail_addr}" },
	{ SMFIC_RCPT, "i {rcpt_addr}" },
	{ SMFIC_DATA, "i" },
	{ SMFIC_BODYEOB, "i" },
	{ SMFIC_EOH, "i" }
};

enum step {
	STEP_ERROR = -1,
	STEP_CONTINUE = 0,
	STEP_DONE,		/* the filter decided: verdict set */
	STEP_SKIP		/* no more body chunks, please */
};

enum verdict_kind {
	VERDICT_NONE = 0,
	VERDICT_ACCEPT,
	VERDICT_REJECT,
	VERDICT_TEMPFAIL,
	VERDICT_DISCARD
};

struct strbuf {
	char		*sb_buf;
	size_t		 sb_len;
	size_t		 sb_size;
};

struct macro {
	char		*m_name;	/* "i" or "{name}" */
	char		*m_value;
};

struct macros {
	struct macro	*ms_v;
	size_t		 ms_n;
};

struct options {
	const char	*o_socket;
	const char	*o_addr;
	int		 o_family;	/* SMFIA_INET or SMFIA_INET6 */
	const char	*o_name;	/* NULL: unknown */
	char		*o_helo;
	char		*o_sender;	/* "<...>"; NULL: from Return-Path */
	char		**o_rcpts;
	size_t		 o_nrcpts;
	struct macros	 o_macros;	/* -m: override every stage */
	int		 o_timeout;	/* ms */
	uint32_t	 o_version;
	int		 o_verbose;
};

struct verdict {
	enum verdict_kind v_kind;
	char		*v_reply;	/* text of a replycode */
	char		*v_quarantine;
	struct strbuf	 v_mods;	/* " +Name: value" ... */
};

struct session {
	struct milter_conn	 s_mc;
	int			 s_fd;
	const struct options	*s_opt;
	uint32_t		 s_version;
	uint32_t		 s_actions;
	uint32_t		 s_protocol;
	uint32_t		 s_nosend;	/* steps left out */
	char			*s_symlist[STAGE_MAX];
	struct macros		 s_macros;
	struct verdict		 s_conn;	/* connect or HELO decided */
	struct strbuf		 s_pkt;		/* packet being built */
	struct strbuf		 s_mac;		/* its macro packet */
	struct strbuf		 s_trace;
	const char		*s_error;
	char			 s_errbuf[256];
	int			 s_nmsgs;	/* sent on it, for -M */
};

struct message {
	const char	*msg_path;
	char		*msg_data;
	size_t		 msg_len;
	size_t		 msg_start;	/* after an mbox "From " line */
	char		*msg_sender;
};

/* One header as in the file: the value runs to the end of its last line. */
struct header {
	const char	*h_name;
	size_t		 h_namelen;
	const char	*h_value;
	size_t		 h_valuelen;
};

/* A verdict as load mode counts it: quarantine apart from accept. */
enum load_kind {
	LOAD_ERROR = VERDICT_NONE,
	LOAD_ACCEPT = VERDICT_ACCEPT,
	LOAD_REJECT = VERDICT_REJECT,
	LOAD_TEMPFAIL = VERDICT_TEMPFAIL,
	LOAD_DISCARD = VERDICT_DISCARD,
	LOAD_QUARANTINE,
	LOAD_MAX
};

struct load {
	const struct options	*l_opt;
	int			 l_conc;	/* -c: workers */
	int			 l_count;	/* -N: 0 is no bound */
	int			 l_seconds;	/* -T: 0 is no bound */
	int			 l_permconn;	/* -M: 0 is no limit */
	int			 l_quiet;	/* -q */
	int			 l_stopfd;	/* closed by the parent: stop */
	uint64_t		 l_deadline;	/* monotonic us; 0: none */
	struct message		*l_msgs;
	size_t			 l_nmsgs;
};

/* What a worker writes to the parent for each message. */
struct load_record {
	uint32_t	 lr_kind;	/* enum load_kind */
	uint32_t	 lr_pad;
	uint64_t	 lr_usec;	/* first packet to EOM reply */
};

struct load_stats {
	uint64_t	 ls_messages;
	uint64_t	 ls_counts[LOAD_MAX];
	uint64_t	*ls_lat;	/* of the messages with a verdict */
	size_t		 ls_nlat;
	size_t		 ls_size;
};

static unsigned int	 msgcount;	/* messages sent, for queue ids */
static volatile sig_atomic_t load_stop;	/* ^C in load mode */

static void	*xrealloc(void *, size_t);
static char	*xstrdup(const char *);
static char	*xstrndup(const char *, size_t);
static char	*concat(const char *, const char *, const char *);
static void	 sb_add(struct strbuf *, const void *, size_t);
static void	 sb_addstr(struct strbuf *, const char *);
static void	 sb_addesc(struct strbuf *, const char *, size_t, int);
static void	 sb_free(struct strbuf *);
static int	 macro_norm(const char *, size_t, char *, size_t);
static void	 macro_set(struct macros *, const char *, const char *);
static const char *macro_get(const struct session *, const char *);
static void	 macros_free(struct macros *);
static int	 list_next(const char **, char *, size_t);
static int	 list_has(const char *, const char *);
static int	 parse_endpoint(const char *, int *, char **, char **);
static int	 connect_timed(const struct addrinfo *, int, const char **);
static int	 client_connect(const char *, int, const char **);
static int	 header_next(const char *, size_t, size_t *, struct header *);
static char	*address_of(const char *, size_t);
static size_t	 mbox_skip(const char *, size_t);
static int	 message_load(struct message *, const char *, const char **);
static void	 message_free(struct message *);
static int	 session_fail(struct session *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
static void	 session_trace(struct session *, int, char, const void *,
		    size_t);
static int	 session_queue(struct session *, char, const void *, size_t);
static int	 session_flush(struct session *);
static int	 macros_queue(struct session *, enum stage);
static const char *cmd_show(char, char [8]);
static int	 reply_code(struct session *, const struct milter_packet *,
		    struct verdict *);
static int	 reply_string(struct session *, const char **, size_t *,
		    const char **);
static int	 reply_header(struct session *, const struct milter_packet *,
		    struct verdict *);
static int	 reply_modify(struct session *, const struct milter_packet *,
		    struct verdict *);
static int	 reply_read(struct session *, char, struct verdict *);
static int	 session_step(struct session *, enum stage, char, uint32_t,
		    uint32_t, const void *, size_t, struct verdict *);
static uint32_t	 proto_offer(uint32_t);
static int	 session_symlists(struct session *, const char *, size_t);
static int	 session_negotiate(struct session *);
static int	 session_connect_step(struct session *);
static void	 session_conn_macros(struct session *);
static int	 session_open(struct session *, const struct options *);
static void	 session_close(struct session *);
static int	 send_header(struct session *, const struct header *,
		    struct verdict *);
static int	 send_headers(struct session *, const struct message *,
		    size_t *, struct verdict *);
static int	 body_add(struct session *, const char *, size_t,
		    struct verdict *);
static int	 send_body(struct session *, const struct message *, size_t,
		    struct verdict *);
static int	 send_envelope(struct session *, const struct message *,
		    struct verdict *);
static int	 session_message(struct session *, const struct message *,
		    struct verdict *);
static void	 verdict_clear(struct verdict *);
static void	 verdict_print(const char *, const struct verdict *);
static int	 client_file(const struct options *, const char *);
static uint64_t	 now_usec(void);
static int	 load_messages(struct load *, char **, size_t);
static int	 load_stopped(const struct load *);
static void	 load_report(int, enum load_kind, uint64_t);
static enum load_kind load_kind_of(const struct verdict *);
static void	 load_one(const struct load *, struct session *, int *,
		    const struct message *, int);
static void	 load_worker(const struct load *, int, int)
		    __attribute__((__noreturn__));
static void	 load_interrupt(int);
static void	 load_spawn(struct load *, struct pollfd *, pid_t *);
static void	 stats_add(struct load_stats *, const struct load_record *);
static int	 load_read(struct pollfd *, struct load_stats *);
static void	 load_collect(struct load *, struct pollfd *,
		    struct load_stats *);
static int	 lat_cmp(const void *, const void *);
static const char *percentile(const struct load_stats *, int, char *,
		    size_t);
static void	 load_summary(struct load_stats *, uint64_t);
static int	 load_reap(pid_t *, int);
static int	 load_run(struct load *, char **, size_t);
static void	 files_add(char ***, size_t *, char *);
static int	 files_dir(const char *, char ***, size_t *);
static int	 name_cmp(const void *, const void *);
static int	 files_collect(int, char *[], char ***, size_t *);
static char	*angle(const char *);
static char	*unangle(const char *);
static int	 number(const char *, int, int, int *);
static void	 options_macro(struct options *, const char *);
static void	 options_check(struct options *, const char *);
static void	 options_free(struct options *);
static void	 usage(void) __attribute__((__noreturn__));

static void *
xrealloc(void *p, size_t size)
{
	if ((p = realloc(p, size)) == NULL)
		err(2, "realloc");
	return (p);
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		err(2, "strdup");
	return (p);
}

static char *
xstrndup(const char *s, size_t len)
{
	char	*p;

	if ((p = strndup(s, len)) == NULL)
		err(2, "strndup");
	return (p);
}

static char *
concat(const char *a, const char *b, const char *c)
{
	struct strbuf	 sb;

	memset(&sb, 0, sizeof(sb));
	sb_addstr(&sb, a);
	sb_addstr(&sb, b);
	sb_addstr(&sb, c);
	return (sb.sb_buf);
}

static void
sb_add(struct strbuf *sb, const void *data, size_t len)
{
	size_t	 nsize;

	if (len > SIZE_MAX - sb->sb_len - 1)
		errx(2, "string too long");
	if (sb->sb_len + len + 1 > sb->sb_size) {
		nsize = sb->sb_size > 0 ? sb->sb_size : 256;
		while (nsize < sb->sb_len + len + 1)
			nsize = nsize > SIZE_MAX / 2 ? sb->sb_len + len + 1 :
			    nsize * 2;
		sb->sb_buf = xrealloc(sb->sb_buf, nsize);
		sb->sb_size = nsize;
	}
	if (len > 0)
		memcpy(sb->sb_buf + sb->sb_len, data, len);
	sb->sb_len += len;
	sb->sb_buf[sb->sb_len] = '\0';	/* always printable as a string */
}

static void
sb_addstr(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

/*
 * Keeps a line a line: controls are escaped; bytes above 0x7f too when
 * raw8 is 0 (binary packets), else they stay as readable UTF-8.
 */
static void
sb_addesc(struct strbuf *sb, const char *s, size_t len, int raw8)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 esc[8];
	size_t			 i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\\')
			sb_add(sb, "\\\\", 2);
		else if (p[i] == '\n')
			sb_add(sb, "\\n", 2);
		else if (p[i] == '\r')
			sb_add(sb, "\\r", 2);
		else if (p[i] == '\t')
			sb_add(sb, "\\t", 2);
		else if (p[i] == '\0' && (i + 1 == len || p[i + 1] < '0' ||
		    p[i + 1] > '7'))
			sb_add(sb, "\\0", 2);	/* unless it reads as octal */
		else if (p[i] < 0x20 || p[i] == 0x7f || (p[i] > 0x7f && !raw8)) {
			(void)snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
			sb_addstr(sb, esc);
		} else
			sb_add(sb, p + i, 1);
	}
}

static void
sb_free(struct strbuf *sb)
{
	free(sb->sb_buf);
	memset(sb, 0, sizeof(*sb));
}

/*
 * Writes the canonical form of a macro name: one character as is, longer
 * names in braces, so "auth_authen" and "{auth_authen}" are one macro.
 */
static int
macro_norm(const char *name, size_t len, char *out, size_t outsize)
{
	if (len == 0 || len + 3 > outsize)
		return (-1);
	if (len == 1 || name[0] == '{')
		(void)snprintf(out, outsize, "%.*s", (int)len, name);
	else
		(void)snprintf(out, outsize, "{%.*s}", (int)len, name);
	return (0);
}

static void
macro_set(struct macros *ms, const char *name, const char *value)
{
	size_t	 i;

	for (i = 0; i < ms->ms_n; i++)
		if (strcmp(ms->ms_v[i].m_name, name) == 0) {
			free(ms->ms_v[i].m_value);
			ms->ms_v[i].m_value = xstrdup(value);
			return;
		}
	if (ms->ms_n >= SIZE_MAX / sizeof(*ms->ms_v) - 1)
		errx(2, "too many macros");
	ms->ms_v = xrealloc(ms->ms_v, (ms->ms_n + 1) * sizeof(*ms->ms_v));
	ms->ms_v[ms->ms_n].m_name = xstrdup(name);
	ms->ms_v[ms->ms_n].m_value = xstrdup(value);
	ms->ms_n++;
}

/* -m values win over the session's own. */
static const char *
macro_get(const struct session *s, const char *name)
{
	const struct macros	*ms[2] = { &s->s_opt->o_macros, &s->s_macros };
	size_t			 i, j;

	for (j = 0; j < 2; j++)
		for (i = 0; i < ms[j]->ms_n; i++)
			if (strcmp(ms[j]->ms_v[i].m_name, name) == 0)
				return (ms[j]->ms_v[i].m_value);
	return (NULL);
}

static void
macros_free(struct macros *ms)
{
	size_t	 i;

	for (i = 0; i < ms->ms_n; i++) {
		free(ms->ms_v[i].m_name);
		free(ms->ms_v[i].m_value);
	}
	free(ms->ms_v);
	ms->ms_v = NULL;
	ms->ms_n = 0;
}

/* Next macro name of a space or comma separated list, normalised. */
static int
list_next(const char **lp, char *out, size_t outsize)
{
	const char	*p = *lp;
	size_t		 len;

	for (;;) {
		p += strspn(p, " ,\t");
		if (*p == '\0')
			return (0);
		len = strcspn(p, " ,\t");
		*lp = p + len;
		if (macro_norm(p, len, out, outsize) == 0)
			return (1);
		p += len;		/* absurdly long: ignored */
	}
}

static int
list_has(const char *list, const char *name)
{
	char	 tok[CLIENT_NAME_MAX];

	while (list_next(&list, tok, sizeof(tok)))
		if (strcmp(tok, name) == 0)
			return (1);
	return (0);
}

/*
 * Splits inet:HOST:PORT, inet:PORT@HOST, inet6:[ADDR]:PORT, inet6:PORT@ADDR
 * and unix:/path (local:/path).  The strings are allocated.
 */
static int
parse_endpoint(const char *spec, int *family, char **host, char **port)
{
	const char	*rest, *at, *colon;

	*host = *port = NULL;
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0 ||
	    spec[0] == '/') {
		*family = AF_UNIX;
		*host = xstrdup(spec[0] == '/' ? spec : strchr(spec, ':') + 1);
		return (**host == '\0' ? -1 : 0);
	}
	if (strncmp(spec, "inet6:", 6) == 0) {
		*family = AF_INET6;
		rest = spec + 6;
	} else if (strncmp(spec, "inet:", 5) == 0) {
		*family = AF_UNSPEC;	/* an IPv6 literal may follow */
		rest = spec + 5;
	} else
		return (-1);
	if ((at = strchr(rest, '@')) != NULL) {
		*port = xstrndup(rest, at - rest);
		*host = xstrdup(at + 1);
	} else if (rest[0] == '[' && (colon = strstr(rest, "]:")) != NULL) {
		*host = xstrndup(rest + 1, colon - rest - 1);
		*port = xstrdup(colon + 2);
	} else if ((colon = strrchr(rest, ':')) != NULL) {
		*host = xstrndup(rest, colon - rest);
		*port = xstrdup(colon + 1);
	} else
		*port = xstrdup(rest);	/* a port alone: localhost */
	return (**port == '\0' ? -1 : 0);
}

/* A non-blocking connect bounded by the timeout. */
static int
connect_timed(const struct addrinfo *ai, int timeout, const char **errstr)
{
	struct pollfd	 pfd;
	socklen_t	 sl = sizeof(int);
	int		 fd, e = 0, one = 1;

	if ((fd = socket(ai->ai_family, ai->ai_socktype,
	    ai->ai_protocol)) == -1) {
		*errstr = strerror(errno);
		return (-1);
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		e = errno;
	else if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS && errno != EINTR)
			e = errno;
		else {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, timeout) <= 0)
				e = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e,
			    &sl) == -1)
				e = errno;
		}
	}
	if (e != 0) {
		*errstr = strerror(e);
		close(fd);
		return (-1);
	}
	/* Nagle would hold back the small packets of a pipelined step. */
	if (ai->ai_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	return (fd);
}

static int
client_connect(const char *spec, int timeout, const char **errstr)
{
	static char		 gaierr[128];
	struct addrinfo		 hints, *res, *ai, unx;
	struct sockaddr_un	 sun;
	char			*host, *port;
	int			 family, fd = -1, e;

	if (parse_endpoint(spec, &family, &host, &port) == -1) {
		*errstr = "bad socket specification";
		fd = -1;
	} else if (family == AF_UNIX) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(host) >= sizeof(sun.sun_path))
			*errstr = "socket path too long";
		else {
			memcpy(sun.sun_path, host, strlen(host));
			memset(&unx, 0, sizeof(unx));
			unx.ai_family = AF_UNIX;
			unx.ai_socktype = SOCK_STREAM;
			unx.ai_addr = (struct sockaddr *)&sun;
			unx.ai_addrlen = sizeof(sun);
			fd = connect_timed(&unx, timeout, errstr);
		}
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = family;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		e = getaddrinfo(host != NULL && *host != '\0' ? host :
		    (family == AF_INET6 ? "::1" : "127.0.0.1"), port, &hints,
		    &res);
		if (e != 0) {
			(void)snprintf(gaierr, sizeof(gaierr), "%s",
			    gai_strerror(e));
			*errstr = gaierr;
		} else {
			for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
				fd = connect_timed(ai, timeout, errstr);
			freeaddrinfo(res);
		}
	}
	free(host);
	free(port);
	return (fd);
}

/*
 * The next header of the header section at *off.  Returns 1 with it, or
 * 0 with *off at the body: after the empty line, or at the first line
 * that is not a header (as Postfix's MIME parser decides).
 */
static int
header_next(const char *buf, size_t len, size_t *off, struct header *h)
{
	const char	*p = buf + *off, *end = buf + len, *name, *nl, *eol;

	if (p >= end)
		return (0);
	if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
		*off += *p == '\n' ? 1 : 2;
		return (0);
	}
	for (name = p; p < end && *p > ' ' && *p < 0x7f && *p != ':'; p++)
		;
	h->h_name = name;
	h->h_namelen = p - name;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (h->h_namelen == 0 || p >= end || *p != ':')
		return (0);
	h->h_value = ++p;
	/* Continuation lines belong to the value, line breaks and all. */
	for (;;) {
		nl = memchr(p, '\n', end - p);
		eol = nl != NULL ? nl : end;
		if (eol > p && eol[-1] == '\r')
			eol--;
		h->h_valuelen = eol - h->h_value;
		p = nl != NULL ? nl + 1 : end;
		if (p >= end || (*p != ' ' && *p != '\t'))
			break;
	}
	*off = p - buf;
	return (1);
}

/* "<addr>" from a Return-Path value, or the trimmed value in brackets. */
static char *
address_of(const char *v, size_t len)
{
	const char	*lt, *gt, *end = v + len;
	struct strbuf	 sb;

	memset(&sb, 0, sizeof(sb));
	if ((lt = memchr(v, '<', len)) != NULL &&
	    (gt = memchr(lt, '>', end - lt)) != NULL) {
		sb_add(&sb, lt, gt - lt + 1);
		return (sb.sb_buf);
	}
	while (v < end && strchr(" \t\r\n", *v) != NULL)
		v++;
	while (end > v && strchr(" \t\r\n", end[-1]) != NULL)
		end--;
	sb_add(&sb, "<", 1);
	sb_add(&sb, v, end - v);
	sb_add(&sb, ">", 1);
	return (sb.sb_buf);
}

/*
 * The length of an mbox "From " separator line, which no MTA would
 * receive; "From : x" is an (obsolete) header, not a separator.
 */
static size_t
mbox_skip(const char *buf, size_t len)
{
	const char	*p = buf + 5, *nl;

	if (len < 5 || memcmp(buf, "From ", 5) != 0)
		return (0);
	while (p < buf + len && (*p == ' ' || *p == '\t'))
		p++;
	if (p < buf + len && *p == ':')
		return (0);
	nl = memchr(buf, '\n', len);
	return (nl != NULL ? (size_t)(nl - buf) + 1 : len);
}

/*
 * Reads a whole message.  Files with CR-only line ends get LF ones, so
 * that LF, CRLF and CR files all parse the same.
 */
static int
message_load(struct message *msg, const char *path, const char **errstr)
{
	struct stat	 st;
	struct header	 h;
	size_t		 off = 0, size;
	ssize_t		 n;
	int		 fd;

	memset(msg, 0, sizeof(*msg));
	msg->msg_path = path;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		*errstr = strerror(errno);
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CLIENT_MAX_FILE) {
		*errstr = S_ISREG(st.st_mode) ? "file too large" :
		    "not a regular file";
		close(fd);
		return (-1);
	}
	size = (size_t)st.st_size + 1;	/* one more byte to see growth */
	msg->msg_data = xrealloc(NULL, size);
	while (msg->msg_len < size &&
	    (n = read(fd, msg->msg_data + msg->msg_len,
	    size - msg->msg_len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*errstr = strerror(errno);
			close(fd);
			return (-1);
		}
		msg->msg_len += n;
	}
	close(fd);
	if (msg->msg_len == size) {
		*errstr = "file changed while read";
		return (-1);
	}
	if (memchr(msg->msg_data, '\n', msg->msg_len) == NULL)
		for (off = 0; off < msg->msg_len; off++)
			if (msg->msg_data[off] == '\r')
				msg->msg_data[off] = '\n';
	msg->msg_start = mbox_skip(msg->msg_data, msg->msg_len);
	off = msg->msg_start;
	while (msg->msg_sender == NULL &&
	    header_next(msg->msg_data, msg->msg_len, &off, &h))
		if (h.h_namelen == 11 &&
		    strncasecmp(h.h_name, "Return-Path", 11) == 0)
			msg->msg_sender = address_of(h.h_value, h.h_valuelen);
	return (0);
}

static void
message_free(struct message *msg)
{
	free(msg->msg_data);
	free(msg->msg_sender);
	memset(msg, 0, sizeof(*msg));
}

static int
session_fail(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->s_errbuf, sizeof(s->s_errbuf), fmt, ap);
	va_end(ap);
	s->s_error = s->s_errbuf;
	return (STEP_ERROR);
}

/* -v: one line per packet on stderr, written at once. */
static void
session_trace(struct session *s, int dir, char cmd, const void *data,
    size_t len)
{
	struct strbuf	*sb = &s->s_trace;
	char		 head[64];

	if (!s->s_opt->o_verbose)
		return;
	sb->sb_len = 0;
	(void)snprintf(head, sizeof(head), "%c ", dir);
	sb_addstr(sb, head);
	sb_addesc(sb, &cmd, 1, 0);
	(void)snprintf(head, sizeof(head), " %s %zu", milter_command_name(cmd),
	    len);
	sb_addstr(sb, head);
	if (len > 0) {
		sb_add(sb, " \"", 2);
		sb_addesc(sb, data, len > CLIENT_TRACE_MAX ? CLIENT_TRACE_MAX :
		    len, 0);
		sb_addstr(sb, len > CLIENT_TRACE_MAX ? "\"..." : "\"");
	}
	sb_add(sb, "\n", 1);
	(void)fwrite(sb->sb_buf, 1, sb->sb_len, stderr);
}

static int
session_queue(struct session *s, char cmd, const void *data, size_t len)
{
	session_trace(s, '>', cmd, data, len);
	if (milter_queue(&s->s_mc, cmd, data, len) == -1)
		return (session_fail(s, "%s", s->s_mc.mc_error));
	return (0);
}

static int
session_flush(struct session *s)
{
	if (milter_flush(&s->s_mc) == -1)
		return (session_fail(s, "write: %s", s->s_mc.mc_error));
	return (0);
}

/*
 * Queues the macros of a stage: the filter's own list for it if it sent
 * one, else Postfix's defaults plus every -m macro at MAIL.  Undefined
 * macros are left out, and so is an empty packet.
 */
static int
macros_queue(struct session *s, enum stage st)
{
	const struct macros	*um = &s->s_opt->o_macros;
	struct strbuf		*sb = &s->s_mac;
	const char		*list, *value;
	char			 name[CLIENT_NAME_MAX];
	size_t			 i, n = 0;

	list = s->s_symlist[st] != NULL ? s->s_symlist[st] :
	    stages[st].macros;
	sb->sb_len = 0;
	sb_add(sb, &stages[st].cmd, 1);
	while (list_next(&list, name, sizeof(name)))
		if ((value = macro_get(s, name)) != NULL) {
			sb_add(sb, name, strlen(name) + 1);
			sb_add(sb, value, strlen(value) + 1);
			n++;
		}
	list = stages[st].macros;
	for (i = 0; st == STAGE_MAIL && s->s_symlist[st] == NULL &&
	    i < um->ms_n; i++)
		if (!list_has(list, um->ms_v[i].m_name)) {
			sb_add(sb, um->ms_v[i].m_name,
			    strlen(um->ms_v[i].m_name) + 1);
			sb_add(sb, um->ms_v[i].m_value,
			    strlen(um->ms_v[i].m_value) + 1);
			n++;
		}
	if (n == 0)
		return (0);
	return (session_queue(s, SMFIC_MACRO, sb->sb_buf, sb->sb_len));
}

/* A command byte for a message: 'c', or \xHH when not printable. */
static const char *
cmd_show(char cmd, char buf[8])
{
	unsigned char	 c = (unsigned char)cmd;

	if (c > ' ' && c < 0x7f)
		(void)snprintf(buf, 8, "'%c'", c);
	else
		(void)snprintf(buf, 8, "\\x%02x", c);
	return (buf);
}

/* SMFIR_REPLYCODE: "4xx ..." is a tempfail, "5xx ..." a reject. */
static int
reply_code(struct session *s, const struct milter_packet *mp,
    struct verdict *v)
{
	const char	*p = mp->mp_data, *text;
	size_t		 len = mp->mp_len;

	if ((text = milter_next_string(&p, &len)) == NULL)
		return (session_fail(s, "unterminated replycode"));
	if ((text[0] != '4' && text[0] != '5') ||
	    strspn(text, "0123456789") != 3 ||
	    (text[3] != ' ' && text[3] != '-' && text[3] != '\0'))
		return (session_fail(s, "bad replycode \"%.60s\"", text));
	v->v_kind = text[0] == '4' ? VERDICT_TEMPFAIL : VERDICT_REJECT;
	free(v->v_reply);
	v->v_reply = xstrdup(text);
	return (STEP_DONE);
}

static int
reply_string(struct session *s, const char **p, size_t *len,
    const char **out)
{
	if ((*out = milter_next_string(p, len)) == NULL)
		return (session_fail(s, "malformed modification"));
	return (0);
}

/*
 * ADDHEADER, INSHEADER and CHGHEADER, summarised for the verdict line as
 * the header would read: like Postfix, the colon is followed by a space
 * unless the filter negotiated SMFIP_HDR_LEADSPC and brings its own.
 */
static int
reply_header(struct session *s, const struct milter_packet *mp,
    struct verdict *v)
{
	const char	*p = mp->mp_data, *name, *value;
	size_t		 len = mp->mp_len;
	uint32_t	 idx = 0;
	char		 ibuf[32];

	if (mp->mp_cmd != SMFIR_ADDHEADER) {
		if (len < 4)
			return (session_fail(s, "short %s",
			    milter_command_name(mp->mp_cmd)));
		idx = milter_get32(p);
		p += 4;
		len -= 4;
	}
	if (reply_string(s, &p, &len, &name) == -1 ||
	    reply_string(s, &p, &len, &value) == -1)
		return (STEP_ERROR);
	if (mp->mp_cmd == SMFIR_CHGHEADER && *value == '\0')
		sb_add(&v->v_mods, " -", 2);
	else
		sb_add(&v->v_mods, mp->mp_cmd == SMFIR_CHGHEADER ? " ~" :
		    " +", 2);
	sb_addesc(&v->v_mods, name, strlen(name), 1);
	if (mp->mp_cmd == SMFIR_CHGHEADER) {
		(void)snprintf(ibuf, sizeof(ibuf), "[%lu]", (unsigned long)idx);
		sb_addstr(&v->v_mods, ibuf);
	}
	if (mp->mp_cmd != SMFIR_CHGHEADER || *value != '\0') {
		sb_addstr(&v->v_mods, s->s_protocol & SMFIP_HDR_LEADSPC ?
		    ":" : ": ");
		sb_addesc(&v->v_mods, value, strlen(value), 1);
	}
	return (STEP_CONTINUE);
}

/*
 * A modification at end of message.  Each needs the action the filter
 * asked for at negotiation; anything else is a broken filter.
 */
static int
reply_modify(struct session *s, const struct milter_packet *mp,
    struct verdict *v)
{
	static const struct {
		char		 cmd;
		uint32_t	 action;
		const char	*prefix;
	} mods[] = {
		{ SMFIR_ADDHEADER, SMFIF_ADDHDRS, NULL },
		{ SMFIR_INSHEADER, SMFIF_ADDHDRS, NULL },
		{ SMFIR_CHGHEADER, SMFIF_CHGHDRS, NULL },
		{ SMFIR_QUARANTINE, SMFIF_QUARANTINE, NULL },
		{ SMFIR_REPLBODY, SMFIF_CHGBODY, NULL },
		{ SMFIR_ADDRCPT, SMFIF_ADDRCPT, " +rcpt " },
		{ SMFIR_ADDRCPT_PAR, SMFIF_ADDRCPT_PAR, " +rcpt " },
		{ SMFIR_DELRCPT, SMFIF_DELRCPT, " -rcpt " },
		{ SMFIR_CHGFROM, SMFIF_CHGFROM, " from " }
	};
	const char	*p = mp->mp_data, *arg;
	size_t		 i, len = mp->mp_len;
	char		 buf[8];

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
		if (mods[i].cmd == mp->mp_cmd)
			break;
	if (i == sizeof(mods) / sizeof(mods[0]))
		return (session_fail(s, "unexpected reply %s at eom",
		    cmd_show(mp->mp_cmd, buf)));
	if ((s->s_actions & mods[i].action) == 0)
		return (session_fail(s, "%s without its action negotiated",
		    milter_command_name(mp->mp_cmd)));
	if (mods[i].prefix == NULL && mp->mp_cmd != SMFIR_QUARANTINE) {
		if (mp->mp_cmd != SMFIR_REPLBODY)
			return (reply_header(s, mp, v));
		sb_addstr(&v->v_mods, " body");	/* once per chunk */
		return (STEP_CONTINUE);
	}
	if (reply_string(s, &p, &len, &arg) == -1)
		return (STEP_ERROR);
	if (mp->mp_cmd == SMFIR_QUARANTINE) {
		free(v->v_quarantine);
		v->v_quarantine = xstrdup(arg);
		return (STEP_CONTINUE);
	}
	sb_addstr(&v->v_mods, mods[i].prefix);
	sb_addesc(&v->v_mods, arg, strlen(arg), 1);
	/* ESMTP arguments, when given, follow the address. */
	while (len > 0) {
		if (reply_string(s, &p, &len, &arg) == -1)
			return (STEP_ERROR);
		if (*arg == '\0')
			continue;
		sb_add(&v->v_mods, " ", 1);
		sb_addesc(&v->v_mods, arg, strlen(arg), 1);
	}
	return (STEP_CONTINUE);
}

/* Reads until the filter answers the step it was sent. */
static int
reply_read(struct session *s, char cmd, struct verdict *v)
{
	struct milter_packet	 mp;
	char			 buf[8];
	int			 r;

	for (;;) {
		if ((r = milter_read_packet(&s->s_mc, &mp)) != MILTER_OK)
			return (session_fail(s, "%s: %s",
			    milter_command_name(cmd), r == MILTER_EOF ?
			    "connection closed by filter" :
			    s->s_mc.mc_error));
		session_trace(s, '<', mp.mp_cmd, mp.mp_data, mp.mp_len);
		if (mp.mp_cmd != '\0' && strchr("acrtdps", mp.mp_cmd) != NULL &&
		    mp.mp_len != 0)
			return (session_fail(s, "%s with %zu data bytes",
			    milter_command_name(mp.mp_cmd), mp.mp_len));
		switch (mp.mp_cmd) {
		case SMFIR_PROGRESS:
			continue;
		case SMFIR_CONTINUE:
			/* At end of message, continue means accept. */
			if (cmd != SMFIC_BODYEOB)
				return (STEP_CONTINUE);
			/* FALLTHROUGH */
		case SMFIR_ACCEPT:
			v->v_kind = VERDICT_ACCEPT;
			return (STEP_DONE);
		case SMFIR_REJECT:
			v->v_kind = VERDICT_REJECT;
			return (STEP_DONE);
		case SMFIR_TEMPFAIL:
			v->v_kind = VERDICT_TEMPFAIL;
			return (STEP_DONE);
		case SMFIR_DISCARD:
			v->v_kind = VERDICT_DISCARD;
			return (STEP_DONE);
		case SMFIR_REPLYCODE:
			return (reply_code(s, &mp, v));
		case SMFIR_SKIP:
			if (cmd != SMFIC_BODY)
				return (session_fail(s, "skip after %s",
				    milter_command_name(cmd)));
			return (STEP_SKIP);
		}
		if (cmd != SMFIC_BODYEOB)
			return (session_fail(s, "unexpected reply %s to %s",
			    cmd_show(mp.mp_cmd, buf),
			    milter_command_name(cmd)));
		if ((r = reply_modify(s, &mp, v)) != STEP_CONTINUE)
			return (r);
	}
}

/*
 * One protocol step: the stage's macros, then the command.  A step the
 * filter turned off is not sent; a reply is awaited unless the filter
 * promised none, and pipelined packets are written in large batches.
 */
static int
session_step(struct session *s, enum stage st, char cmd, uint32_t off,
    uint32_t noreply, const void *data, size_t len, struct verdict *v)
{
	if (s->s_nosend & off)
		return (STEP_CONTINUE);
	if (st != STAGE_NONE && macros_queue(s, st) == -1)
		return (STEP_ERROR);
	if (session_queue(s, cmd, data, len) == -1)
		return (STEP_ERROR);
	if (s->s_protocol & noreply) {
		if (s->s_mc.mc_wlen >= CLIENT_FLUSH_AT &&
		    session_flush(s) == -1)
			return (STEP_ERROR);
		return (STEP_CONTINUE);
	}
	if (session_flush(s) == -1)
		return (STEP_ERROR);
	return (reply_read(s, cmd, v));
}

/* What Postfix offers at each protocol version. */
static uint32_t
proto_offer(uint32_t version)
{
	if (version >= 6)
		return (PROTO_V6);
	if (version >= 4)
		return (PROTO_V4);
	if (version == 3)
		return (PROTO_V3);
	return (PROTO_V2);
}

/* The macro lists a filter may append to its OPTNEG (SMFIF_SETSYMLIST). */
static int
session_symlists(struct session *s, const char *p, size_t len)
{
	const char	*list;
	uint32_t	 st;

	while (len > 0) {
		if (len < 4)
			return (session_fail(s, "malformed macro list"));
		st = milter_get32(p);
		p += 4;
		len -= 4;
		if ((list = milter_next_string(&p, &len)) == NULL)
			return (session_fail(s, "malformed macro list"));
		if (st < STAGE_MAX) {
			free(s->s_symlist[st]);
			s->s_symlist[st] = xstrdup(list);
		}
	}
	return (0);
}

static int
session_negotiate(struct session *s)
{
	const struct options	*o = s->s_opt;
	struct milter_packet	 mp;
	unsigned char		 buf[12];
	uint32_t		 offer = proto_offer(o->o_version);
	int			 r;

	milter_optneg_encode(buf, o->o_version, CLIENT_ACTIONS, offer);
	if (session_queue(s, SMFIC_OPTNEG, buf, sizeof(buf)) == -1 ||
	    session_flush(s) == -1)
		return (-1);
	if ((r = milter_read_packet(&s->s_mc, &mp)) != MILTER_OK)
		return (session_fail(s, "optneg: %s", r == MILTER_EOF ?
		    "connection closed by filter" : s->s_mc.mc_error));
	session_trace(s, '<', mp.mp_cmd, mp.mp_data, mp.mp_len);
	if (mp.mp_cmd != SMFIC_OPTNEG ||
	    milter_optneg_decode(mp.mp_data, mp.mp_len, &s->s_version,
	    &s->s_actions, &s->s_protocol) == -1)
		return (session_fail(s, "bad optneg reply"));
	if (o->o_verbose)
		fprintf(stderr, "  version %lu actions 0x%lx protocol 0x%lx\n",
		    (unsigned long)s->s_version, (unsigned long)s->s_actions,
		    (unsigned long)s->s_protocol);
	if (s->s_version < MILTER_VERSION_MIN || s->s_version > o->o_version)
		return (session_fail(s, "filter protocol version %lu",
		    (unsigned long)s->s_version));
	if ((s->s_actions & ~CLIENT_ACTIONS) != 0)
		return (session_fail(s, "filter actions 0x%lx not offered",
		    (unsigned long)s->s_actions));
	/* Steps the filter declined, and those its version lacks. */
	s->s_nosend = (s->s_protocol & NOSEND_MASK) | (NOSEND_MASK & ~offer) |
	    (NOSEND_MASK & ~proto_offer(s->s_version));
	return (session_symlists(s, mp.mp_data + 12, mp.mp_len - 12));
}

/* CONNECT and HELO; a verdict here holds for the whole connection. */
static int
session_connect_step(struct session *s)
{
	const struct options	*o = s->s_opt;
	struct strbuf		*sb = &s->s_pkt;
	unsigned char		 port[2] = { CLIENT_PORT >> 8,
				    CLIENT_PORT & 0xff };
	char			 family = o->o_family;
	int			 r;

	/* As Postfix: the name, or the address in brackets when unknown. */
	sb->sb_len = 0;
	if (o->o_name != NULL)
		sb_addstr(sb, o->o_name);
	else {
		sb_add(sb, "[", 1);
		sb_addstr(sb, o->o_addr);
		sb_add(sb, "]", 1);
	}
	sb_add(sb, "", 1);
	sb_add(sb, &family, 1);
	sb_add(sb, port, 2);
	sb_add(sb, o->o_addr, strlen(o->o_addr) + 1);
	r = session_step(s, STAGE_CONNECT, SMFIC_CONNECT, SMFIP_NOCONNECT,
	    SMFIP_NR_CONN, sb->sb_buf, sb->sb_len, &s->s_conn);
	if (r != STEP_CONTINUE)
		return (r);
	return (session_step(s, STAGE_HELO, SMFIC_HELO, SMFIP_NOHELO,
	    SMFIP_NR_HELO, o->o_helo, strlen(o->o_helo) + 1, &s->s_conn));
}

/* The connection's macros, as Postfix defines them. */
static void
session_conn_macros(struct session *s)
{
	const struct options	*o = s->s_opt;
	const char		*name = o->o_name != NULL ? o->o_name :
				    "unknown";
	char			 host[256], port[16];
	struct strbuf		 us;

	if (gethostname(host, sizeof(host)) == -1)
		(void)snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(port, sizeof(port), "%d", CLIENT_PORT);
	macro_set(&s->s_macros, "j", host);
	macro_set(&s->s_macros, "{daemon_name}", "phishmilter-client");
	macro_set(&s->s_macros, "v", CLIENT_VERSION);
	memset(&us, 0, sizeof(us));
	sb_addstr(&us, name);
	sb_addstr(&us, " [");
	sb_addstr(&us, o->o_addr);
	sb_addstr(&us, "]");
	macro_set(&s->s_macros, "_", us.sb_buf);
	sb_free(&us);
	macro_set(&s->s_macros, "{client_addr}", o->o_addr);
	macro_set(&s->s_macros, "{client_name}", name);
	macro_set(&s->s_macros, "{client_port}", port);
}

/* Connects, negotiates and sends CONNECT and HELO. */
static int
session_open(struct session *s, const struct options *o)
{
	const char	*errstr;

	memset(s, 0, sizeof(*s));
	s->s_opt = o;
	if ((s->s_fd = client_connect(o->o_socket, o->o_timeout,
	    &errstr)) == -1)
		return (session_fail(s, "connect: %s", errstr));
	if (milter_conn_init(&s->s_mc, s->s_fd, o->o_timeout,
	    MILTER_MAX_PACKET) == -1)
		err(2, "milter_conn_init");
	if (session_negotiate(s) == -1)
		return (-1);
	session_conn_macros(s);
	return (session_connect_step(s) == STEP_ERROR ? -1 : 0);
}

static void
session_close(struct session *s)
{
	size_t	 i;

	if (s->s_fd != -1 && s->s_mc.mc_rbuf != NULL) {
		/* The verdict is in: a filter that hung up early is fine. */
		if (session_queue(s, SMFIC_QUIT, NULL, 0) == 0)
			(void)milter_flush(&s->s_mc);
	}
	milter_conn_free(&s->s_mc);
	if (s->s_fd != -1)
		close(s->s_fd);
	s->s_fd = -1;
	for (i = 0; i < STAGE_MAX; i++)
		free(s->s_symlist[i]);
	macros_free(&s->s_macros);
	verdict_clear(&s->s_conn);
	sb_free(&s->s_pkt);
	sb_free(&s->s_mac);
	sb_free(&s->s_trace);
}

/*
 * One header, as Postfix sends it: the name without the colon; the value
 * without the one space Sendmail eats after the colon unless the filter
 * asked for SMFIP_HDR_LEADSPC; folded lines joined by a bare "\n" whatever
 * the file's line ends, since that is how both MTAs pass a folded value.
 */
static int
send_header(struct session *s, const struct header *h, struct verdict *v)
{
	struct strbuf	*sb = &s->s_pkt;
	const char	*p = h->h_value, *end = h->h_value + h->h_valuelen;
	const char	*cr;

	sb->sb_len = 0;
	sb_add(sb, h->h_name, h->h_namelen);
	sb_add(sb, "", 1);
	if ((s->s_protocol & SMFIP_HDR_LEADSPC) == 0 && p < end && *p == ' ')
		p++;
	while (p < end) {
		cr = memchr(p, '\r', end - p);
		if (cr == NULL || cr + 1 >= end || cr[1] != '\n') {
			sb_add(sb, p, (cr != NULL ? cr + 1 : end) - p);
			p = cr != NULL ? cr + 1 : end;
			continue;
		}
		sb_add(sb, p, cr - p);	/* CRLF between lines: LF */
		p = cr + 1;
	}
	sb_add(sb, "", 1);
	return (session_step(s, STAGE_NONE, SMFIC_HEADER, SMFIP_NOHDRS,
	    SMFIP_NR_HDR, sb->sb_buf, sb->sb_len, v));
}

/* Sends the header section; *off is left at the start of the body. */
static int
send_headers(struct session *s, const struct message *msg, size_t *off,
    struct verdict *v)
{
	struct header	 h;
	int		 r;

	*off = msg->msg_start;
	while (header_next(msg->msg_data, msg->msg_len, off, &h))
		if ((r = send_header(s, &h, v)) != STEP_CONTINUE)
			return (r);
	return (session_step(s, STAGE_EOH, SMFIC_EOH, SMFIP_NOEOH,
	    SMFIP_NR_EOH, NULL, 0, v));
}

/* Adds body bytes to the chunk being built; a full chunk is sent. */
static int
body_add(struct session *s, const char *data, size_t len, struct verdict *v)
{
	struct strbuf	*sb = &s->s_pkt;
	size_t		 n;
	int		 r;

	while (len > 0) {
		n = MILTER_CHUNK_SIZE - sb->sb_len;
		n = n < len ? n : len;
		sb_add(sb, data, n);
		data += n;
		len -= n;
		if (sb->sb_len < MILTER_CHUNK_SIZE)
			break;
		r = session_step(s, STAGE_NONE, SMFIC_BODY, SMFIP_NOBODY,
		    SMFIP_NR_BODY, sb->sb_buf, sb->sb_len, v);
		sb->sb_len = 0;
		if (r != STEP_CONTINUE)
			return (r);
	}
	return (STEP_CONTINUE);
}

/* The body in chunks of at most 64 KiB, every line ending in CRLF. */
static int
send_body(struct session *s, const struct message *msg, size_t off,
    struct verdict *v)
{
	const char	*p = msg->msg_data + off, *end = msg->msg_data +
			    msg->msg_len, *nl, *eol;
	int		 r = STEP_CONTINUE;

	if (s->s_nosend & SMFIP_NOBODY)
		return (STEP_CONTINUE);
	s->s_pkt.sb_len = 0;
	while (p < end && r == STEP_CONTINUE) {
		nl = memchr(p, '\n', end - p);
		eol = nl != NULL ? nl : end;
		if (eol > p && eol[-1] == '\r')
			eol--;
		if ((r = body_add(s, p, eol - p, v)) == STEP_CONTINUE)
			r = body_add(s, "\r\n", 2, v);
		p = nl != NULL ? nl + 1 : end;
	}
	if (r == STEP_CONTINUE && s->s_pkt.sb_len > 0)
		r = session_step(s, STAGE_NONE, SMFIC_BODY, SMFIP_NOBODY,
		    SMFIP_NR_BODY, s->s_pkt.sb_buf, s->s_pkt.sb_len, v);
	return (r == STEP_SKIP ? STEP_CONTINUE : r);
}

/* MAIL, each RCPT and DATA, with their macros. */
static int
send_envelope(struct session *s, const struct message *msg,
    struct verdict *v)
{
	const struct options	*o = s->s_opt;
	const char		*sender;
	char			 qid[32], *bare;
	size_t			 i;
	int			 r;

	sender = o->o_sender != NULL ? o->o_sender :
	    msg->msg_sender != NULL ? msg->msg_sender : "<>";
	/* Unique in this run, Postfix-like: the filter logs by it. */
	(void)snprintf(qid, sizeof(qid), "%05lX%05X",
	    (unsigned long)getpid() & 0xfffff, ++msgcount & 0xfffff);
	macro_set(&s->s_macros, "i", qid);
	bare = unangle(sender);
	macro_set(&s->s_macros, "{mail_addr}", bare);
	free(bare);
	r = session_step(s, STAGE_MAIL, SMFIC_MAIL, SMFIP_NOMAIL,
	    SMFIP_NR_MAIL, sender, strlen(sender) + 1, v);
	for (i = 0; r == STEP_CONTINUE && i < o->o_nrcpts; i++) {
		bare = unangle(o->o_rcpts[i]);
		macro_set(&s->s_macros, "{rcpt_addr}", bare);
		free(bare);
		r = session_step(s, STAGE_RCPT, SMFIC_RCPT, SMFIP_NORCPT,
		    SMFIP_NR_RCPT, o->o_rcpts[i], strlen(o->o_rcpts[i]) + 1,
		    v);
	}
	if (r == STEP_CONTINUE)
		r = session_step(s, STAGE_DATA, SMFIC_DATA, SMFIP_NODATA,
		    SMFIP_NR_DATA, NULL, 0, v);
	return (r);
}

/*
 * Sends one message on an open, negotiated session and fills in the
 * verdict.  A message the filter decides before its end is aborted, so
 * the session can carry the next one.  Returns 0, or -1 when the session
 * is broken (s_error says why).
 */
static int
session_message(struct session *s, const struct message *msg,
    struct verdict *v)
{
	size_t	 off = 0;
	int	 r;

	memset(v, 0, sizeof(*v));
	if (s->s_conn.v_kind != VERDICT_NONE) {
		v->v_kind = s->s_conn.v_kind;
		if (s->s_conn.v_reply != NULL)
			v->v_reply = xstrdup(s->s_conn.v_reply);
		return (0);
	}
	r = send_envelope(s, msg, v);
	if (r == STEP_CONTINUE)
		r = send_headers(s, msg, &off, v);
	if (r == STEP_CONTINUE)
		r = send_body(s, msg, off, v);
	if (r == STEP_CONTINUE) {
		r = session_step(s, STAGE_EOM, SMFIC_BODYEOB, 0, 0, NULL, 0, v);
		if (r == STEP_DONE)
			return (0);
		if (r == STEP_CONTINUE)
			r = session_fail(s, "no verdict at eom");
	}
	if (r == STEP_ERROR)
		return (-1);
	return (session_queue(s, SMFIC_ABORT, NULL, 0) == -1 ? -1 : 0);
}

static void
verdict_clear(struct verdict *v)
{
	free(v->v_reply);
	free(v->v_quarantine);
	sb_free(&v->v_mods);
	memset(v, 0, sizeof(*v));
}

/* FILE: VERDICT DETAIL, one line whatever the filter sent. */
static void
verdict_print(const char *path, const struct verdict *v)
{
	static const char	*kinds[] = { "error", "accept", "reject",
				    "tempfail", "discard" };
	struct strbuf		 sb;

	memset(&sb, 0, sizeof(sb));
	sb_addstr(&sb, path);
	sb_add(&sb, ": ", 2);
	if (v->v_kind == VERDICT_ACCEPT && v->v_quarantine != NULL) {
		sb_addstr(&sb, "quarantine ");
		sb_addesc(&sb, v->v_quarantine, strlen(v->v_quarantine), 1);
	} else
		sb_addstr(&sb, kinds[v->v_kind]);
	if (v->v_reply != NULL) {
		sb_add(&sb, " ", 1);
		sb_addesc(&sb, v->v_reply, strlen(v->v_reply), 1);
	}
	if (v->v_kind == VERDICT_ACCEPT && v->v_mods.sb_len > 0)
		sb_add(&sb, v->v_mods.sb_buf, v->v_mods.sb_len);
	sb_add(&sb, "\n", 1);
	(void)fwrite(sb.sb_buf, 1, sb.sb_len, stdout);
	(void)fflush(stdout);
	sb_free(&sb);
}

/* One file, one connection.  Returns 0, or -1 after printing an error. */
static int
client_file(const struct options *o, const char *path)
{
	struct message	 msg;
	struct session	 s;
	struct verdict	 v;
	const char	*errstr = NULL;
	int		 rv = -1;

	memset(&v, 0, sizeof(v));
	if (message_load(&msg, path, &errstr) == -1) {
		printf("%s: error %s\n", path, errstr);
		message_free(&msg);
		return (-1);
	}
	if (session_open(&s, o) == 0 && session_message(&s, &msg, &v) == 0) {
		verdict_print(path, &v);
		rv = 0;
	} else
		printf("%s: error %s\n", path, s.s_error != NULL ?
		    s.s_error : "unknown");
	(void)fflush(stdout);
	session_close(&s);
	verdict_clear(&v);
	message_free(&msg);
	return (rv);
}

/*
 * Load mode (-c, -N, -T, -M, -q): workers forked by the parent each run
 * their own connections and send one fixed record per message back over
 * a pipe; the parent only counts and sorts.  Message j of the run is file
 * j modulo the number of files, worker i sends messages i, i + c, ..., so
 * a bounded run replays the files round-robin whatever the concurrency.
 */
static uint64_t
now_usec(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(2, "clock_gettime");
	return ((uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* Every file read once into memory; the unreadable ones are reported. */
static int
load_messages(struct load *l, char **files, size_t nfiles)
{
	const char	*errstr = NULL;
	size_t		 i;
	int		 errors = 0;

	l->l_msgs = xrealloc(NULL, (nfiles > 0 ? nfiles : 1) *
	    sizeof(*l->l_msgs));
	for (i = 0; i < nfiles; i++) {
		if (message_load(&l->l_msgs[l->l_nmsgs], files[i],
		    &errstr) == -1) {
			warnx("%s: %s", files[i], errstr);
			message_free(&l->l_msgs[l->l_nmsgs]);
			errors++;
		} else
			l->l_nmsgs++;
	}
	return (errors);
}

/* The parent closed the stop pipe (interrupted, or gone). */
static int
load_stopped(const struct load *l)
{
	struct pollfd	 pfd;

	pfd.fd = l->l_stopfd;
	pfd.events = POLLIN;
	return (poll(&pfd, 1, 0) != 0);
}

static void
load_report(int fd, enum load_kind kind, uint64_t usec)
{
	struct load_record	 lr;

	memset(&lr, 0, sizeof(lr));
	lr.lr_kind = kind;
	lr.lr_usec = usec;
	/* One write under PIPE_BUF: never split. */
	if (write(fd, &lr, sizeof(lr)) != (ssize_t)sizeof(lr))
		err(2, "write to parent");
}

static enum load_kind
load_kind_of(const struct verdict *v)
{
	if (v->v_kind == VERDICT_ACCEPT && v->v_quarantine != NULL)
		return (LOAD_QUARANTINE);
	return ((enum load_kind)v->v_kind);
}

/*
 * One message on the worker's session, opened first when needed.  The
 * latency runs from the message's first packet to the end-of-message
 * reply: connecting and negotiating are left out.
 */
static void
load_one(const struct load *l, struct session *s, int *isopen,
    const struct message *msg, int fd)
{
	struct verdict	 v;
	uint64_t	 t0;
	int		 r;

	if (!*isopen && session_open(s, l->l_opt) == -1) {
		if (!l->l_quiet)
			printf("%s: error %s\n", msg->msg_path, s->s_error);
		(void)fflush(stdout);
		session_close(s);
		load_report(fd, LOAD_ERROR, 0);
		(void)poll(NULL, 0, 10);	/* no spinning on a dead peer */
		return;
	}
	*isopen = 1;
	t0 = now_usec();
	r = session_message(s, msg, &v);
	if (r == 0 && !l->l_quiet)
		verdict_print(msg->msg_path, &v);
	else if (r == -1 && !l->l_quiet)
		printf("%s: error %s\n", msg->msg_path, s->s_error);
	(void)fflush(stdout);
	load_report(fd, r == 0 ? load_kind_of(&v) : LOAD_ERROR,
	    now_usec() - t0);
	verdict_clear(&v);
	/* Broken, used up, or refused at CONNECT: the next one reconnects. */
	if (r == -1 || ++s->s_nmsgs == l->l_permconn ||
	    s->s_conn.v_kind != VERDICT_NONE) {
		session_close(s);
		*isopen = 0;
	}
}

/* A worker: messages id, id + c, ... until its share, the time or a stop. */
static void
load_worker(const struct load *l, int id, int fd)
{
	struct session	 s;
	uint64_t	 seq, share = 0, k;
	int		 isopen = 0;

	if (l->l_count > 0)
		share = l->l_count / l->l_conc +
		    (id < l->l_count % l->l_conc ? 1 : 0);
	for (k = 0, seq = id; l->l_count == 0 || k < share;
	    k++, seq += l->l_conc) {
		if (load_stopped(l) || (l->l_deadline != 0 &&
		    now_usec() >= l->l_deadline))
			break;
		load_one(l, &s, &isopen, &l->l_msgs[seq % l->l_nmsgs], fd);
	}
	if (isopen)
		session_close(&s);
	(void)fflush(stdout);
	_exit(0);
}

static void
load_interrupt(int sig)
{
	(void)sig;
	load_stop = 1;
}

/* Forks the workers; the parent keeps the read ends of their pipes. */
static void
load_spawn(struct load *l, struct pollfd *pfds, pid_t *pids)
{
	int	 stop[2], res[2], i, j;

	if (pipe(stop) == -1)
		err(2, "pipe");
	l->l_stopfd = stop[0];
	(void)fflush(stdout);
	for (i = 0; i < l->l_conc; i++) {
		if (pipe(res) == -1)
			err(2, "pipe");
		if ((pids[i] = fork()) == -1)
			err(2, "fork");
		if (pids[i] == 0) {
			close(stop[1]);
			close(res[0]);
			for (j = 0; j < i; j++)
				close(pfds[j].fd);
			load_worker(l, i, res[1]);
		}
		close(res[1]);
		pfds[i].fd = res[0];
		pfds[i].events = POLLIN;
	}
	close(stop[0]);
	l->l_stopfd = stop[1];
}

static void
stats_add(struct load_stats *st, const struct load_record *lr)
{
	if (lr->lr_kind >= LOAD_MAX) {
		warnx("bad record from a worker");
		return;
	}
	st->ls_messages++;
	st->ls_counts[lr->lr_kind]++;
	if (lr->lr_kind == LOAD_ERROR)
		return;
	if (st->ls_nlat == st->ls_size) {
		if (st->ls_size > SIZE_MAX / 2 / sizeof(*st->ls_lat))
			errx(2, "too many messages");
		st->ls_size = st->ls_size > 0 ? st->ls_size * 2 : 1024;
		st->ls_lat = xrealloc(st->ls_lat, st->ls_size *
		    sizeof(*st->ls_lat));
	}
	st->ls_lat[st->ls_nlat++] = lr->lr_usec;
}

/* Reads one worker's pipe; returns 0 at its end. */
static int
load_read(struct pollfd *pfd, struct load_stats *st)
{
	struct load_record	 lr[64];
	ssize_t			 n;
	size_t			 i;

	n = read(pfd->fd, lr, sizeof(lr));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return (1);
	if (n == -1)
		warn("read from worker");
	if (n <= 0) {
		close(pfd->fd);
		pfd->fd = -1;
		return (0);
	}
	/* Records are written whole and read in whole multiples. */
	if (n % sizeof(*lr) != 0)
		warnx("short record from a worker");
	for (i = 0; i < (size_t)n / sizeof(*lr); i++)
		stats_add(st, &lr[i]);
	return (1);
}

/* Collects records until every worker has closed its pipe. */
static void
load_collect(struct load *l, struct pollfd *pfds, struct load_stats *st)
{
	int	 i, open = l->l_conc;

	while (open > 0) {
		if (load_stop && l->l_stopfd != -1) {
			/* Workers see it between messages. */
			close(l->l_stopfd);
			l->l_stopfd = -1;
		}
		if (poll(pfds, l->l_conc, -1) == -1) {
			if (errno == EINTR)
				continue;
			err(2, "poll");
		}
		for (i = 0; i < l->l_conc; i++)
			if (pfds[i].fd != -1 && pfds[i].revents != 0 &&
			    load_read(&pfds[i], st) == 0)
				open--;
	}
}

static int
lat_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* The nearest-rank percentile, in ms, written into buf. */
static const char *
percentile(const struct load_stats *st, int pct, char *buf, size_t size)
{
	size_t	 rank;

	if (st->ls_nlat == 0) {
		(void)snprintf(buf, size, "-");
		return (buf);
	}
	rank = (st->ls_nlat * pct + 99) / 100;
	rank = rank > 0 ? rank - 1 : 0;
	(void)snprintf(buf, size, "%.3f", st->ls_lat[rank] / 1000.0);
	return (buf);
}

static void
load_summary(struct load_stats *st, uint64_t usec)
{
	static const char	*names[LOAD_MAX] = { "error", "accept",
				    "reject", "tempfail", "discard",
				    "quarantine" };
	char			 p[4][32];
	double			 secs = usec / 1e6, rate;
	int			 i;

	/* No verdict at all leaves no array: qsort() wants one. */
	if (st->ls_nlat > 0)
		qsort(st->ls_lat, st->ls_nlat, sizeof(*st->ls_lat), lat_cmp);
	rate = secs > 0 ? (st->ls_messages - st->ls_counts[LOAD_ERROR]) /
	    secs : 0;
	printf("messages %llu, errors %llu, %.3f s, %.1f msgs/s\n",
	    (unsigned long long)st->ls_messages,
	    (unsigned long long)st->ls_counts[LOAD_ERROR], secs, rate);
	printf("verdicts");
	for (i = 1; i < LOAD_MAX; i++)
		printf(" %s %llu", names[i],
		    (unsigned long long)st->ls_counts[i]);
	printf("\nlatency ms p50 %s p90 %s p99 %s max %s\n",
	    percentile(st, 50, p[0], sizeof(p[0])),
	    percentile(st, 90, p[1], sizeof(p[1])),
	    percentile(st, 99, p[2], sizeof(p[2])),
	    percentile(st, 100, p[3], sizeof(p[3])));
	printf("summary messages=%llu errors=%llu",
	    (unsigned long long)st->ls_messages,
	    (unsigned long long)st->ls_counts[LOAD_ERROR]);
	for (i = 1; i < LOAD_MAX; i++)
		printf(" %s=%llu", names[i],
		    (unsigned long long)st->ls_counts[i]);
	printf(" elapsed_s=%.3f msgs_per_s=%.1f p50_ms=%s p90_ms=%s "
	    "p99_ms=%s max_ms=%s\n", secs, rate, p[0], p[1], p[2], p[3]);
	(void)fflush(stdout);
}

/* Waits for the workers; one that did not exit 0 makes the run fail. */
static int
load_reap(pid_t *pids, int n)
{
	int	 i, status, bad = 0;

	for (i = 0; i < n; i++) {
		while (waitpid(pids[i], &status, 0) == -1)
			if (errno != EINTR)
				err(2, "waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			warnx("worker %d failed", i);
			bad++;
		}
	}
	return (bad);
}

/* The whole load run; returns the exit status. */
static int
load_run(struct load *l, char **files, size_t nfiles)
{
	struct load_stats	 st;
	struct sigaction	 sa;
	struct pollfd		*pfds;
	pid_t			*pids;
	uint64_t		 start;
	size_t			 i;
	int			 bad;

	bad = load_messages(l, files, nfiles);
	if (l->l_nmsgs == 0)
		errx(2, "no message to send");
	if (l->l_count == 0 && l->l_seconds == 0)
		l->l_count = l->l_nmsgs;	/* each file once */
	memset(&st, 0, sizeof(st));
	pfds = xrealloc(NULL, l->l_conc * sizeof(*pfds));
	pids = xrealloc(NULL, l->l_conc * sizeof(*pids));
	/* Workers leave ^C to the parent, which stops them cleanly. */
	if (signal(SIGINT, SIG_IGN) == SIG_ERR)
		err(2, "signal");
	start = now_usec();
	if (l->l_seconds > 0)
		l->l_deadline = start + (uint64_t)l->l_seconds * 1000000;
	load_spawn(l, pfds, pids);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = load_interrupt;
	if (sigemptyset(&sa.sa_mask) == -1 || sigaction(SIGINT, &sa,
	    NULL) == -1)
		err(2, "sigaction");
	load_collect(l, pfds, &st);
	bad += load_reap(pids, l->l_conc);
	load_summary(&st, now_usec() - start);
	if (l->l_stopfd != -1)
		close(l->l_stopfd);
	for (i = 0; i < l->l_nmsgs; i++)
		message_free(&l->l_msgs[i]);
	free(l->l_msgs);
	free(st.ls_lat);
	free(pfds);
	free(pids);
	return (bad > 0 || st.ls_counts[LOAD_ERROR] > 0 ? 2 : 0);
}

static void
files_add(char ***files, size_t *n, char *path)
{
	if (*n >= SIZE_MAX / sizeof(**files) - 1)
		errx(2, "too many files");
	*files = xrealloc(*files, (*n + 1) * sizeof(**files));
	(*files)[(*n)++] = path;
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Every regular file of a directory, sorted, hidden ones left out. */
static int
files_dir(const char *dir, char ***files, size_t *n)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		*path;
	size_t		 first = *n;

	if ((d = opendir(dir)) == NULL)
		return (-1);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path = concat(dir, "/", de->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			files_add(files, n, path);
		else
			free(path);
	}
	if (errno != 0) {
		closedir(d);
		return (-1);
	}
	closedir(d);
	qsort(*files + first, *n - first, sizeof(**files), name_cmp);
	return (0);
}

/* The files named, directories expanded; returns how many were bad. */
static int
files_collect(int argc, char *argv[], char ***files, size_t *n)
{
	struct stat	 st;
	int		 i, errors = 0;

	for (i = 0; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (files_dir(argv[i], files, n) == -1) {
				printf("%s: error %s\n", argv[i],
				    strerror(errno));
				errors++;
			}
		} else
			files_add(files, n, xstrdup(argv[i]));
	}
	return (errors);
}

/* An address in angle brackets, as MAIL and RCPT carry it. */
static char *
angle(const char *addr)
{
	size_t	 len = strlen(addr);

	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>')
		return (xstrdup(addr));
	return (concat("<", addr, ">"));
}

/* The address of "<addr>", as {mail_addr} and {rcpt_addr} carry it. */
static char *
unangle(const char *addr)
{
	size_t	 len = strlen(addr);

	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>')
		return (xstrndup(addr + 1, len - 2));
	return (xstrdup(addr));
}

static int
number(const char *s, int min, int max, int *out)
{
	char	*end;
	long	 l;

	errno = 0;
	l = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || l < min || l > max)
		return (-1);
	*out = (int)l;
	return (0);
}

static void
options_macro(struct options *o, const char *arg)
{
	const char	*eq;
	char		 name[CLIENT_NAME_MAX];

	if ((eq = strchr(arg, '=')) == NULL ||
	    macro_norm(arg, eq - arg, name, sizeof(name)) == -1) {
		warnx("bad macro: %s", arg);
		usage();
	}
	macro_set(&o->o_macros, name, eq + 1);
}

/* Checks what getopt left to check, and fills in the defaults. */
static void
options_check(struct options *o, const char *helo)
{
	struct in6_addr	 a6;
	char		*host, *port;
	int		 family;

	if (parse_endpoint(o->o_socket, &family, &host, &port) == -1) {
		warnx("bad socket: %s", o->o_socket);
		usage();
	}
	free(host);
	free(port);
	if (inet_pton(AF_INET, o->o_addr, &a6) == 1)
		o->o_family = SMFIA_INET;
	else if (inet_pton(AF_INET6, o->o_addr, &a6) == 1)
		o->o_family = SMFIA_INET6;
	else {
		warnx("bad client address: %s", o->o_addr);
		usage();
	}
	if (helo != NULL)
		o->o_helo = xstrdup(helo);
	else if (o->o_name != NULL)
		o->o_helo = xstrdup(o->o_name);
	else
		o->o_helo = concat("[", o->o_addr, "]");
	if (o->o_nrcpts == 0) {
		o->o_rcpts = xrealloc(NULL, sizeof(*o->o_rcpts));
		o->o_rcpts[o->o_nrcpts++] = xstrdup(CLIENT_RCPT);
	}
}

static void
options_free(struct options *o)
{
	size_t	 i;

	for (i = 0; i < o->o_nrcpts; i++)
		free(o->o_rcpts[i]);
	free(o->o_rcpts);
	free(o->o_sender);
	free(o->o_helo);
	macros_free(&o->o_macros);
}

static void
usage(void)
{
	fprintf(stderr, "usage: phishmilter-client [-qv] [-a client_addr] "
	    "[-c connections] [-f sender]\n"
	    "\t[-H helo] [-M per_connection] [-m macro=value] "
	    "[-N count]\n"
	    "\t[-n client_name] [-p protocol_version] [-r rcpt] "
	    "[-s socket]\n"
	    "\t[-T seconds] [-t timeout] file_or_dir ...\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct options	 o;
	struct load	 l;
	char		**files = NULL, *helo = NULL;
	size_t		 nfiles = 0, i;
	int		 ch, n, errors, loadmode = 0;

	memset(&o, 0, sizeof(o));
	o.o_socket = CLIENT_SOCKET;
	o.o_addr = CLIENT_ADDR;
	o.o_timeout = CLIENT_TIMEOUT * 1000;
	o.o_version = MILTER_VERSION;
	memset(&l, 0, sizeof(l));
	l.l_opt = &o;
	l.l_conc = 1;
	l.l_permconn = 1;
	while ((ch = getopt(argc, argv, "a:c:f:H:M:m:N:n:p:qr:s:T:t:v")) !=
	    -1) {
		switch (ch) {
		case 'a':
			o.o_addr = optarg;
			break;
		case 'c':
			if (number(optarg, 1, CLIENT_MAX_CONC, &l.l_conc) == -1)
				usage();
			loadmode = 1;
			break;
		case 'M':
			if (number(optarg, 0, INT_MAX, &l.l_permconn) == -1)
				usage();
			loadmode = 1;
			break;
		case 'N':
			if (number(optarg, 1, INT_MAX, &l.l_count) == -1)
				usage();
			loadmode = 1;
			break;
		case 'q':
			l.l_quiet = 1;
			loadmode = 1;
			break;
		case 'T':
			if (number(optarg, 1, 86400 * 365, &l.l_seconds) == -1)
				usage();
			loadmode = 1;
			break;
		case 'f':
			free(o.o_sender);
			o.o_sender = angle(optarg);
			break;
		case 'H':
			helo = optarg;
			break;
		case 'm':
			options_macro(&o, optarg);
			break;
		case 'n':
			o.o_name = optarg;
			break;
		case 'p':
			if (number(optarg, MILTER_VERSION_MIN, MILTER_VERSION,
			    &n) == -1)
				usage();
			o.o_version = n;
			break;
		case 'r':
			if (o.o_nrcpts >= INT_MAX)
				usage();
			o.o_rcpts = xrealloc(o.o_rcpts,
			    (o.o_nrcpts + 1) * sizeof(*o.o_rcpts));
			o.o_rcpts[o.o_nrcpts++] = angle(optarg);
			break;
		case 's':
			o.o_socket = optarg;
			break;
		case 't':
			if (number(optarg, 1, 86400, &n) == -1)
				usage();
			o.o_timeout = n * 1000;
			break;
		case 'v':
			o.o_verbose = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();
	options_check(&o, helo);
	/* A filter that hangs up must not kill us mid-write. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(2, "signal");

	if (loadmode) {
		errors = files_collect(argc, argv, &files, &nfiles);
		n = load_run(&l, files, nfiles);
		for (i = 0; i < nfiles; i++)
			free(files[i]);
		free(files);
		options_free(&o);
		return (errors > 0 ? 2 : n);
	}
	errors = files_collect(argc, argv, &files, &nfiles);
	for (i = 0; i < nfiles; i++) {
		if (client_file(&o, files[i]) == -1)
			errors++;
		free(files[i]);
	}
	free(files);
	options_free(&o);
	return (errors > 0 ? 2 : 0);
}
