/*
 * Offline mode (-t): messages from files go through the code the workers
 * run, from the session's message buffer to the verdict, without a
 * daemon or a socket.  A file is fed to the session the way Postfix
 * feeds a message: headers one by one with their leading space and
 * folding kept, then the body with CRLF line ends.
 */

#include "phishmilter.h"
#include "session.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

struct offline {
	struct config	*o_cf;
	struct ruleset	 o_rs;
	int		 o_verbose;
};

static char *
offline_read(const char *path, size_t *len)
{
	FILE	*fp;
	char	*buf = NULL, *nb;
	size_t	 size = 0, n;

	*len = 0;
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	do {
		if (size - *len < 65536) {
			size = size ? size * 2 : 65536;
			if ((nb = realloc(buf, size)) == NULL) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + *len, 1, size - *len - 1, fp);
		*len += n;
	} while (n > 0);
	if (ferror(fp)) {
		free(buf);
		buf = NULL;
	} else
		buf[*len] = '\0';
	fclose(fp);
	return buf;
}

/* The end of the line at p: after its LF, or the end of the buffer. */
static const char *
offline_eol(const char *p, const char *end)
{
	const char	*nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

static size_t
offline_chomp(const char *p, const char *eol)
{
	size_t	len = (size_t)(eol - p);

	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

/* One header with its continuation lines, joined by LF as MTAs send. */
static const char *
offline_header(struct session *s, const char *p, const char *end)
{
	const char	*eol = offline_eol(p, end), *colon;
	char		*name, *value = NULL;
	size_t		 vlen = 0, n;

	colon = memchr(p, ':', offline_chomp(p, eol));
	name = strndup(p, colon != NULL ? (size_t)(colon - p) : 0);
	if (colon != NULL) {
		n = offline_chomp(colon + 1, eol);
		value = strndup(colon + 1, n);
		vlen = n;
	}
	while (eol < end && (*eol == ' ' || *eol == '\t')) {
		const char	*next = offline_eol(eol, end);
		char		*nv;

		n = offline_chomp(eol, next);
		if (value != NULL && (nv = realloc(value, vlen + n + 2))) {
			value = nv;
			value[vlen++] = '\n';
			memcpy(value + vlen, eol, n);
			vlen += n;
			value[vlen] = '\0';
		}
		eol = next;
	}
	if (name != NULL && value != NULL && *name != '\0')
		session_add_header(s, name, value);
	free(name);
	free(value);
	return eol;
}

static void
offline_body(struct session *s, const char *p, const char *end)
{
	const char	*eol;
	size_t		 n;

	session_add_body(s, "", 0);
	for (; p < end; p = eol) {
		eol = offline_eol(p, end);
		n = offline_chomp(p, eol);
		session_add_body(s, p, n);
		if (eol > p + n)
			session_add_body(s, "\r\n", 2);
	}
}

/*
 * Gives s a message from a file's bytes as an MTA would: the headers one
 * by one, their folded lines joined by LF, then the body in CRLF lines.
 * buf may be changed (an old Mac file's CRs become LFs).  The decoding
 * fuzz harness feeds its input through here too.
 */
void
offline_feed(struct session *s, char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len;
	size_t		 i;

	/* Old Mac files end lines with CR alone: read them as LF. */
	if (memchr(buf, '\n', len) == NULL)
		for (i = 0; i < len; i++)
			if (buf[i] == '\r')
				buf[i] = '\n';

	/* An mbox "From " line is not part of the message. */
	if (len > 5 && strncmp(buf, "From ", 5) == 0)
		p = offline_eol(p, end);
	while (p < end && *p != '\r' && *p != '\n')
		p = offline_header(s, p, end);
	if (p < end)
		offline_body(s, offline_eol(p, end), end);
}

static int
offline_return_path(void *arg, const char *v, size_t len)
{
	struct message	*m = arg;
	const char	*addr;
	size_t		 pos = 0, alen;

	if (address_next(v, len, &pos, &addr, &alen))
		m->m_from = strndup(addr, alen);
	else
		m->m_from = strndup(v, len);
	return 1;
}

/* The envelope a file lacks: MAIL FROM as its Return-Path says. */
static void
offline_envelope(struct session *s)
{
	struct cond	c;
	char		name[] = "return-path";

	memset(&c, 0, sizeof(c));
	c.c_target = TARGET_HEADER;
	c.c_name = name;
	(void)session_each_value(s, &c, offline_return_path, &s->s_msg);
}

/* -v: one line per value, escaped like a log line. */
static int
offline_print_value(void *arg, const char *v, size_t len)
{
	char	buf[8192];

	log_escape(buf, sizeof(buf), v, len);
	printf("\t%s: %s\n", (const char *)arg, buf);
	return 0;
}

static void
offline_print_target(struct session *s, enum target t, char *name)
{
	struct cond	c;
	char		label[128];

	memset(&c, 0, sizeof(c));
	c.c_target = t;
	c.c_name = name;
	snprintf(label, sizeof(label), "%s%s", config_target_name(t),
	    name != NULL ? name : "");
	(void)session_each_value(s, &c, offline_print_value, label);
}

static void
offline_print_all(struct session *s)
{
	const struct message	*m = &s->s_msg;
	char			 name[256];
	size_t			 i, j;
	int			 t;

	for (i = 0; i < m->m_nhdr; i++) {
		const struct header	*h = &m->m_hdr[i];

		for (j = 0; j < h->h_namelen && j < sizeof(name) - 1; j++)
			name[j] = (char)tolower((unsigned char)
			    m->m_buf[h->h_name + j]);
		name[j] = '\0';
		/* Every occurrence is printed at its first one. */
		for (j = 0; j < i; j++)
			if (m->m_hdr[j].h_namelen == h->h_namelen &&
			    strncasecmp(m->m_buf + m->m_hdr[j].h_name,
			    m->m_buf + h->h_name, h->h_namelen) == 0)
				break;
		if (j == i)
			offline_print_target(s, TARGET_HEADER, name);
	}
	for (t = TARGET_ENVELOPE_FROM; t < TARGET_MAX; t++)
		if (t != TARGET_MACRO)
			offline_print_target(s, (enum target)t, NULL);
}

/* -v: what the log line of the message would add. */
static void
offline_print_notes(struct session *s, const struct decision *d)
{
	const struct message	*m = &s->s_msg;
	char			 limits[128];

	verdict_limits(m->m_limits | m->m_decoded.dc_hits, limits,
	    sizeof(limits));
	if (*limits != '\0')
		printf("\t%s\n", limits + 1);
	if (m->m_decoded.dc_errors > 0)
		printf("\tdecode-errors=%u\n", m->m_decoded.dc_errors);
	if (d->d_rr.rr_limit_hits > 0)
		printf("\tmatch-limit-hit\n");
}

/*
 * A session holding the message of a file as -t reads it, ready for
 * verdict_decide(); NULL with errno set when the file cannot be read.
 * Also what regress/unit/t_equiv.c feeds the engine with.
 */
struct session *
offline_session(const struct config *cf, struct ruleset *rs,
    const char *path)
{
	struct session	*s;
	char		*buf;
	size_t		 len;

	if ((buf = offline_read(path, &len)) == NULL)
		return NULL;
	if ((s = session_new(cf, rs, -1)) == NULL)
		fatal("session");
	session_offline(s);
	offline_feed(s, buf, len);
	offline_envelope(s);
	free(buf);
	return s;
}

static int
offline_file(struct offline *o, const char *path)
{
	struct session	*s;
	struct decision	 d;

	if ((s = offline_session(o->o_cf, &o->o_rs, path)) == NULL) {
		printf("%s: error %s\n", path, strerror(errno));
		return -1;
	}
	verdict_decide(s, &d);
	printf("%s: %s %s%s%s\n", path, action_name(d.d_action),
	    d.d_filter != NULL ? d.d_filter->f_name : "-",
	    d.d_would >= 0 ? " would=" : "",
	    d.d_would >= 0 ? action_name((enum action)d.d_would) : "");
	if (o->o_verbose) {
		offline_print_all(s);
		offline_print_notes(s, &d);
	}
	session_free(s);
	return 0;
}

/* Runs each file through the filters; 0 when every file was read. */
int
offline_main(const char *conffile, char **files, int nfiles, int verbose)
{
	struct offline	o;
	int		i, rc = 0;

	memset(&o, 0, sizeof(o));
	o.o_verbose = verbose;
	log_init(1, verbose > 1 ? LOG_DEBUG : LOG_WARNING, NULL);
	if ((o.o_cf = config_load(conffile)) == NULL)
		return 1;
	if (rules_compile(&o.o_rs, o.o_cf) == -1)
		return 1;
	mime_init();
	(void)charset_init();
	for (i = 0; i < nfiles; i++)
		if (offline_file(&o, files[i]) == -1)
			rc = 1;
	charset_cleanup();
	rules_free(&o.o_rs);
	config_free(o.o_cf);
	return rc;
}
