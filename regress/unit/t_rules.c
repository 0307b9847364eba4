/*
 * Unit tests of the rule engine (rules.c): match/any/negation semantics,
 * multi-valued targets, missing values, configuration order, warn
 * filters, match limits and the steps a rule set needs.
 */

#include "phishmilter.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "tap.h"

/* A fake message: up to 4 values per target, by target and name. */
struct fake {
	const char	*target_name[8];
	const char	*values[8][4];
	size_t		 n;
};

static int
fake_each(void *ctx, const struct cond *c, value_fn fn, void *arg)
{
	struct fake	*f = ctx;
	const char	*want = config_target_name(c->c_target);
	size_t		 i, j;
	int		 n = 0;
	char		 key[64];

	if (c->c_name != NULL)
		snprintf(key, sizeof(key), "%s%s", want, c->c_name);
	else
		snprintf(key, sizeof(key), "%s", want);
	for (i = 0; i < f->n; i++) {
		if (strcmp(f->target_name[i], key) != 0)
			continue;
		for (j = 0; j < 4 && f->values[i][j] != NULL; j++) {
			n++;
			if (fn(arg, f->values[i][j], strlen(f->values[i][j])))
				return n;
		}
	}
	return n;
}

static struct cond
mkcond(const char *spec)
{
	struct cond	 c;
	const char	*colon = strchr(spec, ':');
	const char	*re;

	memset(&c, 0, sizeof(c));
	if (config_target_parse(spec, (size_t)(colon - spec), &c.c_target,
	    &c.c_name) == -1)
		abort();
	re = colon + 1;
	if (*re == '!') {
		c.c_negate = 1;
		re++;
	}
	c.c_pattern = strdup(re);
	return c;
}

static void
add_filter(struct config *cf, const char *name, enum action a,
    const char **match, const char **any)
{
	struct filter	*f;
	size_t		 n;

	cf->cf_filters = realloc(cf->cf_filters,
	    (cf->cf_nfilters + 1) * sizeof(*f));
	f = &cf->cf_filters[cf->cf_nfilters++];
	memset(f, 0, sizeof(*f));
	f->f_name = strdup(name);
	f->f_action = a;
	for (n = 0; match != NULL && match[n] != NULL; n++)
		;
	f->f_match = calloc(n + 1, sizeof(struct cond));
	for (f->f_nmatch = 0; f->f_nmatch < n; f->f_nmatch++)
		f->f_match[f->f_nmatch] = mkcond(match[f->f_nmatch]);
	for (n = 0; any != NULL && any[n] != NULL; n++)
		;
	f->f_any = calloc(n + 1, sizeof(struct cond));
	for (f->f_nany = 0; f->f_nany < n; f->f_nany++)
		f->f_any[f->f_nany] = mkcond(any[f->f_nany]);
}

static struct config *
base_config(void)
{
	struct config	*cf = calloc(1, sizeof(*cf));

	cf->cf_match_limit = 100000;
	cf->cf_depth_limit = 1000;
	cf->cf_subject_prefix = strdup("");
	return cf;
}

static const char *
decide(struct config *cf, struct fake *msg, size_t *nwarn,
    unsigned int *limits)
{
	struct ruleset		rs;
	struct rules_result	rr;
	struct target_source	src = { fake_each, msg };
	const char		*name;

	if (rules_compile(&rs, cf) == -1)
		return "compile-error";
	rules_evaluate(&rs, &src, &rr);
	name = rr.rr_decider ? rr.rr_decider->f_name : "-";
	if (nwarn)
		*nwarn = rr.rr_nwarn;
	if (limits)
		*limits = rr.rr_limit_hits;
	rules_free(&rs);
	return name;
}

static void
test_semantics(void)
{
	struct config	*cf = base_config();
	const char	*m1[] = { "header_from:(?i)mufg",
			    "header_from:!@(.*\\.)?mufg\\.jp>?$", NULL };
	const char	*a2[] = { "header_subject:invoice",
			    "envelope_rcpt:^ceo@", NULL };
	struct fake	 spoof = { { "header_from" },
			    { { "MUFG <x@evil.example>" } }, 1 };
	struct fake	 real = { { "header_from" },
			    { { "MUFG <info@bk.mufg.jp>" } }, 1 };
	struct fake	 rcpts = { { "envelope_rcpt" },
			    { { "a@x", "ceo@x" } }, 1 };
	struct fake	 none = { { "helo" }, { { "x" } }, 1 };

	add_filter(cf, "mufg", ACTION_REJECT, m1, NULL);
	add_filter(cf, "lure", ACTION_TEMPFAIL, NULL, a2);
	ok(strcmp(decide(cf, &spoof, NULL, NULL), "mufg") == 0,
	    "all match conditions hold: filter decides");
	ok(strcmp(decide(cf, &real, NULL, NULL), "-") == 0,
	    "negated condition fails on the official domain");
	ok(strcmp(decide(cf, &rcpts, NULL, NULL), "lure") == 0,
	    "any group holds when one value of a multi-valued target matches");
	ok(strcmp(decide(cf, &none, NULL, NULL), "-") == 0,
	    "nothing matches: no decider");
	config_free(cf);
}

static void
test_missing_and_order(void)
{
	struct config	*cf = base_config();
	const char	*m1[] = { "header_x-missing:^$", NULL };
	const char	*m2[] = { "header_x-missing:!.", NULL };
	const char	*w[] = { "helo:^evil", NULL };
	struct fake	 msg = { { "helo" }, { { "evil.example" } }, 1 };
	size_t		 nwarn = 0;

	add_filter(cf, "warn1", ACTION_WARN, w, NULL);
	add_filter(cf, "empty", ACTION_DISCARD, m1, NULL);
	add_filter(cf, "later", ACTION_REJECT, m2, NULL);
	ok(strcmp(decide(cf, &msg, &nwarn, NULL), "empty") == 0,
	    "a missing header is one empty value; first decisive filter wins");
	ok(nwarn == 1, "warn filter before the decider is collected");
	config_free(cf);
}

static void
test_limits(void)
{
	struct config	*cf = base_config();
	const char	*m[] = { "helo:^(a+)+$", NULL };
	static char	 longa[4096];
	struct fake	 msg = { { "helo" }, { { longa } }, 1 };
	unsigned int	 limits = 0;

	memset(longa, 'a', sizeof(longa) - 2);
	longa[sizeof(longa) - 2] = 'b';
	cf->cf_match_limit = 10000;
	add_filter(cf, "catastrophic", ACTION_REJECT, m, NULL);
	ok(strcmp(decide(cf, &msg, NULL, &limits), "-") == 0,
	    "catastrophic backtracking is cut and taken as no match");
	ok(limits == 1, "the limit hit is counted");
	config_free(cf);
}

static void
test_needs(void)
{
	struct config	*cf = base_config();
	const char	*h[] = { "header_subject:x", NULL };
	const char	*r[] = { "envelope_rcpt:x", NULL };
	unsigned int	 needs;

	ok(rules_needs(cf) == 0, "an empty rule set needs no optional step");
	add_filter(cf, "h", ACTION_WARN, h, NULL);
	add_filter(cf, "r", ACTION_QUARANTINE, r, NULL);
	needs = rules_needs(cf);
	ok((needs & (NEED_HEADERS | NEED_RCPT | NEED_ADDHDRS |
	    NEED_QUARANTINE)) == (NEED_HEADERS | NEED_RCPT | NEED_ADDHDRS |
	    NEED_QUARANTINE), "headers, rcpt, add-header and quarantine needed");
	ok(!(needs & NEED_HELO) && !(needs & NEED_CHGHDRS),
	    "helo and change-header not needed");
	config_free(cf);
}

static void
test_bad_pattern(void)
{
	char	err[256];

	ok(rules_check_pattern("(unclosed", err, sizeof(err)) == -1 &&
	    strstr(err, "offset") != NULL,
	    "a bad pattern is refused with PCRE2's offset: %s", err);
	ok(rules_check_pattern("(?i)三菱UFJ|ＭＵＦＧ", err, sizeof(err)) == 0,
	    "a UTF-8 pattern compiles");
}

int
main(void)
{
	log_init(1, LOG_ERR, NULL);
	test_semantics();
	test_missing_and_order();
	test_limits();
	test_needs();
	test_bad_pattern();
	return tap_done();
}
