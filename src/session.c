/*
 * One MTA connection: the milter protocol state machine.  Connection
 * state (client, HELO, connect and HELO macros) lives until QUIT or
 * QUIT_NC; message state (envelope, headers, message macros) is reset by
 * ABORT and after every end of message, so several messages on one
 * connection get independent verdicts.  Nothing a peer sends ends the
 * worker: a malformed packet ends this connection with one log line.
 */

#include "phishmilter.h"
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Returned by a command handler to end the connection. */
#define SESSION_CLOSE	(-1)

struct command {
	char		 cmd;
	uint32_t	 noreply;	/* SMFIP_NR_* that silences it */
	int		(*handler)(struct session *, const char *, size_t);
};

static int	session_optneg(struct session *, const char *, size_t);
static int	session_connect(struct session *, const char *, size_t);
static int	session_helo(struct session *, const char *, size_t);
static int	session_mail(struct session *, const char *, size_t);
static int	session_rcpt(struct session *, const char *, size_t);
static int	session_header(struct session *, const char *, size_t);
static int	session_body(struct session *, const char *, size_t);
static int	session_eom(struct session *, const char *, size_t);
static int	session_abort(struct session *, const char *, size_t);
static int	session_macro_cmd(struct session *, const char *, size_t);
static int	session_quit_nc(struct session *, const char *, size_t);
static int	session_nothing(struct session *, const char *, size_t);

static const struct command commands[] = {
	{ SMFIC_OPTNEG,	 0,		session_optneg },
	{ SMFIC_CONNECT, SMFIP_NR_CONN,	session_connect },
	{ SMFIC_HELO,	 SMFIP_NR_HELO,	session_helo },
	{ SMFIC_MAIL,	 SMFIP_NR_MAIL,	session_mail },
	{ SMFIC_RCPT,	 SMFIP_NR_RCPT,	session_rcpt },
	{ SMFIC_DATA,	 SMFIP_NR_DATA,	session_nothing },
	{ SMFIC_HEADER,	 SMFIP_NR_HDR,	session_header },
	{ SMFIC_EOH,	 SMFIP_NR_EOH,	session_nothing },
	{ SMFIC_BODY,	 SMFIP_NR_BODY,	session_body },
	{ SMFIC_UNKNOWN, SMFIP_NR_UNKN,	session_nothing },
	{ SMFIC_BODYEOB, 0,		session_eom },
	{ SMFIC_ABORT,	 0,		session_abort },
	{ SMFIC_MACRO,	 0,		session_macro_cmd },
	{ SMFIC_QUIT_NC, 0,		session_quit_nc },
};

/*
 * The content of a message: from the first of these to the end of
 * message, message_timeout bounds the receipt.  The envelope before it
 * comes at the pace of the SMTP client, the content from the MTA's
 * queue file.
 */
#define CONTENT(c)	((c) == SMFIC_HEADER || (c) == SMFIC_EOH || \
			 (c) == SMFIC_BODY)

/* Commands that expect no answer at all. */
#define SILENT(c)	((c) == SMFIC_ABORT || (c) == SMFIC_MACRO || \
			 (c) == SMFIC_QUIT_NC || (c) == SMFIC_OPTNEG || \
			 (c) == SMFIC_BODYEOB)

static unsigned int	session_counter;

struct session *
session_new(const struct config *cf, struct ruleset *rs, int fd)
{
	struct session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->s_cf = cf;
	s->s_rs = rs;
	if (milter_conn_init(&s->s_mc, fd, cf->cf_timeout * 1000,
	    MILTER_MAX_PACKET) == -1) {
		free(s);
		return NULL;
	}
	snprintf(s->s_id, sizeof(s->s_id), "%lx.%x", (unsigned long)getpid(),
	    ++session_counter);
	return s;
}

static void
session_macros_clear(struct session *s, int from, int to)
{
	int	i;

	for (i = from; i < to; i++) {
		free(s->s_macros[i].ms_data);
		s->s_macros[i].ms_data = NULL;
		s->s_macros[i].ms_len = 0;
	}
}

/*
 * A session fed from a file (-t): as if an MTA had negotiated leading
 * spaces and sent a message with MAIL FROM taken from Return-Path.
 */
void
session_offline(struct session *s)
{
	s->s_protocol = SMFIP_HDR_LEADSPC;
	s->s_negotiated = 1;
	s->s_msg.m_active = 1;
}

/* Forgets the transaction: after ABORT, after EOM. */
void
session_message_reset(struct session *s)
{
	struct message	*m = &s->s_msg;
	size_t		 i;

	free(m->m_from);
	for (i = 0; i < m->m_nrcpt; i++)
		free(m->m_rcpt[i]);
	free(m->m_rcpt);
	free(m->m_buf);
	free(m->m_hdr);
	decode_free(&m->m_decoded);
	memset(m, 0, sizeof(*m));
	milter_read_until(&s->s_mc, -1);
	session_macros_clear(s, STAGE_FIRST_MESSAGE, STAGE_MAX);
}

/* Forgets the SMTP session as well: QUIT_NC, end of connection. */
static void
session_connection_reset(struct session *s)
{
	session_message_reset(s);
	session_macros_clear(s, 0, STAGE_MAX);
	free(s->s_hostname);
	free(s->s_addr);
	free(s->s_helo);
	s->s_hostname = s->s_addr = s->s_helo = NULL;
	s->s_family = SMFIA_UNKNOWN;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	session_connection_reset(s);
	milter_conn_free(&s->s_mc);
	free(s);
}

static char *
session_strndup(struct session *s, const char *p, size_t len)
{
	char	*d;

	if ((d = malloc(len + 1)) == NULL) {
		s->s_msg.m_error = 1;
		return NULL;
	}
	memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

/*
 * Option negotiation: ask only for the steps the loaded filters need,
 * and tell the MTA not to wait for answers we never give.
 */
static int
session_optneg(struct session *s, const char *data, size_t len)
{
	uint32_t	version, actions, protocol, want, act = 0;
	unsigned char	reply[12];
	unsigned int	needs = s->s_rs->rs_needs;

	if (milter_optneg_decode(data, len, &version, &actions,
	    &protocol) == -1 || version < MILTER_VERSION_MIN) {
		log_warnx("%s: bad option negotiation (version %u)",
		    session_tag(s), len >= 4 ? milter_get32(data) : 0);
		return SESSION_CLOSE;
	}
	want = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOBODY |
	    SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT |
	    SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY |
	    SMFIP_NR_HDR;
	if (!(needs & NEED_HELO))
		want |= SMFIP_NOHELO;
	if (!(needs & NEED_RCPT))
		want |= SMFIP_NORCPT;
	if (!(needs & NEED_HEADERS))
		want |= SMFIP_NOHDRS | SMFIP_NOEOH;
	else
		want |= SMFIP_HDR_LEADSPC | SMFIP_NOEOH;
	if (needs & NEED_BODY)
		want &= ~SMFIP_NOBODY;
	if (needs & NEED_ADDHDRS)
		act |= SMFIF_ADDHDRS;
	if (needs & NEED_CHGHDRS)
		act |= SMFIF_CHGHDRS;
	if (needs & NEED_QUARANTINE)
		act |= SMFIF_QUARANTINE;
	if ((act & actions) != act)
		log_warnx("%s: MTA does not allow actions 0x%x the filters "
		    "use", s->s_id, act & ~actions);
	s->s_version = version > MILTER_VERSION ? MILTER_VERSION : version;
	s->s_actions = act & actions;
	s->s_protocol = want & protocol;
	s->s_negotiated = 1;
	milter_optneg_encode(reply, s->s_version, s->s_actions,
	    s->s_protocol);
	log_debug("%s: negotiated version %u actions 0x%x protocol 0x%x "
	    "(offered 0x%x 0x%x)", s->s_id, s->s_version, s->s_actions,
	    s->s_protocol, actions, protocol);
	return milter_send(&s->s_mc, SMFIC_OPTNEG, reply, sizeof(reply));
}

/* CONNECT: hostname\0 family [port(2) address\0] */
static int
session_connect(struct session *s, const char *data, size_t len)
{
	const char	*host, *addr = NULL;

	/* Its macros came just before it: keep those. */
	session_message_reset(s);
	session_macros_clear(s, STAGE_HELO, STAGE_FIRST_MESSAGE);
	free(s->s_hostname);
	free(s->s_addr);
	free(s->s_helo);
	s->s_hostname = s->s_addr = s->s_helo = NULL;
	if ((host = milter_next_string(&data, &len)) == NULL || len < 1) {
		log_warnx("%s: malformed connect packet", session_tag(s));
		return SESSION_CLOSE;
	}
	s->s_family = data[0];
	data++;
	len--;
	if (s->s_family == SMFIA_INET || s->s_family == SMFIA_INET6 ||
	    s->s_family == SMFIA_UNIX) {
		if (len < 2 ||
		    (data += 2, len -= 2,
		    (addr = milter_next_string(&data, &len)) == NULL)) {
			log_warnx("%s: malformed connect address",
			    session_tag(s));
			return SESSION_CLOSE;
		}
	}
	s->s_hostname = strdup(host);
	s->s_addr = strdup(addr != NULL ? addr : "");
	if (s->s_hostname == NULL || s->s_addr == NULL)
		s->s_msg.m_error = 1;
	return 0;
}

static int
session_helo(struct session *s, const char *data, size_t len)
{
	const char	*helo;

	if ((helo = milter_next_string(&data, &len)) == NULL) {
		log_warnx("%s: malformed helo packet", session_tag(s));
		return SESSION_CLOSE;
	}
	free(s->s_helo);
	if ((s->s_helo = strdup(helo)) == NULL)
		s->s_msg.m_error = 1;
	return 0;
}

/* "<user@domain>" to "user@domain"; "<>" to "". */
static char *
session_address(struct session *s, const char *arg)
{
	size_t	len = strlen(arg);

	if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>')
		return session_strndup(s, arg + 1, len - 2);
	return session_strndup(s, arg, len);
}

static const char *
session_first_arg(struct session *s, const char *data, size_t len,
    const char *what)
{
	const char	*arg;

	if ((arg = milter_next_string(&data, &len)) == NULL)
		log_warnx("%s: malformed %s packet", session_tag(s), what);
	return arg;
}

static int
session_mail(struct session *s, const char *data, size_t len)
{
	const char	*arg;

	/* A MAIL inside a transaction the MTA forgot to abort starts anew. */
	if (s->s_msg.m_active) {
		struct macro_set	keep = s->s_macros[STAGE_MAIL];

		s->s_macros[STAGE_MAIL].ms_data = NULL;
		session_message_reset(s);
		s->s_macros[STAGE_MAIL] = keep;
	}
	if ((arg = session_first_arg(s, data, len, "mail")) == NULL)
		return SESSION_CLOSE;
	s->s_msg.m_active = 1;
	s->s_msg.m_from = session_address(s, arg);
	return 0;
}

static int
session_rcpt(struct session *s, const char *data, size_t len)
{
	struct message	*m = &s->s_msg;
	const char	*arg;
	char		**v, *rcpt;

	if ((arg = session_first_arg(s, data, len, "rcpt")) == NULL)
		return SESSION_CLOSE;
	if ((rcpt = session_address(s, arg)) == NULL)
		return 0;
	v = reallocarray(m->m_rcpt, m->m_nrcpt + 1, sizeof(*v));
	if (v == NULL) {
		free(rcpt);
		m->m_error = 1;
		return 0;
	}
	m->m_rcpt = v;
	m->m_rcpt[m->m_nrcpt++] = rcpt;
	return 0;
}

/* Appends to the message buffer; beyond max_message_size marks it. */
static int
session_append(struct session *s, const char *p, size_t len)
{
	struct message	*m = &s->s_msg;
	size_t		 want, size;
	char		*nb;

	if (m->m_oversize || m->m_error)
		return -1;
	if (len > s->s_cf->cf_max_message_size - m->m_len ||
	    m->m_len > s->s_cf->cf_max_message_size) {
		m->m_oversize = 1;
		m->m_limits |= MIME_HIT_SIZE;
		return -1;
	}
	/* Nothing to add (an empty header name): m_buf may still be NULL. */
	if (len == 0)
		return 0;
	want = m->m_len + len;
	if (want > m->m_size) {
		size = m->m_size ? m->m_size : 16384;
		while (size < want)
			size *= 2;
		if ((nb = realloc(m->m_buf, size)) == NULL) {
			m->m_error = 1;
			return -1;
		}
		m->m_buf = nb;
		m->m_size = size;
	}
	memcpy(m->m_buf + m->m_len, p, len);
	m->m_len += len;
	return 0;
}

static int
session_header_index(struct session *s, size_t name, size_t namelen,
    size_t value, size_t valuelen)
{
	struct message	*m = &s->s_msg;
	struct header	*h;

	if (m->m_nhdr >= s->s_cf->cf_max_headers) {
		m->m_limits |= MIME_HIT_HEADERS;
		return -1;
	}
	if (m->m_nhdr == m->m_hdrsize) {
		h = reallocarray(m->m_hdr, m->m_hdrsize ? m->m_hdrsize * 2 :
		    32, sizeof(*h));
		if (h == NULL) {
			m->m_error = 1;
			return -1;
		}
		m->m_hdr = h;
		m->m_hdrsize = m->m_hdrsize ? m->m_hdrsize * 2 : 32;
	}
	h = &m->m_hdr[m->m_nhdr++];
	h->h_name = name;
	h->h_namelen = namelen;
	h->h_value = value;
	h->h_valuelen = valuelen;
	return 0;
}

/*
 * Adds a header as the MTA sent it.  Kept as "Name:value\r\n" in the
 * message buffer (with a space after the colon when the MTA strips the
 * leading space), so that the buffer reads as the message the MTA
 * received.  Also the way in for the offline mode (-t).
 */
void
session_add_header(struct session *s, const char *name, const char *value)
{
	struct message	*m = &s->s_msg;
	size_t		 noff, voff, vlen = strlen(value);
	int		 lead = (s->s_protocol & SMFIP_HDR_LEADSPC) != 0;

	noff = m->m_len;
	if (session_append(s, name, strlen(name)) == -1 ||
	    session_append(s, lead ? ":" : ": ", lead ? 1 : 2) == -1)
		return;
	voff = m->m_len;
	if (session_append(s, value, vlen) == -1 ||
	    session_append(s, "\r\n", 2) == -1)
		return;
	session_header_index(s, noff, strlen(name), voff, vlen);
}

/* HEADER: name\0value\0 */
static int
session_header(struct session *s, const char *data, size_t len)
{
	const char	*name, *value;

	if ((name = milter_next_string(&data, &len)) == NULL ||
	    (value = milter_next_string(&data, &len)) == NULL) {
		log_warnx("%s: malformed header packet", session_tag(s));
		return SESSION_CLOSE;
	}
	session_add_header(s, name, value);
	return 0;
}

/* Body bytes; the blank line that ends the headers comes first. */
void
session_add_body(struct session *s, const char *data, size_t len)
{
	struct message	*m = &s->s_msg;

	if (m->m_body == 0) {
		if (session_append(s, "\r\n", 2) == -1)
			return;
		m->m_body = m->m_len;
	}
	(void)session_append(s, data, len);
}

static int
session_body(struct session *s, const char *data, size_t len)
{
	session_add_body(s, data, len);
	return 0;
}

static int
session_eom(struct session *s, const char *data, size_t len)
{
	int	rc;

	if (len > 0)
		session_add_body(s, data, len);
	rc = verdict_eom(s);
	session_message_reset(s);
	s->s_nmessages++;
	return rc == -1 ? SESSION_CLOSE : 0;
}

static int
session_abort(struct session *s, const char *data, size_t len)
{
	session_message_reset(s);
	return 0;
}

static enum macro_stage
session_macro_stage(char cmd)
{
	switch (cmd) {
	case SMFIC_CONNECT:	return STAGE_CONNECT;
	case SMFIC_HELO:	return STAGE_HELO;
	case SMFIC_MAIL:	return STAGE_MAIL;
	case SMFIC_RCPT:	return STAGE_RCPT;
	case SMFIC_DATA:	return STAGE_DATA;
	case SMFIC_HEADER:	return STAGE_HEADER;
	case SMFIC_EOH:		return STAGE_EOH;
	case SMFIC_BODY:	return STAGE_BODY;
	case SMFIC_BODYEOB:	return STAGE_EOM;
	case SMFIC_UNKNOWN:	return STAGE_UNKNOWN;
	default:		return STAGE_MAX;
	}
}

/* MACRO: stage command, then name\0value\0 pairs; replaces that stage. */
static int
session_macro_cmd(struct session *s, const char *data, size_t len)
{
	struct macro_set	*ms;
	enum macro_stage	 st;

	if (len < 1 || (st = session_macro_stage(data[0])) == STAGE_MAX) {
		log_warnx("%s: macros for unknown step ignored",
		    session_tag(s));
		return 0;
	}
	ms = &s->s_macros[st];
	free(ms->ms_data);
	ms->ms_len = len - 1;
	if ((ms->ms_data = malloc(ms->ms_len + 1)) == NULL) {
		ms->ms_len = 0;
		s->s_msg.m_error = 1;
		return 0;
	}
	memcpy(ms->ms_data, data + 1, ms->ms_len);
	/* A final NUL bounds a value the MTA left unterminated. */
	ms->ms_data[ms->ms_len] = '\0';
	return 0;
}

static int
session_quit_nc(struct session *s, const char *data, size_t len)
{
	session_connection_reset(s);
	return 0;
}

static int
session_nothing(struct session *s, const char *data, size_t len)
{
	return 0;
}

/* "{auth_authen}" and "auth_authen" name the same macro. */
static int
session_macro_name_eq(const char *a, const char *want, size_t wantlen)
{
	size_t	alen = strlen(a);

	if (alen >= 2 && a[0] == '{' && a[alen - 1] == '}') {
		a++;
		alen -= 2;
	}
	return alen == wantlen && memcmp(a, want, wantlen) == 0;
}

/*
 * What every log line about the connection starts with: the session id
 * and, once the MTA has sent it, the queue id, so that lines can be
 * matched with the MTA's own.
 */
const char *
session_tag(struct session *s)
{
	const char	*qid = session_macro(s, "i");
	char		 esc[64];

	if (qid == NULL || *qid == '\0')
		return s->s_id;
	log_escape(esc, sizeof(esc), qid, strlen(qid));
	snprintf(s->s_tag, sizeof(s->s_tag), "%s %s", s->s_id, esc);
	return s->s_tag;
}

/* The newest value of a macro: message stages first, then connection. */
const char *
session_macro(const struct session *s, const char *name)
{
	size_t	nlen = strlen(name);
	int	st;

	if (nlen >= 2 && name[0] == '{' && name[nlen - 1] == '}') {
		name++;
		nlen -= 2;
	}
	for (st = STAGE_MAX - 1; st >= 0; st--) {
		const char	*p = s->s_macros[st].ms_data;
		size_t		 left = s->s_macros[st].ms_len;
		const char	*k, *v;

		while (p != NULL && (k = milter_next_string(&p, &left))
		    != NULL && (v = milter_next_string(&p, &left)) != NULL)
			if (session_macro_name_eq(k, name, nlen))
				return v;
	}
	return NULL;
}

static int
session_each_header(const struct session *s, const char *name,
    value_fn fn, void *arg)
{
	const struct message	*m = &s->s_msg;
	size_t			 i, nlen = strlen(name);
	int			 n = 0;

	for (i = 0; i < m->m_nhdr; i++) {
		const struct header	*h = &m->m_hdr[i];
		const char		*v = m->m_buf + h->h_value;
		size_t			 vlen = h->h_valuelen;

		if (h->h_namelen != nlen ||
		    strncasecmp(m->m_buf + h->h_name, name, nlen) != 0)
			continue;
		/* Leading blanks are not part of the value for matching. */
		while (vlen > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		n++;
		if (fn(arg, v, vlen))
			break;
	}
	return n;
}

static int
session_one(const char *v, value_fn fn, void *arg)
{
	if (v == NULL)
		return 0;
	(void)fn(arg, v, strlen(v));
	return 1;
}

/* The target source the rule engine reads a message through. */
int
session_each_value(void *ctx, const struct cond *c, value_fn fn, void *arg)
{
	const struct session	*s = ctx;
	const struct message	*m = &s->s_msg;
	size_t			 i;

	if (TARGET_IS_DECODED(c->c_target)) {
		struct session	*ws = ctx;	/* decoding fills the message */

		if (decode_message(&ws->s_msg.m_decoded, s->s_cf, m,
		    c->c_target) == -1)
			ws->s_msg.m_error = 1;
		return decode_each(&m->m_decoded, c, fn, arg);
	}
	switch (c->c_target) {
	case TARGET_HEADER:
		return session_each_header(s, c->c_name, fn, arg);
	case TARGET_ENVELOPE_FROM:
		return session_one(m->m_from, fn, arg);
	case TARGET_ENVELOPE_RCPT:
		for (i = 0; i < m->m_nrcpt; i++)
			if (fn(arg, m->m_rcpt[i], strlen(m->m_rcpt[i])))
				break;
		return (int)(i < m->m_nrcpt ? i + 1 : m->m_nrcpt);
	case TARGET_REMOTE_IP:
		if (s->s_addr != NULL && strncasecmp(s->s_addr, "IPv6:", 5)
		    == 0)
			return session_one(s->s_addr + 5, fn, arg);
		return session_one(s->s_addr, fn, arg);
	case TARGET_REMOTE_HOST:
		return session_one(s->s_hostname, fn, arg);
	case TARGET_HELO:
		return session_one(s->s_helo, fn, arg);
	case TARGET_MACRO:
		return session_one(session_macro(s, c->c_name), fn, arg);
	default:
		return 0;
	}
}

static const struct command *
session_command(char cmd)
{
	size_t	i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].cmd == cmd)
			return &commands[i];
	return NULL;
}

static int
session_dispatch(struct session *s, const struct milter_packet *p)
{
	const struct command	*c;
	int			 rc;

	if (p->mp_cmd == SMFIC_QUIT)
		return SESSION_CLOSE;
	if ((c = session_command(p->mp_cmd)) == NULL) {
		unsigned char	u = (unsigned char)p->mp_cmd;

		/*
		 * A newer MTA's command: ignoring it beats dropping mail.
		 * Logged once per command and connection, so that a peer
		 * cannot flood the log with them.
		 */
		if ((s->s_unknown[u / 8] & (1U << (u % 8))) == 0) {
			s->s_unknown[u / 8] |= 1U << (u % 8);
			log_warnx("%s: unknown command 0x%02x ignored",
			    session_tag(s), u);
		}
		return 0;
	}
	if (c->cmd != SMFIC_OPTNEG && c->cmd != SMFIC_MACRO &&
	    !s->s_negotiated) {
		log_warnx("%s: %s before option negotiation", session_tag(s),
		    milter_command_name(c->cmd));
		return SESSION_CLOSE;
	}
	if (CONTENT(c->cmd) && !s->s_msg.m_content) {
		s->s_msg.m_content = 1;
		milter_read_until(&s->s_mc, s->s_cf->cf_message_timeout * 1000);
	}
	if ((rc = c->handler(s, p->mp_data, p->mp_len)) == SESSION_CLOSE)
		return rc;
	if (SILENT(c->cmd) || (s->s_protocol & c->noreply))
		return 0;
	return milter_send(&s->s_mc, SMFIR_CONTINUE, NULL, 0) == -1 ?
	    SESSION_CLOSE : 0;
}

/*
 * Serves the connection until the MTA quits.  While no message is in
 * hand, a shutdown request (*stop) ends the connection; inside a message
 * it waits for the end of message, so no transaction is cut.  Commands
 * that had arrived when the request came are still served: the MTA sent
 * them, and may not wait for a reply to learn they were lost.  Once the
 * message they began has ended, the connection ends.  A hangup of alive
 * (the parent's death; -1: none) is a shutdown request too.
 */
int
session_serve(struct session *s, volatile sig_atomic_t *stop, int alive)
{
	struct milter_packet	p;
	int			rc, was_active, ended = 0;

	s->s_mc.mc_alive = alive;
	for (;;) {
		s->s_mc.mc_stop = s->s_msg.m_active ? NULL : stop;
		if (!s->s_msg.m_active && *stop &&
		    (ended || !milter_pending(&s->s_mc)))
			return 0;
		rc = milter_read_packet(&s->s_mc, &p);
		if (rc == MILTER_EOF)
			return 0;
		if (rc == MILTER_ERROR) {
			if (!(*stop && !s->s_msg.m_active))
				log_warnx("%s: connection closed: %s",
				    session_tag(s), s->s_mc.mc_error);
			return -1;
		}
		was_active = s->s_msg.m_active;
		if (session_dispatch(s, &p) == SESSION_CLOSE)
			return p.mp_cmd == SMFIC_QUIT ? 0 : -1;
		if (*stop && was_active && !s->s_msg.m_active)
			ended = 1;
	}
}
