/*
 * The rule engine: PCRE2 patterns compiled once per process (JIT where
 * the platform has it), evaluated in configuration order against the
 * values a target source offers.  Match and depth limits bound every
 * match; a match cut by a limit counts as no match and is logged.
 */

#include "phishmilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * UTF and UCP so that \w and (?i) work on Japanese and accented text;
 * MATCH_INVALID_UTF because raw header values are bytes as received and
 * need not be valid UTF-8.
 */
#define RULES_OPTIONS	(PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF)

struct match_arg {
	struct ruleset		*ma_rs;
	const struct cond	*ma_cond;
	int			 ma_matched;
	unsigned int		 ma_limit_hits;
};

static pcre2_code *
rules_compile_one(const char *pattern, char *err, size_t errlen)
{
	pcre2_code	*re;
	PCRE2_SIZE	 off;
	int		 code;
	PCRE2_UCHAR	 msg[256];

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    RULES_OPTIONS, &code, &off, NULL);
	if (re == NULL && err != NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", (char *)msg,
		    (size_t)off);
	}
	return re;
}

/* Compiles a pattern only to check it; err gets PCRE2's message. */
int
rules_check_pattern(const char *pattern, char *err, size_t errlen)
{
	pcre2_code	*re;

	if ((re = rules_compile_one(pattern, err, errlen)) == NULL)
		return -1;
	pcre2_code_free(re);
	return 0;
}

static int
rules_compile_conds(struct cond *c, size_t n, const char *filter)
{
	char	err[300];
	size_t	i;

	for (i = 0; i < n; i++) {
		c[i].c_re = rules_compile_one(c[i].c_pattern, err, sizeof(err));
		if (c[i].c_re == NULL) {
			log_warnx("filter %s: bad regex '%s': %s", filter,
			    c[i].c_pattern, err);
			return -1;
		}
		/* Without JIT the interpreter runs the same pattern. */
		(void)pcre2_jit_compile(c[i].c_re, PCRE2_JIT_COMPLETE);
	}
	return 0;
}

int
rules_compile(struct ruleset *rs, struct config *cf)
{
	size_t	i;

	memset(rs, 0, sizeof(*rs));
	rs->rs_config = cf;
	for (i = 0; i < cf->cf_nfilters; i++) {
		struct filter	*f = &cf->cf_filters[i];

		if (rules_compile_conds(f->f_match, f->f_nmatch,
		    f->f_name) == -1 ||
		    rules_compile_conds(f->f_any, f->f_nany, f->f_name) == -1)
			return -1;
	}
	rs->rs_md = pcre2_match_data_create(1, NULL);
	rs->rs_mctx = pcre2_match_context_create(NULL);
	rs->rs_jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
	if (rs->rs_md == NULL || rs->rs_mctx == NULL)
		return -1;
	pcre2_set_match_limit(rs->rs_mctx, cf->cf_match_limit);
	pcre2_set_depth_limit(rs->rs_mctx, cf->cf_depth_limit);
	if (rs->rs_jit != NULL)
		pcre2_jit_stack_assign(rs->rs_mctx, NULL, rs->rs_jit);
	rs->rs_warn = xcalloc(cf->cf_nfilters, sizeof(*rs->rs_warn));
	rs->rs_needs = rules_needs(cf);
	return 0;
}

static void
rules_free_conds(struct cond *c, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		pcre2_code_free(c[i].c_re);
		c[i].c_re = NULL;
	}
}

void
rules_free(struct ruleset *rs)
{
	struct filter	*f;
	size_t		 i;

	if (rs->rs_config != NULL) {
		for (i = 0; i < rs->rs_config->cf_nfilters; i++) {
			f = &rs->rs_config->cf_filters[i];
			rules_free_conds(f->f_match, f->f_nmatch);
			rules_free_conds(f->f_any, f->f_nany);
		}
	}
	pcre2_match_data_free(rs->rs_md);
	pcre2_match_context_free(rs->rs_mctx);
	pcre2_jit_stack_free(rs->rs_jit);
	free(rs->rs_warn);
	memset(rs, 0, sizeof(*rs));
}

static unsigned int
rules_cond_needs(const struct cond *c, size_t n)
{
	unsigned int	needs = 0;
	size_t		i;

	for (i = 0; i < n; i++) {
		switch (c[i].c_target) {
		case TARGET_HEADER:
			needs |= NEED_HEADERS;
			break;
		case TARGET_ENVELOPE_RCPT:
			needs |= NEED_RCPT;
			break;
		case TARGET_HELO:
			needs |= NEED_HELO;
			break;
		case TARGET_MACRO:
			/* A macro may arrive with any step. */
			needs |= NEED_HELO | NEED_RCPT | NEED_HEADERS;
			break;
		case TARGET_DECODE_FROM:
		case TARGET_DECODE_TO:
		case TARGET_DECODE_CC:
		case TARGET_DECODE_REPLY_TO:
		case TARGET_DECODE_SUBJECT:
			needs |= NEED_DECODE | NEED_HEADERS;
			break;
		case TARGET_DECODE_TEXT:
		case TARGET_DECODE_HTML:
		case TARGET_URL:
		case TARGET_URL_HOST:
		case TARGET_ATTACHMENT_NAME:
		case TARGET_ATTACHMENT_TYPE:
			/* Content-Type and friends are headers. */
			needs |= NEED_DECODE | NEED_HEADERS | NEED_BODY;
			break;
		default:
			break;
		}
	}
	return needs;
}

/* Which protocol steps and actions the loaded filters need. */
unsigned int
rules_needs(const struct config *cf)
{
	unsigned int	 needs = 0;
	size_t		 i;

	if (cf->cf_nskip_senders > 0)
		needs |= NEED_DECODE | NEED_HEADERS;
	/* Links and messages for the reporter need the whole message. */
	if (cf->cf_spamhaus.sh_report && (cf->cf_spamhaus.sh_report_urls ||
	    cf->cf_spamhaus.sh_report_email))
		needs |= NEED_DECODE | NEED_HEADERS | NEED_BODY;
	for (i = 0; i < cf->cf_nfilters; i++) {
		const struct filter	*f = &cf->cf_filters[i];

		needs |= rules_cond_needs(f->f_match, f->f_nmatch);
		needs |= rules_cond_needs(f->f_any, f->f_nany);
		if (f->f_nofficial > 0)
			needs |= NEED_DECODE | NEED_HEADERS;
		if (f->f_action == ACTION_WARN || (f->f_action !=
		    ACTION_ACCEPT && filter_mode(cf, f) == MODE_WARN)) {
			needs |= NEED_ADDHDRS;
			if ((f->f_subject_prefix != NULL &&
			    *f->f_subject_prefix != '\0') ||
			    (f->f_subject_prefix == NULL &&
			    *cf->cf_subject_prefix != '\0'))
				needs |= NEED_CHGHDRS | NEED_HEADERS;
		}
		if (f->f_action == ACTION_QUARANTINE)
			needs |= NEED_QUARANTINE;
	}
	return needs;
}

static int
rules_match_value(void *arg, const char *value, size_t len)
{
	struct match_arg	*ma = arg;
	struct ruleset		*rs = ma->ma_rs;
	int			 rc;

	rc = pcre2_match(ma->ma_cond->c_re, (PCRE2_SPTR)value, len, 0, 0,
	    rs->rs_md, rs->rs_mctx);
	if (rc >= 0) {
		ma->ma_matched = 1;
		return 1;
	}
	if (rc != PCRE2_ERROR_NOMATCH) {
		/* Limits, or a JIT stack too small: treated as no match. */
		ma->ma_limit_hits++;
		log_warnx("pattern '%s' on %s: match error %d, taken as no "
		    "match", ma->ma_cond->c_pattern,
		    config_target_name(ma->ma_cond->c_target), rc);
	}
	return 0;
}

static int
rules_cond_holds(struct ruleset *rs, const struct target_source *src,
    const struct cond *c, struct rules_result *rr)
{
	struct match_arg	ma = { rs, c, 0, 0 };

	/* A target with no value (a missing header) is one empty value. */
	if (src->ts_each(src->ts_ctx, c, rules_match_value, &ma) == 0)
		(void)rules_match_value(&ma, "", 0);
	rr->rr_limit_hits += ma.ma_limit_hits;
	return c->c_negate ? !ma.ma_matched : ma.ma_matched;
}

struct exempt_arg {
	const struct filter	*ea_filter;
	int			 ea_exempt;
};

/* The last address of a decoded From ("Name <a@b>, <c@d>"). */
static int
rules_exempt_value(void *arg, const char *v, size_t len)
{
	struct exempt_arg	*ea = arg;
	const char		*addr, *last = NULL;
	size_t			 pos = 0, alen, lastlen = 0;

	while (address_next(v, len, &pos, &addr, &alen)) {
		last = addr;
		lastlen = alen;
	}
	if (last != NULL)
		ea->ea_exempt = address_in(last, lastlen,
		    ea->ea_filter->f_official, ea->ea_filter->f_nofficial);
	return 0;
}

/* A sender at a site's own official domain for the brand (official). */
static int
rules_exempt(const struct target_source *src, const struct filter *f)
{
	struct exempt_arg	ea = { f, 0 };
	struct cond		c;

	if (f->f_nofficial == 0)
		return 0;
	memset(&c, 0, sizeof(c));
	c.c_target = TARGET_DECODE_FROM;
	(void)src->ts_each(src->ts_ctx, &c, rules_exempt_value, &ea);
	return ea.ea_exempt;
}

static int
rules_filter_holds(struct ruleset *rs, const struct target_source *src,
    const struct filter *f, struct rules_result *rr)
{
	size_t	i;

	if (rules_exempt(src, f))
		return 0;
	for (i = 0; i < f->f_nmatch; i++)
		if (!rules_cond_holds(rs, src, &f->f_match[i], rr))
			return 0;
	if (f->f_nany == 0)
		return 1;
	for (i = 0; i < f->f_nany; i++)
		if (rules_cond_holds(rs, src, &f->f_any[i], rr))
			return 1;
	return 0;
}

/*
 * Filters run in configuration order; the first one that holds decides,
 * except warn filters, which are collected and evaluation goes on.
 */
void
rules_evaluate(struct ruleset *rs, const struct target_source *src,
    struct rules_result *rr)
{
	const struct config	*cf = rs->rs_config;
	size_t			 i;

	memset(rr, 0, sizeof(*rr));
	rr->rr_warn = rs->rs_warn;
	for (i = 0; i < cf->cf_nfilters; i++) {
		const struct filter	*f = &cf->cf_filters[i];

		if (rs->rs_deadline != 0 && now_ms() > rs->rs_deadline) {
			rr->rr_timeout = 1;
			return;
		}
		if (!rules_filter_holds(rs, src, f, rr))
			continue;
		if (f->f_action != ACTION_WARN) {
			rr->rr_decider = f;
			return;
		}
		rr->rr_warn[rr->rr_nwarn++] = f;
	}
}
