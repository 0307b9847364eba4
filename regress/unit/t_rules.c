/*
 * Unit tests of the rule engine (rules.c): match/any/negation semantics,
 * multi-valued targets, missing values, configuration order, warn
 * filters, match limits and the steps a rule set needs; the literal
 * prefilter and the evaluation order, against plain evaluation and
 * against PCRE2 itself.
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

/* Calls of fake_each, per target, when counting. */
static unsigned int	fake_calls[TARGET_MAX];

/* A value offered as decode_each() offers it: without spaces for strip. */
static int
fake_offer(const struct cond *c, const char *v, value_fn fn, void *arg)
{
	char	buf[512];
	size_t	i, o = 0;

	if (!c->c_strip || !TARGET_IS_DECODED(c->c_target))
		return fn(arg, v, strlen(v));
	/*
	 * NUL-terminated like the value: PCRE2 10.42's JIT reads the byte
	 * after an invalid UTF-8 subject for \b (and answers by it).
	 */
	for (i = 0; v[i] != '\0' && o < sizeof(buf) - 1; i++)
		if (v[i] != ' ')
			buf[o++] = v[i];
	buf[o] = '\0';
	return fn(arg, buf, o);
}

static int
fake_each(void *ctx, const struct cond *c, value_fn fn, void *arg)
{
	struct fake	*f = ctx;
	const char	*want = config_target_name(c->c_target);
	size_t		 i, j;
	int		 n = 0;
	char		 key[64];

	fake_calls[c->c_target]++;
	if (c->c_name != NULL)
		snprintf(key, sizeof(key), "%s%s", want, c->c_name);
	else
		snprintf(key, sizeof(key), "%s", want);
	for (i = 0; i < f->n; i++) {
		if (strcmp(f->target_name[i], key) != 0)
			continue;
		for (j = 0; j < 4 && f->values[i][j] != NULL; j++) {
			n++;
			if (fake_offer(c, f->values[i][j], fn, arg))
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

/* What the prefilter takes from tricky patterns; "" is no prefilter. */
static void
test_prefilter_text(void)
{
	static const struct {
		const char	*re;
		const char	*want;
	} t[] = {
		{ "(?i)MUFG", "mufg" },
		{ "foo|bar", "foo|bar" },
		{ "ab?c", "a & c" },
		{ "abc*", "ab" },
		{ "(?:abc)?def", "def" },
		{ "x{0,3}yz", "yz" },
		{ "a{2}b", "a & b" },
		{ "a{1}bc", "abc" },
		{ "a{,3}b", "" },
		{ "[abc]def", "def" },
		{ "[]a]x|[^]]y|[\\]]z", "x|y|z" },
		{ "[[:alpha:]]xy", "xy" },
		{ "\\Qa.b\\E+", "a. & b" },
		{ "\\Qa|b)", "a\\x7Cb)" },
		{ "x\\Q\\E", "" },
		{ "(?=abc)xy", "xy" },
		{ "(?<!no)yes", "yes" },
		{ "a(?#note)b", "ab" },
		{ "(a|b)\\1", "" },
		{ "(?x)a b", "" },
		{ "(*UTF)abc", "" },
		{ "(?i:A)Bc", "abc" },
		{ "(?|(a)|(b))cd", "acd|bcd" },
		{ "(?:foo|)bar", "bar" },
		{ "\\x41\\x{42}C", "abc" },
		{ "\\bword\\b", "word" },
		{ "\\d+abc\\s", "abc" },
		{ "\\@\\.\\-", "@.-" },
		{ "(?i)stra\\x{DF}e", "stra & e" },
		{ "(?i)\\x{212A}elvin", "elvin" },
		{ "(?i)\\x{17F}", "" },
		{ "(?i)アカウント.{0,9}停止", "アカウント & 停止" },
		{ "三菱\\s*UFJ", "三菱 & ufj" },
		{ "(?i)école", "cole" },
		{ "(?i)(?:pay|PAY)pal", "paypal" },
		{ "(?:ab|cd)(?:ef|gh)", "abef|abgh|cdef|cdgh" },
		{ "(?i)(?:mufg(?![a-z])|三菱\\s*UFJ)|@[^>\\s]*\\bmufg\\b",
		    "mufg|三菱" },
		{ "(?<name>abc)(?P<n2>def)", "abcdef" },
		{ "(?P=name)x", "" },
		{ "(?1)(a)", "" },
		{ "a(?(1)b|c)", "" },
		{ ".", "" },
		{ "^$", "" },
	};
	char	buf[256];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		(void)rules_prefilter_text(t[i].re, buf, sizeof(buf));
		ok(strcmp(buf, t[i].want) == 0, "prefilter of %s: '%s' (%s)",
		    t[i].re, t[i].want, buf);
	}
}

#define RULES_OPTIONS	(PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF)

/* What PCRE2 alone says of a condition on these values. */
static int
truth(const char *spec, const char *const *values, int strip)
{
	struct cond		 c = mkcond(spec);
	pcre2_code		*re;
	pcre2_match_data	*md;
	int			 code, matched = 0;
	PCRE2_SIZE		 off;
	size_t			 i, j, o;
	char			 buf[512];

	re = pcre2_compile((PCRE2_SPTR)c.c_pattern, PCRE2_ZERO_TERMINATED,
	    RULES_OPTIONS, &code, &off, NULL);
	if (re == NULL)
		abort();
	/* As the engine runs it: JIT and interpreter differ on bad UTF-8. */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	md = pcre2_match_data_create(1, NULL);
	for (i = 0; values[i] != NULL && !matched; i++) {
		for (j = o = 0; values[i][j] != '\0'; j++)
			if (!strip || values[i][j] != ' ')
				buf[o++] = values[i][j];
		buf[o] = '\0';
		matched = pcre2_match(re, (PCRE2_SPTR)buf, o, 0, 0, md,
		    NULL) >= 0;
	}
	if (i == 0)
		matched = pcre2_match(re, (PCRE2_SPTR)"", 0, 0, 0, md,
		    NULL) >= 0;
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	free(c.c_pattern);
	free(c.c_name);
	return c.c_negate ? !matched : matched;
}

/* Whether a one-condition filter holds: plan or plain. */
static int
holds(const char *spec, const char *const *values, int strip, int plain)
{
	struct config		*cf = base_config();
	const char		*m[] = { spec, NULL };
	struct fake		 msg;
	struct ruleset		 rs;
	struct rules_result	 rr;
	struct target_source	 src = { fake_each, &msg };
	size_t			 i;
	int			 held;

	memset(&msg, 0, sizeof(msg));
	msg.target_name[0] = "decode_subject";
	for (i = 0; i < 4 && values[i] != NULL; i++)
		msg.values[0][i] = values[i];
	msg.n = i > 0;
	add_filter(cf, "f", ACTION_REJECT, m, NULL);
	cf->cf_filters[0].f_match[0].c_strip = strip;
	if (rules_compile(&rs, cf) == -1)
		abort();
	rs.rs_plain = plain;
	rules_evaluate(&rs, &src, &rr);
	held = rr.rr_decider != NULL;
	rules_free(&rs);
	config_free(cf);
	return held;
}

/*
 * Patterns and values where a naive literal prefilter goes wrong: the
 * engine must agree with PCRE2, with and without the prefilter.
 */
static void
test_prefilter_cases(void)
{
	static const struct {
		const char	*spec;
		const char	*v[3];
		int		 strip;
	} t[] = {
		{ "decode_subject:(?i)kelvin", { "\xE2\x84\xAA" "elvin" }, 0 },
		{ "decode_subject:(?i)ask", { "a\xC5\xBFk" }, 0 },
		{ "decode_subject:(?i)ASK", { "A\xC5\xBFK" }, 0 },
		{ "decode_subject:(?i)\\x{17F}", { "S" }, 0 },
		{ "decode_subject:(?i)\\x{212A}", { "k" }, 0 },
		{ "decode_subject:ab?c", { "ac" }, 0 },
		{ "decode_subject:foo|bar", { "xbarx" }, 0 },
		{ "decode_subject:(?:abc)?def", { "def" }, 0 },
		{ "decode_subject:x{0,3}yz", { "yz" }, 0 },
		{ "decode_subject:[abc]def", { "adef" }, 0 },
		{ "decode_subject:\\Qa.b\\E+", { "a.bbb" }, 0 },
		{ "decode_subject:(?=abc)a", { "abc" }, 0 },
		{ "decode_subject:(?=abc)x", { "abc" }, 0 },
		{ "decode_subject:(?i)stra\\x{DF}e",
		    { "STRA\xE1\xBA\x9E" "E" }, 0 },
		{ "decode_subject:(?i)\\x{C9}cole", { "\xC3\xA9" "cole" }, 0 },
		{ "decode_subject:三菱\\s*UFJ", { "三菱 ufj" }, 0 },
		{ "decode_subject:三菱\\s*UFJ", { "三菱UFJ" }, 0 },
		{ "decode_subject:(?i)アカウント", { "アカウント停止" }, 0 },
		{ "decode_subject:!(?i)@mufg\\.jp", { "x@evil.example" }, 0 },
		{ "decode_subject:!(?i)@mufg\\.jp", { "x@MUFG.JP" }, 0 },
		{ "decode_subject:!(?i)@mufg\\.jp", { NULL }, 0 },
		{ "decode_subject:\\x41BC", { "abc" }, 0 },
		{ "decode_subject:\\x41BC", { "xABC" }, 0 },
		{ "decode_subject:(a|b)\\1", { "aa" }, 0 },
		{ "decode_subject:(?i)abc", { "\xFF\xFE" "ABC" }, 0 },
		{ "decode_subject:a.c", { "a\nc" }, 0 },
		{ "decode_subject:(?i:A)B", { "aB" }, 0 },
		{ "decode_subject:(?i:A)B", { "ab" }, 0 },
		{ "decode_subject:(?:foo|)bar", { "bar" }, 0 },
		{ "decode_subject:a(?i)b|c", { "C" }, 0 },
		{ "decode_subject:a{2}b", { "ab" }, 0 },
		{ "decode_subject:a{2}b", { "xaab" }, 0 },
		{ "decode_subject:foo$", { "foo\n" }, 0 },
		{ "decode_subject:\\N{U+0041}", { "A" }, 0 },
		{ "decode_subject:(?x) a b c", { "abc" }, 0 },
		{ "decode_subject:\\Qab", { "ab" }, 0 },
		{ "decode_subject:^$", { NULL }, 0 },
		{ "decode_subject:abc", { NULL }, 0 },
		{ "decode_subject:abc", { "x", "y", "zabc" }, 0 },
		{ "decode_subject:a b", { "a b" }, 1 },
		{ "decode_subject:ab", { "a b" }, 1 },
		{ "decode_subject:!a b", { "a b" }, 1 },
		{ "decode_subject:(?i)paypal", { "PAY PAL" }, 1 },
	};
	size_t	i;
	int	want, plan, plain;
	char	esc[128];

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		want = truth(t[i].spec, t[i].v, t[i].strip);
		plan = holds(t[i].spec, t[i].v, t[i].strip, 0);
		plain = holds(t[i].spec, t[i].v, t[i].strip, 1);
		log_escape(esc, sizeof(esc), t[i].v[0] ? t[i].v[0] : "(none)",
		    strlen(t[i].v[0] ? t[i].v[0] : "(none)"));
		ok(plan == want && plain == want, "%s%s on '%s': %s",
		    t[i].spec, t[i].strip ? " (strip)" : "", esc,
		    want ? "holds" : "not");
	}
}

static unsigned long	rnd_state = 12345;

static unsigned int
rnd(unsigned int n)
{
	rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned int)(rnd_state >> 33) % n;
}

static const char *const rnd_words[] = {
	"pay", "PAL", "acc", "ount", "k", "s", "\xC3\x9F", "\xC3\xA9", "三菱",
	"UFJ", "a", "b", "ab", "ba", "x.y", "\xEF\xBD\x93", "@", "-", "cd",
};

/* A random pattern of the constructs the prefilter parses. */
static void
rnd_pattern(char *buf, size_t size, int depth)
{
	static const char *const atoms[] = {
		".", "\\w", "\\s", "\\d", "[a-c]", "[^x]", "\\b", "^", "$",
		"\\x{212A}", "\\x{17F}", "\\x41", "\\.", "\\Qa|b\\E", "(?i)",
		"(?-i)", "[[:alpha:]]", "\\p{L}", "(?#c)", "\\K",
	};
	static const char *const quants[] = {
		"?", "*", "+", "{0,2}", "{1,3}", "{2}", "{1}", "+?", "?+",
	};
	size_t	len = strlen(buf);
	int	i, n;

	if (len + 64 >= size)
		return;
	switch (depth > 3 ? rnd(3) : rnd(9)) {
	case 0: case 1:
		strlcat(buf, rnd_words[rnd(sizeof(rnd_words) /
		    sizeof(rnd_words[0]))], size);
		break;
	case 2:
		strlcat(buf, atoms[rnd(sizeof(atoms) / sizeof(atoms[0]))],
		    size);
		break;
	case 3: case 4:
		for (i = 0, n = 2 + rnd(2); i < n; i++)
			rnd_pattern(buf, size, depth + 1);
		break;
	default:
		strlcat(buf, rnd(5) == 0 ? "(?=" : rnd(4) == 0 ? "(?i:" :
		    rnd(3) == 0 ? "(" : "(?:", size);
		for (i = 0, n = 1 + rnd(3); i < n; i++) {
			if (i > 0)
				strlcat(buf, "|", size);
			rnd_pattern(buf, size, depth + 1);
		}
		strlcat(buf, ")", size);
		break;
	}
	if (rnd(4) == 0 && strlen(buf) > len)
		strlcat(buf, quants[rnd(sizeof(quants) / sizeof(quants[0]))],
		    size);
}

static void
rnd_value(char *buf, size_t size)
{
	static const char *const extra[] = {
		"\xE2\x84\xAA", "\xC5\xBF", "\xE1\xBA\x9E", "\xC3\x89", " ",
		"PAY", "Acc", "X.Y", "\xFF", "\n", "AB",
	};
	int	i, n = rnd(8);

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		strlcat(buf, rnd(3) == 0 ? extra[rnd(sizeof(extra) /
		    sizeof(extra[0]))] : rnd_words[rnd(sizeof(rnd_words) /
		    sizeof(rnd_words[0]))], size);
}

/* A failed random case, as a TAP comment. */
static void
diag_case(const char *spec, const char *v, int want, int plan, int plain)
{
	char	esc[512];

	log_escape(esc, sizeof(esc), v, strlen(v));
	printf("# %s on '%s': PCRE2 %d, plan %d, plain %d\n", spec, esc,
	    want, plan, plain);
}

/*
 * Random patterns against random values, as warn filters (so that all
 * are evaluated): the filters that hold are the same with and without
 * the prefilter, and each agrees with PCRE2.
 */
static void
test_prefilter_random(void)
{
	struct config		*cf = base_config();
	struct ruleset		 rs;
	struct rules_result	 rr;
	struct fake		 msg;
	struct target_source	 src = { fake_each, &msg };
	static char		 pats[600][256], vals[300][128];
	static char		 specs[600][300];
	static unsigned char	 got[2][600];
	const char		*m[2] = { NULL, NULL };
	size_t			 i, j, k, npat = 0, bad = 0, holds_n = 0;
	pcre2_code		*re;
	int			 code, p, filtered = 0;
	PCRE2_SIZE		 off;
	char			 name[16], buf[256];

	while (npat < 600) {
		pats[npat][0] = '\0';
		rnd_pattern(pats[npat], sizeof(pats[npat]), 0);
		re = pcre2_compile((PCRE2_SPTR)pats[npat],
		    PCRE2_ZERO_TERMINATED, RULES_OPTIONS, &code, &off, NULL);
		if (re == NULL || pats[npat][0] == '\0')
			continue;
		pcre2_code_free(re);
		filtered += rules_prefilter_text(pats[npat], buf,
		    sizeof(buf)) > 0;
		strlcpy(specs[npat], rnd(5) == 0 ? "decode_subject:!" :
		    "decode_subject:", sizeof(specs[npat]));
		strlcat(specs[npat], pats[npat], sizeof(specs[npat]));
		snprintf(name, sizeof(name), "r%zu", npat);
		m[0] = specs[npat];
		add_filter(cf, name, ACTION_WARN, m, NULL);
		cf->cf_filters[npat].f_match[0].c_strip = rnd(6) == 0;
		npat++;
	}
	if (rules_compile(&rs, cf) == -1)
		abort();
	for (i = 0; i < 300; i++) {
		const char	*v[2] = { vals[i], NULL };

		rnd_value(vals[i], sizeof(vals[i]));
		memset(&msg, 0, sizeof(msg));
		msg.target_name[0] = "decode_subject";
		msg.values[0][0] = vals[i];
		msg.n = 1;
		for (p = 0; p < 2; p++) {
			memset(got[p], 0, sizeof(got[p]));
			rs.rs_plain = p;
			rules_evaluate(&rs, &src, &rr);
			for (k = 0; k < rr.rr_nwarn; k++)
				got[p][rr.rr_warn[k] - cf->cf_filters] = 1;
		}
		for (j = 0; j < npat; j++) {
			int	want = truth(specs[j], v,
				    cf->cf_filters[j].f_match[0].c_strip);

			holds_n += want;
			if (got[0][j] != want || got[1][j] != want) {
				if (bad++ < 10)
					diag_case(specs[j], vals[i], want,
					    got[0][j], got[1][j]);
			}
		}
	}
	ok(bad == 0, "%zu random patterns (%d prefiltered) on 300 values: "
	    "%zu hold, plan, plain and PCRE2 agree (%zu differ)", npat,
	    filtered, holds_n, bad);
	ok(filtered > 200, "most random patterns get a prefilter");
	rules_free(&rs);
	config_free(cf);
}

/*
 * The characters lit_caseless_safe() in rules.c keeps under (?i) must
 * have no other case in this PCRE2: no character outside the ranges
 * matches one inside them caselessly; and ASCII letters have no other
 * forms than long s and the Kelvin sign, which the scan reads as s, k.
 */
static void
test_caseless_sets(void)
{
	static const char	 safe[] = "(?i)^[\\x{2000}-\\x{206F}"
	    "\\x{20A0}-\\x{20CF}\\x{2E80}-\\x{A4CF}\\x{AC00}-\\x{D7A3}"
	    "\\x{F900}-\\x{FAFF}\\x{FF61}-\\x{FF9F}\\x{20000}-\\x{3FFFF}]$";
	static const char	 safe_cs[] = "^[\\x{2000}-\\x{206F}"
	    "\\x{20A0}-\\x{20CF}\\x{2E80}-\\x{A4CF}\\x{AC00}-\\x{D7A3}"
	    "\\x{F900}-\\x{FAFF}\\x{FF61}-\\x{FF9F}\\x{20000}-\\x{3FFFF}]$";
	pcre2_code		*re[3];
	pcre2_match_data	*md = pcre2_match_data_create(1, NULL);
	const char		*pat[3] = { safe, safe_cs, "(?i)^[a-z]$" };
	uint32_t		 cp;
	unsigned int		 outside = 0, ascii_other = 0, i;
	int			 code, m[3];
	PCRE2_SIZE		 off;
	unsigned char		 u[4];
	size_t			 n;

	for (i = 0; i < 3; i++)
		re[i] = pcre2_compile((PCRE2_SPTR)pat[i],
		    PCRE2_ZERO_TERMINATED, RULES_OPTIONS, &code, &off, NULL);
	for (cp = 0x80; cp <= 0x10FFFF; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		if (cp < 0x800) {
			u[0] = 0xC0 | cp >> 6;
			u[1] = 0x80 | (cp & 0x3F);
			n = 2;
		} else if (cp < 0x10000) {
			u[0] = 0xE0 | cp >> 12;
			u[1] = 0x80 | ((cp >> 6) & 0x3F);
			u[2] = 0x80 | (cp & 0x3F);
			n = 3;
		} else {
			u[0] = 0xF0 | cp >> 18;
			u[1] = 0x80 | ((cp >> 12) & 0x3F);
			u[2] = 0x80 | ((cp >> 6) & 0x3F);
			u[3] = 0x80 | (cp & 0x3F);
			n = 4;
		}
		for (i = 0; i < 3; i++)
			m[i] = pcre2_match(re[i], u, n, 0, 0, md, NULL) >= 0;
		if (m[0] != m[1])
			outside++;
		if (m[2] && cp != 0x17F && cp != 0x212A)
			ascii_other++;
	}
	ok(outside == 0, "no character outside the caseless-safe ranges "
	    "is a case form of one inside (%u are)", outside);
	ok(ascii_other == 0, "ASCII letters have no case forms but U+017F "
	    "and U+212A (%u others)", ascii_other);
	for (i = 0; i < 3; i++)
		pcre2_code_free(re[i]);
	pcre2_match_data_free(md);
}

/*
 * Gates: a filter of any conditions on one key is passed over only when
 * none of their literals is present; a negated or unfiltered first
 * condition gives no gate.
 */
static void
test_gates(void)
{
	struct {
		const char	*match[3];
		const char	*any[4];
		int		 holds;
	} t[] = {
		{ { NULL }, { "decode_subject:foo", "decode_subject:bar" }, 1 },
		{ { NULL }, { "decode_subject:foo", "decode_subject:qux" }, 0 },
		{ { NULL }, { "decode_subject:foo", "decode_from:sender" }, 1 },
		{ { NULL }, { "decode_subject:foo", "decode_subject:ba." }, 1 },
		{ { NULL }, { "decode_subject:foo", "decode_subject:!qux" },
		    1 },
		{ { "decode_subject:!qux" }, { NULL }, 1 },
		{ { "decode_subject:!qux", "decode_from:sender" }, { NULL },
		    1 },
		{ { "decode_from:sender" }, { "decode_subject:foo",
		    "decode_subject:bar" }, 1 },
		{ { "decode_from:nobody" }, { "decode_subject:bar" }, 0 },
		{ { "decode_subject:!qux" }, { "decode_from:nobody",
		    "decode_subject:bar" }, 1 },
		{ { "decode_subject:!qux" }, { "decode_from:nobody",
		    "decode_subject:qux" }, 0 },
		{ { "decode_subject:!qux" }, { "decode_from:nobody",
		    "decode_subject:bar", "decode_text:none" }, 1 },
		{ { "decode_subject:!qux" }, { "decode_from:send",
		    "decode_from:nobody" }, 1 },
	};
	struct fake		 msg = { { "decode_subject", "decode_from" },
				    { { "a bar" }, { "the sender" } }, 2 };
	struct target_source	 src = { fake_each, &msg };
	struct ruleset		 rs;
	struct rules_result	 rr;
	struct config		*cf;
	size_t			 i;
	int			 plain, got[2];

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cf = base_config();
		add_filter(cf, "f", ACTION_REJECT, t[i].match[0] ?
		    t[i].match : NULL, t[i].any[0] ? t[i].any : NULL);
		if (rules_compile(&rs, cf) == -1)
			abort();
		for (plain = 0; plain < 2; plain++) {
			rs.rs_plain = plain;
			rules_evaluate(&rs, &src, &rr);
			got[plain] = rr.rr_decider != NULL;
		}
		ok(got[0] == t[i].holds && got[1] == t[i].holds,
		    "gate %zu: %s %s ... %s", i, t[i].match[0] ?
		    t[i].match[0] : "", t[i].any[0] ? t[i].any[0] : "",
		    t[i].holds ? "holds" : "not");
		rules_free(&rs);
		config_free(cf);
	}
}

/*
 * Strip and collapse conditions on one target see different values, so
 * the prefilter scans them apart, whichever comes first.
 */
static void
test_strip_keys(void)
{
	const char		*sp[] = { "decode_subject:(?i)pay pal",
				    NULL };
	const char		*st[] = { "decode_subject:(?i)paypal", NULL };
	struct fake		 msg = { { "decode_subject" },
				    { { "PAY PAL" } }, 1 };
	struct target_source	 src = { fake_each, &msg };
	struct ruleset		 rs;
	struct rules_result	 rr;
	struct config		*cf;
	int			 order;

	for (order = 0; order < 2; order++) {
		cf = base_config();
		add_filter(cf, "a", ACTION_WARN, order ? st : sp, NULL);
		add_filter(cf, "b", ACTION_WARN, order ? sp : st, NULL);
		cf->cf_filters[order ? 0 : 1].f_match[0].c_strip = 1;
		if (rules_compile(&rs, cf) == -1)
			abort();
		rules_evaluate(&rs, &src, &rr);
		ok(rr.rr_nwarn == 2, "a strip and a collapse condition on one "
		    "target both hold (%s first)",
		    order ? "strip" : "collapse");
		rules_free(&rs);
		config_free(cf);
	}
}

/*
 * The order within a filter: the envelope before the body, so that a
 * message the envelope refutes is never asked for its text; and one
 * scan of a target for many prefiltered filters.
 */
static void
test_order_and_scan(void)
{
	struct config		*cf = base_config();
	const char		*m[] = { "decode_text:(?i)invoice",
				    "envelope_from:^billing@", NULL };
	struct fake		 msg = { { "envelope_from", "decode_text",
				    "decode_subject" }, { { "x@example" },
				    { "your invoice" }, { "hello" } }, 3 };
	struct ruleset		 rs;
	struct rules_result	 rr;
	struct target_source	 src = { fake_each, &msg };
	char			 spec[64], name[32];
	const char		*b[2] = { spec, NULL };
	int			 i;

	add_filter(cf, "body_then_envelope", ACTION_REJECT, m, NULL);
	for (i = 0; i < 50; i++) {
		snprintf(spec, sizeof(spec), "decode_subject:(?i)brand%d", i);
		snprintf(name, sizeof(name), "brand%d", i);
		add_filter(cf, name, ACTION_REJECT, b, NULL);
	}
	if (rules_compile(&rs, cf) == -1)
		abort();
	memset(fake_calls, 0, sizeof(fake_calls));
	rules_evaluate(&rs, &src, &rr);
	ok(rr.rr_decider == NULL && fake_calls[TARGET_DECODE_TEXT] == 0,
	    "the envelope is tried before the body: text not asked for");
	ok(fake_calls[TARGET_DECODE_SUBJECT] == 1,
	    "50 filters on the subject: one scan, no regex (%u calls)",
	    fake_calls[TARGET_DECODE_SUBJECT]);
	memset(fake_calls, 0, sizeof(fake_calls));
	rs.rs_plain = 1;
	rules_evaluate(&rs, &src, &rr);
	ok(rr.rr_decider == NULL && fake_calls[TARGET_DECODE_TEXT] == 1 &&
	    fake_calls[TARGET_DECODE_SUBJECT] == 50,
	    "plain evaluation: configuration order, every regex");
	rules_free(&rs);
	config_free(cf);
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
	test_prefilter_text();
	test_prefilter_cases();
	test_prefilter_random();
	test_caseless_sets();
	test_order_and_scan();
	test_strip_keys();
	test_gates();
	return tap_done();
}
