/*
 * End of message: decide (skip lists, rules, limits, errors), turn the
 * decision into milter replies queued in one buffer and written with one
 * write, and log one line.  Every message gets an answer here, whatever
 * happened before.
 */

#include "phishmilter.h"
#include "session.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Sendmail expands % in replies; a literal one must be doubled. */
static int
verdict_escape_percent(char *dst, size_t size, const char *src)
{
	size_t	o = 0;

	for (; *src != '\0'; src++) {
		if (o + 3 > size)
			return -1;
		if (*src == '%')
			dst[o++] = '%';
		dst[o++] = *src;
	}
	dst[o] = '\0';
	return 0;
}

static int
verdict_replycode(struct session *s, const char *text)
{
	char	buf[1024];

	if (verdict_escape_percent(buf, sizeof(buf), text) == -1)
		return -1;
	return milter_queue(&s->s_mc, SMFIR_REPLYCODE, buf, strlen(buf) + 1);
}

/* Index, name and value, as INSHEADER and CHGHEADER carry them. */
static int
verdict_queue_header(struct session *s, char cmd, uint32_t idx,
    const char *name, const char *value)
{
	int		 lead = (s->s_protocol & SMFIP_HDR_LEADSPC) != 0;
	size_t		 nlen = strlen(name) + 1, vlen = strlen(value) + 1;
	size_t		 off = cmd == SMFIR_ADDHEADER ? 0 : 4;
	size_t		 total = off + nlen + vlen + (lead ? 1 : 0);
	unsigned char	*p;
	int		 rc;

	if ((p = malloc(total)) == NULL)
		return -1;
	if (off)
		milter_put32(p, idx);
	memcpy(p + off, name, nlen);
	/* With LEADSPC the MTA inserts no space after the colon. */
	if (lead)
		p[off + nlen] = ' ';
	memcpy(p + off + nlen + (lead ? 1 : 0), value, vlen);
	rc = milter_queue(&s->s_mc, cmd, p, total);
	free(p);
	return rc;
}

/*
 * The n-th added header, 0 first.  Prepended where the MTA can (v6), as
 * trace headers are, at index n so that they keep the filters' order.
 */
static int
verdict_add_header(struct session *s, uint32_t n, const char *name,
    const char *value)
{
	if (s->s_version >= 6)
		return verdict_queue_header(s, SMFIR_INSHEADER, n, name, value);
	return verdict_queue_header(s, SMFIR_ADDHEADER, 0, name, value);
}

static const char *
verdict_subject_prefix(const struct session *s, const struct filter *f)
{
	if (f->f_subject_prefix != NULL)
		return f->f_subject_prefix;
	return s->s_cf->cf_subject_prefix;
}

/* Prefixes the first Subject (index 1), or adds one if there is none. */
static int
verdict_prefix_subject(struct session *s, const char *prefix)
{
	const struct message	*m = &s->s_msg;
	const struct header	*h = NULL;
	char			*value;
	const char		*old = "";
	size_t			 i, oldlen = 0, len;
	int			 rc;

	for (i = 0; i < m->m_nhdr && h == NULL; i++)
		if (m->m_hdr[i].h_namelen == 7 &&
		    strncasecmp(m->m_buf + m->m_hdr[i].h_name, "Subject", 7)
		    == 0)
			h = &m->m_hdr[i];
	if (h != NULL) {
		old = m->m_buf + h->h_value;
		oldlen = h->h_valuelen;
		while (oldlen > 0 && (*old == ' ' || *old == '\t')) {
			old++;
			oldlen--;
		}
	}
	if (oldlen >= strlen(prefix) && strncmp(old, prefix, strlen(prefix))
	    == 0)
		return 0;	/* already marked, by us or upstream */
	len = strlen(prefix) + 1 + oldlen + 1;
	if ((value = malloc(len)) == NULL)
		return -1;
	snprintf(value, len, "%s%s%.*s", prefix,
	    oldlen > 0 && prefix[strlen(prefix) - 1] != ' ' ? " " : "",
	    (int)oldlen, old);
	if (h != NULL)
		rc = verdict_queue_header(s, SMFIR_CHGHEADER, 1, "Subject",
		    value);
	else
		rc = verdict_queue_header(s, SMFIR_ADDHEADER, 0, "Subject",
		    value);
	free(value);
	return rc;
}

/* Warning headers and the Subject mark, for mail that is delivered. */
static int
verdict_warnings(struct session *s, const struct rules_result *rr)
{
	const char	*prefix;
	char		 value[512];
	size_t		 i;

	if (rr->rr_nwarn == 0 || !(s->s_actions & SMFIF_ADDHDRS))
		return 0;
	for (i = 0; i < rr->rr_nwarn; i++) {
		snprintf(value, sizeof(value), "%s (matched by phishmilter)",
		    rr->rr_warn[i]->f_name);
		if (verdict_add_header(s, (uint32_t)i, s->s_cf->cf_warn_header,
		    value) == -1)
			return -1;
	}
	prefix = verdict_subject_prefix(s, rr->rr_warn[0]);
	if (*prefix != '\0' && (s->s_actions & SMFIF_CHGHDRS))
		return verdict_prefix_subject(s, prefix);
	return 0;
}

static int
verdict_final(struct session *s, const struct decision *d)
{
	const struct filter	*f = d->d_filter;
	const char		*name = f != NULL ? f->f_name : d->d_note;
	char			 text[600];

	switch (d->d_action) {
	case ACTION_REJECT:
		if (f != NULL && f->f_reply != NULL)
			return verdict_replycode(s, f->f_reply);
		snprintf(text, sizeof(text), "550 5.7.1 Message rejected as "
		    "phishing (%s)", name);
		return verdict_replycode(s, text);
	case ACTION_TEMPFAIL:
		if (f != NULL && f->f_reply != NULL)
			return verdict_replycode(s, f->f_reply);
		snprintf(text, sizeof(text), "451 4.7.1 Message temporarily "
		    "refused (%s)", name);
		return verdict_replycode(s, text);
	case ACTION_DISCARD:
		return milter_queue(&s->s_mc, SMFIR_DISCARD, NULL, 0);
	case ACTION_QUARANTINE:
		snprintf(text, sizeof(text), "%s", f != NULL &&
		    f->f_reply != NULL ? f->f_reply : name);
		if ((s->s_actions & SMFIF_QUARANTINE) &&
		    milter_queue(&s->s_mc, SMFIR_QUARANTINE, text,
		    strlen(text) + 1) == -1)
			return -1;
		/* FALLTHROUGH */
	default:
		if (verdict_warnings(s, &d->d_rr) == -1)
			return -1;
		return milter_queue(&s->s_mc, SMFIR_ACCEPT, NULL, 0);
	}
}

struct trusted_arg {
	const struct config	*ta_cf;
	int			 ta_hit;
};

/* Each address of the From header: "Name <a@b>, <c@d>". */
static int
verdict_from_trusted(void *arg, const char *v, size_t len)
{
	struct trusted_arg	*ta = arg;
	const char		*addr;
	size_t			 pos = 0, alen;

	while (address_next(v, len, &pos, &addr, &alen))
		if (address_in(addr, alen, ta->ta_cf->cf_skip_senders,
		    ta->ta_cf->cf_nskip_senders))
			return ta->ta_hit = 1;
	return 0;
}

/*
 * skip_senders: the envelope sender, or an address of the From header,
 * at a trusted address or domain.  Both can be forged: this is for
 * partners whose mail the rules misjudge, not a defence.
 */
static int
verdict_trusted_sender(struct session *s)
{
	const struct config	*cf = s->s_cf;
	const char		*from = s->s_msg.m_from;
	struct trusted_arg	 ta = { cf, 0 };
	struct cond		 c;

	if (cf->cf_nskip_senders == 0)
		return 0;
	if (from != NULL && address_in(from, strlen(from),
	    cf->cf_skip_senders, cf->cf_nskip_senders))
		return 1;
	memset(&c, 0, sizeof(c));
	c.c_target = TARGET_DECODE_FROM;
	(void)session_each_value(s, &c, verdict_from_trusted, &ta);
	return ta.ta_hit;
}

static int
verdict_skipped(struct session *s, struct decision *d)
{
	const struct config	*cf = s->s_cf;
	const char		*auth;

	if (s->s_addr != NULL && *s->s_addr != '\0' &&
	    cidr_match_string(cf->cf_skip, cf->cf_nskip, s->s_addr)) {
		d->d_note = "skip_networks";
		return 1;
	}
	if (verdict_trusted_sender(s)) {
		d->d_note = "skip_senders";
		return 1;
	}
	auth = session_macro(s, "auth_authen");
	if (cf->cf_skip_authenticated && auth != NULL && *auth != '\0') {
		d->d_note = "skip_authenticated";
		return 1;
	}
	return 0;
}

/*
 * Modes: a filter in warn mode marks what it would refuse, one in log
 * mode only logs; the decision keeps what enforce would have done.
 * Warn filters in log mode add no header.
 */
static void
verdict_modes(struct session *s, struct decision *d)
{
	const struct config	 *cf = s->s_cf;
	struct rules_result	 *rr = &d->d_rr;
	size_t			  i, n = 0;
	enum mode		  m;

	for (i = 0; i < rr->rr_nwarn; i++)
		if (filter_mode(cf, rr->rr_warn[i]) != MODE_LOG)
			rr->rr_warn[n++] = rr->rr_warn[i];
	rr->rr_nwarn = n;
	if (d->d_filter == NULL || d->d_action == ACTION_ACCEPT ||
	    d->d_action == ACTION_WARN ||
	    (m = filter_mode(cf, d->d_filter)) == MODE_ENFORCE)
		return;
	d->d_would = (int)d->d_action;
	if (m == MODE_WARN) {
		d->d_action = ACTION_WARN;
		/* rr_warn has room: it holds no decider. */
		rr->rr_warn[rr->rr_nwarn++] = d->d_filter;
	} else
		d->d_action = rr->rr_nwarn > 0 ? ACTION_WARN : ACTION_ACCEPT;
}

/* Decides, without answering: shared by the workers and -t. */
void
verdict_decide(struct session *s, struct decision *d)
{
	const struct config	*cf = s->s_cf;
	struct target_source	 src = { session_each_value, s };

	memset(d, 0, sizeof(*d));
	d->d_would = -1;
	d->d_action = ACTION_ACCEPT;
	d->d_note = "-";
	if (verdict_skipped(s, d))
		return;
	if (s->s_msg.m_error) {
		d->d_action = cf->cf_error_action;
		d->d_note = "internal-error";
		return;
	}
	s->s_rs->rs_deadline = now_ms() + cf->cf_message_timeout * 1000LL;
	rules_evaluate(s->s_rs, &src, &d->d_rr);
	if (d->d_rr.rr_timeout) {
		d->d_action = cf->cf_error_action;
		d->d_note = "time-budget-exceeded";
		return;
	}
	if ((d->d_filter = d->d_rr.rr_decider) != NULL)
		d->d_action = d->d_filter->f_action;
	verdict_modes(s, d);
	if (d->d_filter != NULL)
		return;
	if (s->s_msg.m_oversize && cf->cf_oversize_action !=
	    ACTION_ACCEPT) {
		d->d_action = cf->cf_oversize_action;
		d->d_note = "oversize";
	} else if (d->d_rr.rr_nwarn > 0) {
		d->d_action = ACTION_WARN;
		d->d_filter = d->d_rr.rr_warn[0];
	}
}

/* The limits that cut a message short, as " limits=a,b"; "" for none. */
void
verdict_limits(unsigned int hits, char *buf, size_t size)
{
	static const struct {
		unsigned int	 bit;
		const char	*name;
	} names[] = {
		{ MIME_HIT_SIZE, "max_message_size" },
		{ MIME_HIT_HEADERS, "max_headers" },
		{ MIME_HIT_DEPTH, "max_mime_depth" },
		{ MIME_HIT_PARTS, "max_mime_parts" },
		{ MIME_HIT_PARSE, "unparsable" },
	};
	size_t	i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (hits & names[i].bit) {
			strlcat(buf, buf[0] ? "," : " limits=", size);
			strlcat(buf, names[i].name, size);
		}
}

/* One line per message: who, what was decided, by which filter, how fast. */
static void
verdict_log(struct session *s, const struct decision *d, long long us)
{
	const struct message	*m = &s->s_msg;
	char			 from[256], limits[128], errors[32] = "";
	char			 rcpts[24];
	const char		*raw = m->m_from != NULL ? m->m_from : "";

	log_escape(from, sizeof(from), raw, strlen(raw));
	verdict_limits(m->m_limits | m->m_decoded.dc_hits, limits,
	    sizeof(limits));
	if (m->m_decoded.dc_errors > 0)
		snprintf(errors, sizeof(errors), " decode-errors=%u",
		    m->m_decoded.dc_errors);
	/* Recipients the MTA was asked not to send are not known: "-". */
	if (s->s_protocol & SMFIP_NORCPT)
		strlcpy(rcpts, "-", sizeof(rcpts));
	else
		snprintf(rcpts, sizeof(rcpts), "%zu", m->m_nrcpt);
	log_info("%s: client=%s from=<%s> rcpts=%s verdict=%s%s%s filter=%s "
	    "ms=%lld.%02lld%s%s%s", session_tag(s),
	    s->s_addr != NULL && *s->s_addr ? s->s_addr : "-", from,
	    rcpts, action_name(d->d_action),
	    d->d_would >= 0 ? " would=" : "",
	    d->d_would >= 0 ? action_name((enum action)d->d_would) : "",
	    d->d_filter != NULL ? d->d_filter->f_name : d->d_note,
	    us / 1000, (us % 1000) / 10, limits, errors,
	    d->d_rr.rr_limit_hits ? " match-limit-hit" : "");
}

struct url_arg {
	const struct report_what	*ua_rw;
	int				 ua_left;
};

static int
verdict_report_url(void *arg, const char *url, size_t len)
{
	struct url_arg	*ua = arg;

	if (report_url(ua->ua_rw, url, len) == 0)
		ua->ua_left--;
	return ua->ua_left <= 0;
}

/*
 * Hands the reporter what an enforced, reporting filter decided: the
 * client, and if configured the links and the message.  After the
 * answer went out, so a report never delays the MTA.
 */
static void
verdict_report(struct session *s, const struct decision *d)
{
	const struct spamhaus_config	*sh = &s->s_cf->cf_spamhaus;
	const struct message		*m = &s->s_msg;
	const struct filter		*f = d->d_filter;
	struct report_what		 rw;
	struct url_arg			 ua;
	struct cond			 c;

	if (!report_enabled() || f == NULL || !f->f_report ||
	    d->d_would >= 0 || (s->s_family != SMFIA_INET &&
	    s->s_family != SMFIA_INET6) || s->s_addr == NULL)
		return;
	rw.rw_addr = s->s_addr;
	rw.rw_filter = f->f_name;
	rw.rw_qid = session_macro(s, "i");
	rw.rw_action = (int)d->d_action;
	report_ip(&rw);
	if (sh->sh_report_urls && sh->sh_max_urls > 0) {
		memset(&c, 0, sizeof(c));
		c.c_target = TARGET_URL;
		ua.ua_rw = &rw;
		ua.ua_left = sh->sh_max_urls;
		(void)session_each_value(s, &c, verdict_report_url, &ua);
	}
	if (sh->sh_report_email && !m->m_oversize && m->m_len > 0 &&
	    m->m_len <= sh->sh_max_email_size)
		report_email(&rw, m->m_buf, m->m_len);
}

/* Answers the end of message; -1 when the answer could not be sent. */
int
verdict_eom(struct session *s)
{
	struct decision	 d;
	long long	 t0 = now_us();

	verdict_decide(s, &d);
	if (verdict_final(s, &d) == -1) {
		/* Out of memory building replies: the plainest answer. */
		log_warnx("%s: cannot build the reply, answering %s",
		    session_tag(s), action_name(s->s_cf->cf_error_action));
		s->s_mc.mc_wlen = 0;
		if (milter_queue(&s->s_mc, s->s_cf->cf_error_action ==
		    ACTION_ACCEPT ? SMFIR_ACCEPT : SMFIR_TEMPFAIL, NULL, 0)
		    == -1)
			return -1;
	}
	verdict_log(s, &d, now_us() - t0);
	if (milter_flush(&s->s_mc) == -1)
		return -1;
	verdict_report(s, &d);
	return 0;
}
