/*
 * The rule engine: PCRE2 patterns compiled once per process (JIT for
 * those that run often, see rules_jit()), evaluated in configuration
 * order against the values a target source offers.  Match and depth
 * limits bound every match; a match cut by a limit counts as no match
 * and is logged.
 *
 * Most filters hold for few messages, so the engine works at refuting
 * them cheaply (see EVALUATION in phishmilter.conf(5)): the conditions
 * of a filter are tried in the order they are cheapest to refute, and a
 * literal prefilter skips a regex when a value lacks a string that every
 * match of it contains.  Neither changes what holds; rs_plain turns both
 * off, so that a test can compare.  What may differ is how many matches
 * a limit cut (rr_limit_hits) and what got decoded on the way, as fewer
 * regexes run: never the filters that hold.
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

/*
 * The literal prefilter, compile time.  From each pattern come sets of
 * literal strings such that any match contains one string of every set;
 * a value in which one set has no string present cannot match, and the
 * regex need not run on it.  The parser is conservative: a construct it
 * does not know in full gives no set, or makes it give up on the whole
 * pattern.  Case is ignored throughout: literals are kept with ASCII
 * folded to lower case and values are scanned folded (a case-sensitive
 * pattern only gets a weaker prefilter), and a non-ASCII character is
 * kept only where (?i) cannot give it another form; so option settings
 * need not be followed, except (?x), which changes the syntax.
 */

#define LIT_MAXLEN	48	/* bytes of one literal */
#define LIT_MAXSET	128	/* literals of one set */
#define LIT_MAXCONJ	3	/* sets kept for one pattern */
#define LIT_MAXDEPTH	32	/* groups within groups */

struct lit {
	size_t		 l_len;
	char		 l_s[LIT_MAXLEN];
};

struct litset {
	struct lit	*ls_v;
	size_t		 ls_n;
};

/*
 * What a piece of a pattern tells: with li_exact, every match of it is
 * one of li_set; otherwise every match contains one string of each of
 * li_req (none: nothing is known).
 */
struct litinfo {
	int		 li_exact;
	struct litset	 li_set;
	struct litset	 li_req[LIT_MAXCONJ];
	size_t		 li_nreq;
};

struct litparse {
	const char	*lp_p;		/* NUL-terminated pattern */
	int		 lp_depth;
	int		 lp_inq;	/* inside \Q...\E */
	int		 lp_fail;	/* gave up */
};

static void	lit_alt(struct litparse *, struct litinfo *);

static void
lit_set_free(struct litset *s)
{
	free(s->ls_v);
	s->ls_v = NULL;
	s->ls_n = 0;
}

/* The set of one string, s of len bytes ("" for the empty string). */
static void
lit_set_one(struct litset *s, const char *str, size_t len)
{
	s->ls_v = xcalloc(1, sizeof(*s->ls_v));
	s->ls_n = 1;
	memcpy(s->ls_v[0].l_s, str, len);
	s->ls_v[0].l_len = len;
}

static void
lit_info_free(struct litinfo *li)
{
	size_t	i;

	lit_set_free(&li->li_set);
	for (i = 0; i < li->li_nreq; i++)
		lit_set_free(&li->li_req[i]);
	memset(li, 0, sizeof(*li));
}

/* Nothing known: matches anything, contains nothing for sure. */
static void
lit_info_unknown(struct litinfo *li)
{
	memset(li, 0, sizeof(*li));
}

static void
lit_info_string(struct litinfo *li, const char *s, size_t len)
{
	memset(li, 0, sizeof(*li));
	li->li_exact = 1;
	lit_set_one(&li->li_set, s, len);
}

/* Longer shortest strings are rarer; fewer strings break ties. */
static int
lit_set_score(const struct litset *s)
{
	size_t	i, min = LIT_MAXLEN;

	if (s->ls_n == 0)
		return -1;
	for (i = 0; i < s->ls_n; i++)
		if (s->ls_v[i].l_len < min)
			min = s->ls_v[i].l_len;
	if (min == 0)
		return -1;
	return (int)(min > 16 ? 16 : min) * 256 - (int)s->ls_n;
}

/* Adds a required set (taken), keeping the LIT_MAXCONJ best. */
static void
lit_req_add(struct litinfo *li, struct litset *s)
{
	size_t	i, worst = 0;
	int	score = lit_set_score(s);

	if (score < 0) {
		lit_set_free(s);
		return;
	}
	if (li->li_nreq < LIT_MAXCONJ) {
		li->li_req[li->li_nreq++] = *s;
		return;
	}
	for (i = 1; i < li->li_nreq; i++)
		if (lit_set_score(&li->li_req[i]) <
		    lit_set_score(&li->li_req[worst]))
			worst = i;
	if (score > lit_set_score(&li->li_req[worst])) {
		lit_set_free(&li->li_req[worst]);
		li->li_req[worst] = *s;
	} else
		lit_set_free(s);
}

/* Takes the one set that best stands for li, or returns -1. */
static int
lit_info_take_best(struct litinfo *li, struct litset *out)
{
	size_t	i, best = 0;

	if (li->li_exact) {
		if (lit_set_score(&li->li_set) < 0)
			return -1;
		*out = li->li_set;
		memset(&li->li_set, 0, sizeof(li->li_set));
		return 0;
	}
	if (li->li_nreq == 0)
		return -1;
	for (i = 1; i < li->li_nreq; i++)
		if (lit_set_score(&li->li_req[i]) >
		    lit_set_score(&li->li_req[best]))
			best = i;
	*out = li->li_req[best];
	memset(&li->li_req[best], 0, sizeof(li->li_req[best]));
	return 0;
}

/* a and b concatenated, every way; -1 when too many or too long. */
static int
lit_set_cross(const struct litset *a, const struct litset *b,
    struct litset *out)
{
	size_t	i, j;

	if (a->ls_n * b->ls_n > LIT_MAXSET)
		return -1;
	for (i = 0; i < a->ls_n; i++)
		for (j = 0; j < b->ls_n; j++)
			if (a->ls_v[i].l_len + b->ls_v[j].l_len > LIT_MAXLEN)
				return -1;
	out->ls_v = xcalloc(a->ls_n * b->ls_n, sizeof(*out->ls_v));
	out->ls_n = 0;
	for (i = 0; i < a->ls_n; i++)
		for (j = 0; j < b->ls_n; j++) {
			struct lit	*l = &out->ls_v[out->ls_n++];

			memcpy(l->l_s, a->ls_v[i].l_s, a->ls_v[i].l_len);
			memcpy(l->l_s + a->ls_v[i].l_len, b->ls_v[j].l_s,
			    b->ls_v[j].l_len);
			l->l_len = a->ls_v[i].l_len + b->ls_v[j].l_len;
		}
	return 0;
}

/* Appends l to every string of s, in place; -1 when one gets too long. */
static int
lit_set_append(struct litset *s, const struct lit *l)
{
	size_t	i;

	for (i = 0; i < s->ls_n; i++)
		if (s->ls_v[i].l_len + l->l_len > LIT_MAXLEN)
			return -1;
	for (i = 0; i < s->ls_n; i++) {
		memcpy(s->ls_v[i].l_s + s->ls_v[i].l_len, l->l_s, l->l_len);
		s->ls_v[i].l_len += l->l_len;
	}
	return 0;
}

/* a gets b's strings (b is emptied); -1 when too many. */
static int
lit_set_union(struct litset *a, struct litset *b)
{
	if (a->ls_n + b->ls_n > LIT_MAXSET)
		return -1;
	a->ls_v = xreallocarray(a->ls_v, a->ls_n + b->ls_n, sizeof(*a->ls_v));
	memcpy(a->ls_v + a->ls_n, b->ls_v, b->ls_n * sizeof(*b->ls_v));
	a->ls_n += b->ls_n;
	lit_set_free(b);
	return 0;
}

/* a becomes "a or b"; b is freed. */
static void
lit_info_or(struct litinfo *a, struct litinfo *b)
{
	struct litset	sa = { NULL, 0 }, sb = { NULL, 0 };

	if (a->li_exact && b->li_exact) {
		if (lit_set_union(&a->li_set, &b->li_set) == 0) {
			lit_info_free(b);
			return;
		}
	}
	if (lit_info_take_best(a, &sa) == -1) {
		lit_info_free(a);
		lit_info_free(b);
		return;
	}
	if (lit_info_take_best(b, &sb) == -1 || lit_set_union(&sa, &sb)) {
		lit_set_free(&sa);
		lit_set_free(&sb);
		lit_info_free(a);
		lit_info_free(b);
		return;
	}
	lit_info_free(a);
	lit_info_free(b);
	a->li_req[0] = sa;
	a->li_nreq = 1;
}

/*
 * Characters that (?i) leaves alone, as PCRE2 has no other case for them
 * (regress/unit/t_rules.c checks this against the PCRE2 it runs with):
 * punctuation, currency signs, CJK, kana, Hangul, Yi.  Other non-ASCII
 * characters (é, Greek, Cyrillic, the Kelvin sign, long s) are not kept.
 */
static int
lit_caseless_safe(uint32_t cp)
{
	return (cp >= 0x2000 && cp <= 0x206F) ||
	    (cp >= 0x20A0 && cp <= 0x20CF) ||
	    (cp >= 0x2E80 && cp <= 0xA4CF) ||
	    (cp >= 0xAC00 && cp <= 0xD7A3) ||
	    (cp >= 0xF900 && cp <= 0xFAFF) ||
	    (cp >= 0xFF61 && cp <= 0xFF9F) ||
	    (cp >= 0x20000 && cp <= 0x3FFFF);
}

/* One character of the pattern, as a literal if it can be one. */
static void
lit_char(struct litinfo *li, uint32_t cp)
{
	char	buf[4];

	if (cp == 0 || (cp >= 0x80 && !lit_caseless_safe(cp))) {
		lit_info_unknown(li);
		return;
	}
	if (cp < 0x80) {
		buf[0] = (char)ascii_tolower((int)cp);
		lit_info_string(li, buf, 1);
	} else if (cp < 0x800) {
		buf[0] = (char)(0xC0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3F));
		lit_info_string(li, buf, 2);
	} else if (cp < 0x10000) {
		buf[0] = (char)(0xE0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		buf[2] = (char)(0x80 | (cp & 0x3F));
		lit_info_string(li, buf, 3);
	} else {
		buf[0] = (char)(0xF0 | (cp >> 18));
		buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		buf[3] = (char)(0x80 | (cp & 0x3F));
		lit_info_string(li, buf, 4);
	}
}

/* A UTF-8 character of the pattern (PCRE2 checked it is valid). */
static uint32_t
lit_next_cp(struct litparse *lp)
{
	const unsigned char	*p = (const unsigned char *)lp->lp_p;
	uint32_t		 cp;
	int			 n, i;

	if (*p < 0x80)
		n = 0, cp = *p;
	else if ((*p & 0xE0) == 0xC0)
		n = 1, cp = *p & 0x1F;
	else if ((*p & 0xF0) == 0xE0)
		n = 2, cp = *p & 0x0F;
	else if ((*p & 0xF8) == 0xF0)
		n = 3, cp = *p & 0x07;
	else {
		lp->lp_fail = 1;
		return 0;
	}
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			lp->lp_fail = 1;
			return 0;
		}
		cp = cp << 6 | (p[i] & 0x3F);
	}
	lp->lp_p += n + 1;
	return cp;
}

/* \xhh or \x{h...}, after the x. */
static uint32_t
lit_hex(struct litparse *lp)
{
	uint32_t	cp = 0;
	int		n = 0, v, brace = *lp->lp_p == '{';

	if (brace)
		lp->lp_p++;
	while ((v = ascii_hexval((unsigned char)*lp->lp_p)) >= 0 &&
	    (brace ? n < 8 : n < 2)) {
		cp = cp << 4 | (uint32_t)v;
		lp->lp_p++;
		n++;
	}
	if (n == 0 || (brace && *lp->lp_p++ != '}'))
		lp->lp_fail = 1;
	return cp;
}

/* A character inside \Q...\E; the \E right after it is taken too. */
static void
lit_quoted(struct litparse *lp, struct litinfo *li)
{
	lit_char(li, lit_next_cp(lp));
	if (lp->lp_p[0] == '\\' && lp->lp_p[1] == 'E') {
		lp->lp_p += 2;
		lp->lp_inq = 0;
	}
}

/* \p{...}, \pL and friends, after the p. */
static void
lit_property(struct litparse *lp, struct litinfo *li)
{
	const char	*end;

	lit_info_unknown(li);
	if (*lp->lp_p == '{') {
		if ((end = strchr(lp->lp_p, '}')) == NULL)
			lp->lp_fail = 1;
		else
			lp->lp_p = end + 1;
	} else if (ascii_isalpha((unsigned char)*lp->lp_p))
		lp->lp_p++;
	else
		lp->lp_fail = 1;
}

static void
lit_escape(struct litparse *lp, struct litinfo *li)
{
	int	c = (unsigned char)*++lp->lp_p;

	lit_info_unknown(li);
	if (c != '\0')
		lp->lp_p++;
	switch (c) {
	case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
	case 'h': case 'H': case 'v': case 'V': case 'R': case 'X':
		return;
	case 'N':
		if (*lp->lp_p == '{')
			lp->lp_fail = 1;
		return;
	case 'p': case 'P':
		lit_property(lp, li);
		return;
	case 'b': case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K':
		lit_info_string(li, "", 0);
		return;
	case 't': lit_char(li, '\t'); return;
	case 'n': lit_char(li, '\n'); return;
	case 'r': lit_char(li, '\r'); return;
	case 'f': lit_char(li, '\f'); return;
	case 'e': lit_char(li, 0x1B); return;
	case 'a': lit_char(li, 0x07); return;
	case 'x':
		lit_char(li, lit_hex(lp));
		return;
	case 'Q':
		if (*lp->lp_p == '\0' || (lp->lp_p[0] == '\\' &&
		    lp->lp_p[1] == 'E')) {
			lp->lp_fail = 1;
			return;
		}
		lp->lp_inq = 1;
		lit_quoted(lp, li);
		return;
	default:
		/* A backslash before ASCII punctuation quotes it. */
		if (c > 0 && c < 0x80 && !ascii_isalnum(c))
			lit_char(li, (uint32_t)c);
		else
			lp->lp_fail = 1;
		return;
	}
}

/* [...]: any one character; only its end matters. */
static void
lit_class(struct litparse *lp, struct litinfo *li)
{
	const char	*p = lp->lp_p + 1, *end;

	lit_info_unknown(li);
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	for (;;) {
		if (*p == '\0' || (p[0] == '\\' && (p[1] == 'Q' ||
		    p[1] == 'E'))) {
			lp->lp_fail = 1;
			return;
		}
		if (*p == ']')
			break;
		if (p[0] == '\\' && p[1] != '\0') {
			/* \x{..}, \p{..}, \o{..}: skip the braces too. */
			p += 2;
			if (*p == '{' && strchr("xpPoN", p[-1]) != NULL) {
				if ((end = strchr(p, '}')) == NULL) {
					lp->lp_fail = 1;
					return;
				}
				p = end + 1;
			} else if (p[-1] == 'c' && *p != '\0')
				p++;
			continue;
		}
		if (p[0] == '[' && (p[1] == ':' || p[1] == '.' ||
		    p[1] == '=')) {
			/* Only [:name:] and [:^name:]; unsure of the rest. */
			end = p + 2 + (p[2] == '^');
			while (ascii_isalpha((unsigned char)*end))
				end++;
			if (p[1] != ':' || end[0] != ':' || end[1] != ']') {
				lp->lp_fail = 1;
				return;
			}
			p = end + 2;
			continue;
		}
		p++;
	}
	lp->lp_p = p + 1;
}

/* (?...) after the ?: the kind of group, or an option setting. */
enum lit_group {
	LITG_PLAIN,		/* its match is part of the match */
	LITG_LOOK,		/* lookaround: nothing of the match */
	LITG_OPTIONS,		/* (?i): not a group */
	LITG_COMMENT
};

static enum lit_group
lit_group_kind(struct litparse *lp)
{
	const char	*p = lp->lp_p;

	switch (*p) {
	case ':': case '|': case '>':
		lp->lp_p = p + 1;
		return LITG_PLAIN;
	case '=': case '!':
		lp->lp_p = p + 1;
		return LITG_LOOK;
	case '#':
		return LITG_COMMENT;
	case '<':
		if (p[1] == '=' || p[1] == '!') {
			lp->lp_p = p + 2;
			return LITG_LOOK;
		}
		break;
	case 'P':
		if (p[1] != '<') {
			lp->lp_fail = 1;	/* (?P=name), (?P>name) */
			return LITG_PLAIN;
		}
		p++;
		break;
	case '\'':
		break;
	default:
		/* Option letters; extended mode (x) changes the syntax. */
		while (*p != '\0' && strchr("imnsJU^-", *p) != NULL) {
			if (p[0] == '-' && ascii_isdigit((unsigned char)p[1]))
				break;
			p++;
		}
		lp->lp_p = p + 1;
		if (*p == ')')
			return LITG_OPTIONS;
		if (*p != ':')
			lp->lp_fail = 1;
		return LITG_PLAIN;
	}
	/* A named group: (?<name>, (?'name', (?P<name>. */
	for (p++; ascii_isalnum((unsigned char)*p) || *p == '_'; p++)
		;
	if (*p != '>' && *p != '\'')
		lp->lp_fail = 1;
	lp->lp_p = p + 1;
	return LITG_PLAIN;
}

static void
lit_group(struct litparse *lp, struct litinfo *li)
{
	enum lit_group	 kind = LITG_PLAIN;
	struct litinfo	 inner;
	const char	*end;

	lit_info_unknown(li);
	lp->lp_p++;
	if (*lp->lp_p == '*') {
		lp->lp_fail = 1;	/* (*VERB), (*atomic:...) */
		return;
	}
	if (*lp->lp_p == '?') {
		lp->lp_p++;
		kind = lit_group_kind(lp);
		if (lp->lp_fail)
			return;
	}
	if (kind == LITG_OPTIONS) {
		lit_info_string(li, "", 0);
		return;
	}
	if (kind == LITG_COMMENT) {
		if ((end = strchr(lp->lp_p, ')')) == NULL)
			lp->lp_fail = 1;
		else
			lp->lp_p = end + 1;
		lit_info_string(li, "", 0);
		return;
	}
	if (++lp->lp_depth > LIT_MAXDEPTH) {
		lp->lp_fail = 1;
		return;
	}
	lit_alt(lp, &inner);
	lp->lp_depth--;
	if (lp->lp_fail || *lp->lp_p != ')') {
		lit_info_free(&inner);
		lp->lp_fail = 1;
		return;
	}
	lp->lp_p++;
	if (kind == LITG_LOOK) {
		lit_info_free(&inner);
		lit_info_string(li, "", 0);
	} else
		*li = inner;
}

/* One item that a quantifier may follow. */
static void
lit_atom(struct litparse *lp, struct litinfo *li)
{
	lit_info_unknown(li);
	if (lp->lp_inq) {
		lit_quoted(lp, li);
		return;
	}
	switch (*lp->lp_p) {
	case '(':
		lit_group(lp, li);
		return;
	case '[':
		lit_class(lp, li);
		return;
	case '\\':
		lit_escape(lp, li);
		return;
	case '^': case '$':
		lp->lp_p++;
		lit_info_string(li, "", 0);
		return;
	case '.': case ']': case '}':
		lp->lp_p++;
		return;
	case '*': case '+': case '?': case '{':
		lp->lp_fail = 1;
		return;
	default:
		lit_char(li, lit_next_cp(lp));
		return;
	}
}

/* A quantifier after an atom: one that allows none makes it unknown. */
static void
lit_quantifier(struct litparse *lp, struct litinfo *li)
{
	const char	*p = lp->lp_p;
	long		 min;
	int		 exact = 0;
	struct litset	 s;

	switch (*p) {
	case '?': case '*':
		min = 0;
		p++;
		break;
	case '+':
		min = 1;
		p++;
		break;
	case '{':
		/* Only {n}, {n,} and {n,m}: other forms vary by version. */
		if (!ascii_isdigit((unsigned char)*++p)) {
			lp->lp_fail = 1;
			return;
		}
		for (min = 0; ascii_isdigit((unsigned char)*p); p++)
			min = min < 100000 ? min * 10 + (*p - '0') : min;
		exact = *p == '}' && min == 1;
		if (*p == ',')
			for (p++; ascii_isdigit((unsigned char)*p); p++)
				;
		if (*p++ != '}') {
			lp->lp_fail = 1;
			return;
		}
		break;
	default:
		return;
	}
	if (*p == '?' || *p == '+')
		p++;
	if (*p == '?' || *p == '*' || *p == '+' || *p == '{') {
		lp->lp_fail = 1;
		return;
	}
	lp->lp_p = p;
	if (min == 0) {
		lit_info_free(li);
		lit_info_unknown(li);
	} else if (li->li_exact && !exact) {
		s = li->li_set;
		memset(&li->li_set, 0, sizeof(li->li_set));
		li->li_exact = 0;
		lit_req_add(li, &s);
	}
}

/* Adds what atom a tells to a sequence, whose exact run so far is run. */
static void
lit_seq_add(struct litinfo *seq, struct litset *run, int *exact,
    struct litinfo *a)
{
	struct litset	joined;
	size_t		i;

	if (a->li_exact && a->li_set.ls_n == 1 &&
	    lit_set_append(run, &a->li_set.ls_v[0]) == 0) {
		lit_info_free(a);
		return;
	}
	if (a->li_exact) {
		if (lit_set_cross(run, &a->li_set, &joined) == 0) {
			lit_set_free(run);
			lit_set_free(&a->li_set);
			*run = joined;
		} else {
			lit_req_add(seq, run);
			*run = a->li_set;
			*exact = 0;
		}
		memset(&a->li_set, 0, sizeof(a->li_set));
		lit_info_free(a);
		return;
	}
	*exact = 0;
	lit_req_add(seq, run);
	lit_set_one(run, "", 0);
	for (i = 0; i < a->li_nreq; i++)
		lit_req_add(seq, &a->li_req[i]);
	a->li_nreq = 0;
	lit_info_free(a);
}

/*
 * A plain character that no quantifier follows, appended to the exact
 * run at once: what lit_atom() and lit_seq_add() would do, without the
 * allocations, for the commonest item of a pattern.  0: not one.
 */
static int
lit_seq_plain(struct litparse *lp, struct litset *run)
{
	const char	*p = lp->lp_p;
	struct lit	 l;

	if (lp->lp_inq || (unsigned char)*p >= 0x80 ||
	    strchr("()[\\^$.]}*+?{|", *p) != NULL ||
	    strchr("*+?{", p[1]) != NULL)
		return 0;
	l.l_s[0] = (char)ascii_tolower((unsigned char)*p);
	l.l_len = 1;
	if (lit_set_append(run, &l) == -1)
		return 0;
	lp->lp_p++;
	return 1;
}

/* Items up to | or ) : every required set of them is required. */
static void
lit_seq(struct litparse *lp, struct litinfo *li)
{
	struct litinfo	atom;
	struct litset	run;
	int		exact = 1;

	memset(li, 0, sizeof(*li));
	lit_set_one(&run, "", 0);
	while (!lp->lp_fail && *lp->lp_p != '\0' && (lp->lp_inq ||
	    (*lp->lp_p != '|' && *lp->lp_p != ')'))) {
		if (lit_seq_plain(lp, &run))
			continue;
		lit_atom(lp, &atom);
		if (!lp->lp_fail && !lp->lp_inq)
			lit_quantifier(lp, &atom);
		if (lp->lp_fail) {
			lit_info_free(&atom);
			break;
		}
		lit_seq_add(li, &run, &exact, &atom);
	}
	if (lp->lp_fail) {
		lit_set_free(&run);
		lit_info_free(li);
	} else if (exact) {
		li->li_exact = 1;
		li->li_set = run;
	} else
		lit_req_add(li, &run);
}

/* Branches up to ) or the end: one of them matches. */
static void
lit_alt(struct litparse *lp, struct litinfo *li)
{
	struct litinfo	branch;

	lit_seq(lp, li);
	while (!lp->lp_fail && *lp->lp_p == '|') {
		lp->lp_p++;
		lit_seq(lp, &branch);
		lit_info_or(li, &branch);
	}
	if (lp->lp_fail)
		lit_info_free(li);
}

/* Whether literal a contains literal b. */
static int
lit_contains(const struct lit *a, const struct lit *b)
{
	size_t	i;

	for (i = 0; i + b->l_len <= a->l_len; i++)
		if (memcmp(a->l_s + i, b->l_s, b->l_len) == 0)
			return 1;
	return 0;
}

/*
 * A literal that contains another of its set adds nothing: where it
 * occurs, the other does.  Of equal literals, the first is kept.
 */
static void
lit_set_minimize(struct litset *s)
{
	size_t	i, j, n = 0;

	for (i = 0; i < s->ls_n; i++) {
		for (j = 0; j < s->ls_n; j++)
			if (j != i && lit_contains(&s->ls_v[i], &s->ls_v[j]) &&
			    (s->ls_v[i].l_len > s->ls_v[j].l_len || j < i))
				break;
		if (j == s->ls_n)
			s->ls_v[n++] = s->ls_v[i];
	}
	s->ls_n = n;
}

/*
 * The sets of literals a match of pattern must contain, into req (up to
 * LIT_MAXCONJ); returns how many, 0 when nothing is known for sure.
 */
static size_t
lit_extract(const char *pattern, struct litset *req)
{
	struct litparse	lp;
	struct litinfo	li;
	size_t		n = 0, i;

	memset(&lp, 0, sizeof(lp));
	lp.lp_p = pattern;
	lit_alt(&lp, &li);
	if (lp.lp_fail || *lp.lp_p != '\0') {
		lit_info_free(&li);
		return 0;
	}
	if (li.li_exact) {
		if (lit_set_score(&li.li_set) >= 0) {
			req[n++] = li.li_set;
			memset(&li.li_set, 0, sizeof(li.li_set));
		}
	} else {
		for (n = 0; n < li.li_nreq; n++)
			req[n] = li.li_req[n];
		li.li_nreq = 0;
	}
	lit_info_free(&li);
	for (i = 0; i < n; i++)
		lit_set_minimize(&req[i]);
	return n;
}

/* A literal appended to buf, bytes that would be unclear as \\xHH. */
static void
lit_text(const struct lit *l, char *buf, size_t len)
{
	char	tmp[8];
	size_t	k;
	int	c;

	for (k = 0; k < l->l_len; k++) {
		c = (unsigned char)l->l_s[k];
		if (c >= 0x20 && c != 0x7F && c != '\\' && c != '|')
			snprintf(tmp, sizeof(tmp), "%c", c);
		else
			snprintf(tmp, sizeof(tmp), "\\x%02X", c);
		strlcat(buf, tmp, len);
	}
}

/*
 * What the prefilter takes from pattern, as text, for tests and for
 * debugging rules: the sets, " & " between them, "|" between literals
 * (folded, non-printable bytes as \xHH); "" when there is none.
 */
int
rules_prefilter_text(const char *pattern, char *buf, size_t len)
{
	struct litset	 req[LIT_MAXCONJ];
	size_t		 n, i, j;

	n = lit_extract(pattern, req);
	if (len > 0)
		buf[0] = '\0';
	for (i = 0; i < n; i++) {
		for (j = 0; j < req[i].ls_n; j++) {
			if (i + j > 0)
				strlcat(buf, j ? "|" : " & ", len);
			lit_text(&req[i].ls_v[j], buf, len);
		}
		lit_set_free(&req[i]);
	}
	return (int)n;
}

/*
 * The literal prefilter, run time: for each target, an Aho-Corasick
 * automaton of every literal that the conditions on it need, run once
 * over each value of a message and only when a condition first asks,
 * so that thousands of filters cost one pass and decoding stays lazy.
 */

#define AC_NONE		UINT32_MAX

/* A trie node while the automaton is built. */
struct ac_bnode {
	uint32_t	 bn_child;	/* first child */
	uint32_t	 bn_sibling;
	uint32_t	 bn_lit;
	uint32_t	 bn_final;	/* its index once built */
	uint8_t		 bn_ch;
};

struct ac_node {
	uint32_t	 an_edge;	/* its edges, sorted by byte */
	uint32_t	 an_nedge;
	uint32_t	 an_fail;
	uint32_t	 an_lit;	/* the literal that ends here */
	uint32_t	 an_out;	/* first with a literal, up from here */
};

struct ac {
	struct ac_bnode	*ac_b;		/* while building */
	size_t		 ac_nb;
	size_t		 ac_bsize;
	struct ac_node	*ac_node;
	uint8_t		*ac_ech;	/* edge bytes */
	uint32_t	*ac_enext;	/* edge targets */
	uint32_t	 ac_nnode;
	uint32_t	 ac_nlit;
	uint32_t	 ac_root[256];	/* the root's edges, every byte */
	uint8_t		 ac_used[256];	/* bytes in literals */
};

static uint32_t
ac_bnew(struct ac *ac, uint8_t ch)
{
	struct ac_bnode	*b;

	if (ac->ac_nb == ac->ac_bsize) {
		ac->ac_bsize = ac->ac_bsize ? ac->ac_bsize * 2 : 64;
		ac->ac_b = xreallocarray(ac->ac_b, ac->ac_bsize,
		    sizeof(*ac->ac_b));
	}
	b = &ac->ac_b[ac->ac_nb];
	b->bn_child = b->bn_sibling = b->bn_lit = AC_NONE;
	b->bn_ch = ch;
	return (uint32_t)ac->ac_nb++;
}

/* Adds a literal (already folded); returns its number in the automaton. */
static uint32_t
ac_insert(struct ac *ac, const char *s, size_t len)
{
	uint32_t	n = 0, c;
	size_t		i;

	if (ac->ac_nb == 0)
		(void)ac_bnew(ac, 0);
	for (i = 0; i < len; i++) {
		uint8_t	ch = (uint8_t)s[i];

		ac->ac_used[ch] = 1;
		for (c = ac->ac_b[n].bn_child; c != AC_NONE &&
		    ac->ac_b[c].bn_ch != ch; c = ac->ac_b[c].bn_sibling)
			;
		if (c == AC_NONE) {
			c = ac_bnew(ac, ch);
			ac->ac_b[c].bn_sibling = ac->ac_b[n].bn_child;
			ac->ac_b[n].bn_child = c;
		}
		n = c;
	}
	if (ac->ac_b[n].bn_lit == AC_NONE)
		ac->ac_b[n].bn_lit = ac->ac_nlit++;
	return ac->ac_b[n].bn_lit;
}

/* The node after s on byte c, failing over as far as the root. */
static uint32_t
ac_step(const struct ac *ac, uint32_t s, unsigned int c)
{
	const struct ac_node	*n;
	uint32_t		 i, end;

	if (!ac->ac_used[c])
		return 0;
	while (s != 0) {
		n = &ac->ac_node[s];
		for (i = n->an_edge, end = i + n->an_nedge; i < end; i++)
			if (ac->ac_ech[i] >= c) {
				if (ac->ac_ech[i] == c)
					return ac->ac_enext[i];
				break;
			}
		s = n->an_fail;
	}
	return ac->ac_root[c];
}

/* The edges of each node, sorted by byte; nodes in breadth-first order. */
static void
ac_edges(struct ac *ac, const uint32_t *order)
{
	uint32_t	i, c, e = 0, n, j, next;
	uint8_t		ch;

	ac->ac_ech = xcalloc(ac->ac_nb, sizeof(*ac->ac_ech));
	ac->ac_enext = xcalloc(ac->ac_nb, sizeof(*ac->ac_enext));
	for (i = 0; i < ac->ac_nnode; i++) {
		const struct ac_bnode	*b = &ac->ac_b[order[i]];

		ac->ac_node[i].an_edge = e;
		ac->ac_node[i].an_lit = b->bn_lit;
		n = 0;
		for (c = b->bn_child; c != AC_NONE;
		    c = ac->ac_b[c].bn_sibling) {
			ch = ac->ac_b[c].bn_ch;
			next = ac->ac_b[c].bn_final;
			for (j = n; j > 0 && ac->ac_ech[e + j - 1] > ch; j--) {
				ac->ac_ech[e + j] = ac->ac_ech[e + j - 1];
				ac->ac_enext[e + j] = ac->ac_enext[e + j - 1];
			}
			ac->ac_ech[e + j] = ch;
			ac->ac_enext[e + j] = next;
			n++;
		}
		ac->ac_node[i].an_nedge = n;
		e += n;
	}
}

/* Failure links and outputs, parents before children. */
static void
ac_links(struct ac *ac)
{
	struct ac_node	*nd = ac->ac_node;
	uint32_t	 u, i, v, f;

	for (i = 0; i < nd[0].an_nedge; i++)
		ac->ac_root[ac->ac_ech[i]] = ac->ac_enext[i];
	nd[0].an_fail = 0;
	nd[0].an_out = AC_NONE;
	for (u = 0; u < ac->ac_nnode; u++)
		for (i = nd[u].an_edge; i < nd[u].an_edge + nd[u].an_nedge;
		    i++) {
			v = ac->ac_enext[i];
			f = u == 0 ? 0 : ac_step(ac, nd[u].an_fail,
			    ac->ac_ech[i]);
			nd[v].an_fail = f;
			nd[v].an_out = nd[v].an_lit != AC_NONE ? v :
			    nd[f].an_out;
		}
}

/* Turns the trie into the automaton that values are scanned with. */
static void
ac_build(struct ac *ac)
{
	uint32_t	*order, head = 0, tail = 0, c;

	if (ac->ac_nb == 0)
		return;
	order = xcalloc(ac->ac_nb, sizeof(*order));
	order[tail++] = 0;
	ac->ac_b[0].bn_final = 0;
	while (head < tail)
		for (c = ac->ac_b[order[head++]].bn_child; c != AC_NONE;
		    c = ac->ac_b[c].bn_sibling) {
			ac->ac_b[c].bn_final = tail;
			order[tail++] = c;
		}
	ac->ac_nnode = tail;
	ac->ac_node = xcalloc(tail, sizeof(*ac->ac_node));
	ac_edges(ac, order);
	free(order);
	ac_links(ac);
	free(ac->ac_b);
	ac->ac_b = NULL;
	ac->ac_nb = ac->ac_bsize = 0;
}

static void
ac_free(struct ac *ac)
{
	free(ac->ac_b);
	free(ac->ac_node);
	free(ac->ac_ech);
	free(ac->ac_enext);
	memset(ac, 0, sizeof(*ac));
}

/*
 * Marks in seen the literals that occur in v.  ASCII is folded to lower
 * case, and the two characters that PCRE2's (?i) equates with ASCII
 * letters, U+017F (long s) and U+212A (Kelvin sign), are read as s and
 * k; literals never contain them.  A literal found before stops the
 * walk up the output chain: what lies beyond was marked with it.
 */
static void
ac_scan(const struct ac *ac, const char *v, size_t len, uint64_t *seen)
{
	const unsigned char	*p = (const unsigned char *)v;
	const unsigned char	*end = p + len;
	uint32_t		 s = 0, t, lit;
	unsigned int		 c;

	while (p < end) {
		c = *p++;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		else if (c == 0xC5 && p < end && *p == 0xBF) {
			c = 's';
			p++;
		} else if (c == 0xE2 && end - p >= 2 && p[0] == 0x84 &&
		    p[1] == 0xAA) {
			c = 'k';
			p += 2;
		}
		s = ac_step(ac, s, c);
		for (t = ac->ac_node[s].an_out; t != AC_NONE;
		    t = ac->ac_node[ac->ac_node[t].an_fail].an_out) {
			lit = ac->ac_node[t].an_lit;
			if (seen[lit / 64] & (1ULL << (lit % 64)))
				break;
			seen[lit / 64] |= 1ULL << (lit % 64);
		}
	}
}

/*
 * The evaluation plan, made by rules_compile(): per filter, its
 * conditions in the order they are cheapest to refute, each with its
 * literal sets, and a gate: one set that must have a literal present for
 * the filter to hold, so that most filters are passed over by testing a
 * bit.  Sets are numbered across the plan; those of a condition follow
 * each other.  A key is what a target source's values depend on: the
 * target, the header or macro name, and for decoded targets the
 * whitespace mode; its automaton holds the literals of every set on it,
 * and each literal knows its sets.
 */

#define KEY_NONE	UINT32_MAX

#define RULES_JIT_NO	0	/* the interpreter runs it */
#define RULES_JIT_WANT	1	/* JIT before its first match */
#define RULES_JIT_DONE	2	/* JIT compiled, or failed to */

struct pkey {
	const struct cond	*k_cond;	/* what to scan */
	struct ac		 k_ac;
	uint32_t		*k_litoff;	/* literal i is in sets */
	uint32_t		*k_litset;	/* [litoff[i], litoff[i+1]) */
	uint64_t		*k_seen;	/* literals in this message */
	int			 k_scanned;	/* k_seen is up to date */
};

struct rcond {
	const struct cond	*rc_cond;
	uint32_t		 rc_ord;	/* in configuration order */
	uint32_t		 rc_key;	/* KEY_NONE: no prefilter */
	uint32_t		 rc_set;	/* its first set */
	uint16_t		 rc_nsets;
	uint16_t		 rc_negate;	/* c_negate, kept at hand */
};

struct rfilter {
	struct rcond		*rf_match;
	struct rcond		*rf_any;
	uint32_t		 rf_ord;	/* rc_ord of its first */
	uint32_t		 rf_nmatch;
	uint32_t		 rf_nany;
};

/*
 * What must be so for a filter to hold: a literal of one of these sets
 * present, each on its key, the cheapest key first.
 */
#define GATE_KEYS	3

struct rgate {
	uint32_t		 g_n;		/* 0: no gate */
	uint32_t		 g_key[GATE_KEYS];
	uint32_t		 g_set[GATE_KEYS];
};
/* While planning: literal lit of key is in set. */
struct psetlit {
	uint32_t		 sl_key;
	uint32_t		 sl_lit;
	uint32_t		 sl_set;
};

struct rules_plan {
	struct rfilter		*p_filter;
	struct rgate		*p_gate;	/* apart, to be read fast */
	struct rcond		*p_cond;
	size_t			 p_ncond;
	uint8_t			*p_jit;		/* by rc_ord */
	struct pkey		*p_key;
	size_t			 p_nkey;
	uint64_t		*p_setok;	/* sets with a literal here */
	size_t			 p_nset;
	unsigned long		 p_nmatch;	/* regexes run */
	struct psetlit		*p_sl;		/* while planning */
	size_t			 p_nsl;
	size_t			 p_slsize;
};

static int
rules_same_key(const struct cond *a, const struct cond *b)
{
	if (a->c_target != b->c_target)
		return 0;
	if ((a->c_name == NULL) != (b->c_name == NULL) ||
	    (a->c_name != NULL && strcmp(a->c_name, b->c_name) != 0))
		return 0;
	return !TARGET_IS_DECODED(a->c_target) || !a->c_strip == !b->c_strip;
}

static uint32_t
rules_plan_key(struct rules_plan *pl, const struct cond *c)
{
	size_t	i;

	for (i = 0; i < pl->p_nkey; i++)
		if (rules_same_key(pl->p_key[i].k_cond, c))
			return (uint32_t)i;
	pl->p_key = xreallocarray(pl->p_key, pl->p_nkey + 1,
	    sizeof(*pl->p_key));
	memset(&pl->p_key[pl->p_nkey], 0, sizeof(*pl->p_key));
	pl->p_key[pl->p_nkey].k_cond = c;
	return (uint32_t)pl->p_nkey++;
}

static void
rules_plan_setlit(struct rules_plan *pl, uint32_t key, uint32_t lit,
    uint32_t set)
{
	if (pl->p_nsl == pl->p_slsize) {
		pl->p_slsize = pl->p_slsize ? pl->p_slsize * 2 : 1024;
		pl->p_sl = xreallocarray(pl->p_sl, pl->p_slsize,
		    sizeof(*pl->p_sl));
	}
	pl->p_sl[pl->p_nsl].sl_key = key;
	pl->p_sl[pl->p_nsl].sl_lit = lit;
	pl->p_sl[pl->p_nsl++].sl_set = set;
}

/* The literal sets of a condition, added to its key's automaton. */
static void
rules_plan_cond(struct rules_plan *pl, struct rcond *rc,
    const struct cond *c)
{
	struct litset	 req[LIT_MAXCONJ];
	struct pkey	*k;
	size_t		 n, i, j;

	rc->rc_cond = c;
	rc->rc_key = KEY_NONE;
	rc->rc_negate = c->c_negate != 0;
	if ((n = lit_extract(c->c_pattern, req)) == 0)
		return;
	rc->rc_key = rules_plan_key(pl, c);
	rc->rc_set = (uint32_t)pl->p_nset;
	rc->rc_nsets = (uint16_t)n;
	k = &pl->p_key[rc->rc_key];
	for (i = 0; i < n; i++) {
		for (j = 0; j < req[i].ls_n; j++)
			rules_plan_setlit(pl, rc->rc_key, ac_insert(&k->k_ac,
			    req[i].ls_v[j].l_s, req[i].ls_v[j].l_len),
			    (uint32_t)pl->p_nset);
		pl->p_nset++;
		lit_set_free(&req[i]);
	}
}

/*
 * How dear a condition is to refute: values the MTA sent, raw headers,
 * decoded headers, then the body, which may need the message decoded.
 * One the prefilter may refute outright comes first in its class.
 */
static int
rules_cost(const struct rcond *rc)
{
	const struct cond	*c = rc->rc_cond;
	int			 cost;

	if (c->c_target == TARGET_HEADER)
		cost = 1;
	else if (!TARGET_IS_DECODED(c->c_target))
		cost = 0;
	else if (c->c_target < TARGET_DECODE_TEXT)
		cost = 2;
	else
		cost = 3;
	return cost * 2 + (rc->rc_key == KEY_NONE || rc->rc_negate);
}

/* Conditions of one list, planned and sorted by cost (stable). */
static void
rules_plan_list(struct rules_plan *pl, struct rcond *rc,
    const struct cond *c, size_t n, size_t ord)
{
	struct rcond	t;
	size_t		i, j;

	for (i = 0; i < n; i++) {
		rules_plan_cond(pl, &rc[i], &c[i]);
		rc[i].rc_ord = (uint32_t)(ord + i);
	}
	for (i = 1; i < n; i++) {
		t = rc[i];
		for (j = i; j > 0 && rules_cost(&rc[j - 1]) > rules_cost(&t);
		    j--)
			rc[j] = rc[j - 1];
		rc[j] = t;
	}
}

static int
rules_gateable(const struct rcond *rc)
{
	return rc->rc_key != KEY_NONE && !rc->rc_negate;
}

/*
 * A set of the literals of the first sets of the any conditions on key
 * (their set-literal pairs are in p_sl from from on); or the one first
 * set when a single condition is on key.
 */
static uint32_t
rules_plan_union(struct rules_plan *pl, const struct rfilter *rf,
    uint32_t key, size_t from)
{
	size_t		i, j, n = 0, end = pl->p_nsl;
	uint32_t	set = 0;

	for (i = 0; i < rf->rf_nany; i++)
		if (rf->rf_any[i].rc_key == key && n++ == 0)
			set = rf->rf_any[i].rc_set;
	if (n == 1)
		return set;
	set = (uint32_t)pl->p_nset++;
	for (i = 0; i < rf->rf_nany; i++)
		for (j = from; j < end && rf->rf_any[i].rc_key == key; j++)
			if (pl->p_sl[j].sl_set == rf->rf_any[i].rc_set)
				rules_plan_setlit(pl, key, pl->p_sl[j].sl_lit,
				    set);
	return set;
}

/*
 * The gate of a filter: the first set of its first condition, if the
 * prefilter may refute that one; else, if all of its any conditions are
 * prefiltered (on up to GATE_KEYS keys), for each key a set of the
 * literals of their first sets.  Not from a dearer condition than the
 * first, though: its key may need the body decoded where the first one
 * would have refuted the filter without.  from: where the filter's
 * set-literal pairs start in p_sl.
 */
static void
rules_plan_gate(struct rules_plan *pl, const struct rfilter *rf,
    struct rgate *g, size_t from)
{
	const struct rcond	*rc;
	uint32_t		 i, k;

	g->g_n = 0;
	if (rf->rf_nmatch > 0 && rules_gateable(&rf->rf_match[0])) {
		g->g_key[0] = rf->rf_match[0].rc_key;
		g->g_set[0] = rf->rf_match[0].rc_set;
		g->g_n = 1;
		return;
	}
	for (i = 0; i < rf->rf_nany; i++) {
		rc = &rf->rf_any[i];
		for (k = 0; k < g->g_n && g->g_key[k] != rc->rc_key; k++)
			;
		if (!rules_gateable(rc) || k == GATE_KEYS ||
		    (rf->rf_nmatch > 0 && rules_cost(rc) / 2 >
		    rules_cost(&rf->rf_match[0]) / 2)) {
			/* Each any condition must be in the gate, or none. */
			g->g_n = 0;
			return;
		}
		g->g_key[k] = rc->rc_key;
		g->g_n = k == g->g_n ? k + 1 : g->g_n;
	}
	/* Any conditions are in cost order: so are the keys. */
	for (k = 0; k < g->g_n; k++)
		g->g_set[k] = rules_plan_union(pl, rf, g->g_key[k], from);
}

/* Each key's automaton, and its literals' sets from p_sl. */
static void
rules_plan_keys(struct rules_plan *pl)
{
	struct pkey	*k;
	size_t		 i, n;

	for (i = 0; i < pl->p_nkey; i++) {
		k = &pl->p_key[i];
		n = k->k_ac.ac_nlit;
		ac_build(&k->k_ac);
		k->k_seen = xcalloc((n + 63) / 64, sizeof(*k->k_seen));
		k->k_litoff = xcalloc(n + 1, sizeof(*k->k_litoff));
	}
	for (i = 0; i < pl->p_nsl; i++)
		pl->p_key[pl->p_sl[i].sl_key].k_litoff[pl->p_sl[i].sl_lit +
		    1]++;
	for (i = 0; i < pl->p_nkey; i++) {
		k = &pl->p_key[i];
		for (n = 0; n < k->k_ac.ac_nlit; n++)
			k->k_litoff[n + 1] += k->k_litoff[n];
		k->k_litset = xcalloc(k->k_litoff[k->k_ac.ac_nlit] + 1,
		    sizeof(*k->k_litset));
	}
	for (i = 0; i < pl->p_nsl; i++) {
		k = &pl->p_key[pl->p_sl[i].sl_key];
		n = pl->p_sl[i].sl_lit;
		k->k_litset[k->k_litoff[n]++] = pl->p_sl[i].sl_set;
	}
	/* Filling moved each offset to the next one's: move them back. */
	for (i = 0; i < pl->p_nkey; i++) {
		k = &pl->p_key[i];
		for (n = k->k_ac.ac_nlit; n > 0; n--)
			k->k_litoff[n] = k->k_litoff[n - 1];
		k->k_litoff[0] = 0;
	}
	for (i = 0; i < pl->p_nkey; i++) {
		k = &pl->p_key[i];
		log_debug("prefilter: %s%s%s: %u literals, %u states",
		    config_target_name(k->k_cond->c_target),
		    k->k_cond->c_name != NULL ? k->k_cond->c_name : "",
		    k->k_cond->c_strip &&
		    TARGET_IS_DECODED(k->k_cond->c_target) ? " (strip)" : "",
		    k->k_ac.ac_nlit,
		    k->k_ac.ac_nnode);
	}
	free(pl->p_sl);
	pl->p_sl = NULL;
	pl->p_nsl = pl->p_slsize = 0;
}

static struct rules_plan *
rules_plan_build(const struct config *cf)
{
	struct rules_plan	*pl = xcalloc(1, sizeof(*pl));
	struct rcond		*rc;
	size_t			 i, n = 0;

	for (i = 0; i < cf->cf_nfilters; i++)
		n += cf->cf_filters[i].f_nmatch + cf->cf_filters[i].f_nany;
	pl->p_cond = rc = xcalloc(n, sizeof(*pl->p_cond));
	pl->p_ncond = n;
	pl->p_jit = xcalloc(n, sizeof(*pl->p_jit));
	pl->p_filter = xcalloc(cf->cf_nfilters, sizeof(*pl->p_filter));
	pl->p_gate = xcalloc(cf->cf_nfilters, sizeof(*pl->p_gate));
	for (i = 0; i < cf->cf_nfilters; i++) {
		const struct filter	*f = &cf->cf_filters[i];
		struct rfilter		*rf = &pl->p_filter[i];
		size_t			 from = pl->p_nsl;

		rf->rf_ord = (uint32_t)(rc - pl->p_cond);
		rf->rf_match = rc;
		rf->rf_nmatch = (uint32_t)f->f_nmatch;
		rules_plan_list(pl, rc, f->f_match, f->f_nmatch, rf->rf_ord);
		rc += f->f_nmatch;
		rf->rf_any = rc;
		rf->rf_nany = (uint32_t)f->f_nany;
		rules_plan_list(pl, rc, f->f_any, f->f_nany,
		    rf->rf_ord + f->f_nmatch);
		rc += f->f_nany;
		rules_plan_gate(pl, rf, &pl->p_gate[i], from);
	}
	rules_plan_keys(pl);
	pl->p_setok = xcalloc((pl->p_nset + 63) / 64, sizeof(*pl->p_setok));
	for (i = n = 0; i < cf->cf_nfilters; i++)
		n += pl->p_gate[i].g_n > 0;
	log_debug("prefilter: %zu of %zu filters gated", n, cf->cf_nfilters);
	return pl;
}

static void
rules_plan_free(struct rules_plan *pl)
{
	size_t	i;

	if (pl == NULL)
		return;
	for (i = 0; i < pl->p_nkey; i++) {
		ac_free(&pl->p_key[i].k_ac);
		free(pl->p_key[i].k_litoff);
		free(pl->p_key[i].k_litset);
		free(pl->p_key[i].k_seen);
	}
	free(pl->p_key);
	free(pl->p_setok);
	free(pl->p_sl);
	free(pl->p_cond);
	free(pl->p_jit);
	free(pl->p_gate);
	free(pl->p_filter);
	free(pl);
}

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
	}
	return 0;
}

/*
 * JIT code costs some kilobytes a pattern in every worker.  It is worth
 * it where a pattern runs on every message or on long values: without a
 * prefilter, on the body, or on raw values, which need not be UTF-8 and
 * where PCRE2's JIT and interpreter do not always agree (these keep the
 * JIT they always had).  A prefiltered condition on a decoded header
 * runs only on mail that holds its literals, and on a short value the
 * interpreter does as well.  The choice is made once per pattern, so
 * that every worker gives a message the same answer; the compiling is
 * done before the pattern's first match (rules_jit_now()), which is the
 * same to every match and spares the start-up of a worker, and its
 * memory, the many patterns that the prefilter keeps from ever running.
 */
static void
rules_jit(struct rules_plan *pl)
{
	const struct rcond	*rc;
	size_t			 i;

	for (i = 0; i < pl->p_ncond; i++) {
		rc = &pl->p_cond[i];
		if (rc->rc_key == KEY_NONE ||
		    !TARGET_IS_DECODED(rc->rc_cond->c_target) ||
		    rc->rc_cond->c_target >= TARGET_DECODE_TEXT)
			pl->p_jit[rc->rc_ord] = RULES_JIT_WANT;
	}
}

/* Without JIT (it may fail) the interpreter runs the same pattern. */
static void
rules_jit_now(struct ruleset *rs, const struct cond *c, uint32_t ord)
{
	struct rules_plan	*pl = rs->rs_plan;

	if (pl != NULL && pl->p_jit[ord] == RULES_JIT_WANT) {
		(void)pcre2_jit_compile(c->c_re, PCRE2_JIT_COMPLETE);
		pl->p_jit[ord] = RULES_JIT_DONE;
	}
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
	rs->rs_plan = rules_plan_build(cf);
	rules_jit(rs->rs_plan);
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
	rules_plan_free(rs->rs_plan);
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

	if (rs->rs_plan != NULL)
		rs->rs_plan->p_nmatch++;
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

/* Whether a condition holds; ord is its place in the configuration. */
static int
rules_cond_holds(struct ruleset *rs, const struct target_source *src,
    const struct cond *c, uint32_t ord, struct rules_result *rr)
{
	struct match_arg	ma = { rs, c, 0, 0 };

	rules_jit_now(rs, c, ord);
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
    size_t fi, struct rules_result *rr)
{
	const struct filter	*f = &rs->rs_config->cf_filters[fi];
	uint32_t		 ord, i;

	ord = rs->rs_plan != NULL ? rs->rs_plan->p_filter[fi].rf_ord : 0;
	if (rules_exempt(src, f))
		return 0;
	for (i = 0; i < f->f_nmatch; i++)
		if (!rules_cond_holds(rs, src, &f->f_match[i], ord + i, rr))
			return 0;
	if (f->f_nany == 0)
		return 1;
	for (i = 0; i < f->f_nany; i++)
		if (rules_cond_holds(rs, src, &f->f_any[i],
		    ord + (uint32_t)f->f_nmatch + i, rr))
			return 1;
	return 0;
}

static int
rules_scan_value(void *arg, const char *v, size_t len)
{
	struct pkey	*k = arg;

	ac_scan(&k->k_ac, v, len, k->k_seen);
	return 0;
}

/*
 * The values of a key, scanned once per message and only when first
 * asked for: the sets that have a literal present get their bit.
 */
static void
rules_scan(struct rules_plan *pl, const struct target_source *src,
    struct pkey *k)
{
	uint64_t	w;
	uint32_t	i, j, lit, set;

	memset(k->k_seen, 0, (k->k_ac.ac_nlit + 63) / 64 *
	    sizeof(*k->k_seen));
	(void)src->ts_each(src->ts_ctx, k->k_cond, rules_scan_value, k);
	for (i = 0; i < (k->k_ac.ac_nlit + 63) / 64; i++)
		for (w = k->k_seen[i]; w != 0; w &= w - 1) {
			lit = i * 64 + (uint32_t)__builtin_ctzll(w);
			for (j = k->k_litoff[lit]; j < k->k_litoff[lit + 1];
			    j++) {
				set = k->k_litset[j];
				pl->p_setok[set / 64] |= 1ULL << (set % 64);
			}
		}
	k->k_scanned = 1;
}

static int
rules_set_met(const struct rules_plan *pl, uint32_t set)
{
	return (pl->p_setok[set / 64] & (1ULL << (set % 64))) != 0;
}

/* Whether every literal set of rc has a literal among its values. */
static int
rules_prefilter(struct rules_plan *pl, const struct target_source *src,
    const struct rcond *rc)
{
	uint32_t	s;

	if (!pl->p_key[rc->rc_key].k_scanned)
		rules_scan(pl, src, &pl->p_key[rc->rc_key]);
	for (s = rc->rc_set; s < rc->rc_set + rc->rc_nsets; s++)
		if (!rules_set_met(pl, s))
			return 0;
	return 1;
}

static int
rules_rcond_holds(struct ruleset *rs, const struct target_source *src,
    const struct rcond *rc, struct rules_result *rr)
{
	/* No value holds what every match needs: no value can match. */
	if (rc->rc_key != KEY_NONE && !rules_prefilter(rs->rs_plan, src, rc))
		return rc->rc_negate;
	return rules_cond_holds(rs, src, rc->rc_cond, rc->rc_ord, rr);
}

/*
 * rules_filter_holds() by the plan: the gate, then the same conjunction
 * with its cheapest terms first, and the official-domain exemption
 * last, as it only matters for a filter that would hold.
 */
static int
rules_plan_holds(struct ruleset *rs, const struct target_source *src,
    size_t fi, struct rules_result *rr)
{
	struct rules_plan	*pl = rs->rs_plan;
	const struct rgate	*g = &pl->p_gate[fi];
	const struct rfilter	*rf;
	uint32_t		 i;

	for (i = 0; i < g->g_n; i++) {
		if (!pl->p_key[g->g_key[i]].k_scanned)
			rules_scan(pl, src, &pl->p_key[g->g_key[i]]);
		if (rules_set_met(pl, g->g_set[i]))
			break;
	}
	if (g->g_n > 0 && i == g->g_n)
		return 0;
	rf = &pl->p_filter[fi];
	for (i = 0; i < rf->rf_nmatch; i++)
		if (!rules_rcond_holds(rs, src, &rf->rf_match[i], rr))
			return 0;
	if (rf->rf_nany > 0) {
		for (i = 0; i < rf->rf_nany; i++)
			if (rules_rcond_holds(rs, src, &rf->rf_any[i], rr))
				break;
		if (i == rf->rf_nany)
			return 0;
	}
	return !rules_exempt(src, &rs->rs_config->cf_filters[fi]);
}

static int
rules_holds(struct ruleset *rs, const struct target_source *src, size_t i,
    struct rules_result *rr)
{
	if (rs->rs_plain || rs->rs_plan == NULL)
		return rules_filter_holds(rs, src, i, rr);
	return rules_plan_holds(rs, src, i, rr);
}

/*
 * Whether the time budget is spent.  The clock is read before every
 * 32nd filter and after any filter that ran a regex: passing over
 * thousands of filters by their gates takes no time worth a reading.
 */
static int
rules_out_of_time(struct ruleset *rs, size_t i, unsigned long *nmatch)
{
	unsigned long	n;

	n = rs->rs_plan != NULL ? rs->rs_plan->p_nmatch : 0;
	if (rs->rs_deadline == 0 || (i % 32 != 0 && n == *nmatch))
		return 0;
	*nmatch = n;
	return now_ms() > rs->rs_deadline;
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
	struct rules_plan	*pl = rs->rs_plan;
	unsigned long		 nmatch = 0;
	size_t			 i;

	memset(rr, 0, sizeof(*rr));
	rr->rr_warn = rs->rs_warn;
	if (pl != NULL) {
		for (i = 0; i < pl->p_nkey; i++)
			pl->p_key[i].k_scanned = 0;
		memset(pl->p_setok, 0, (pl->p_nset + 63) / 64 *
		    sizeof(*pl->p_setok));
		nmatch = pl->p_nmatch;
	}
	for (i = 0; i < cf->cf_nfilters; i++) {
		const struct filter	*f = &cf->cf_filters[i];

		if (rules_out_of_time(rs, i, &nmatch)) {
			rr->rr_timeout = 1;
			return;
		}
		if (!rules_holds(rs, src, i, rr))
			continue;
		if (f->f_action != ACTION_WARN) {
			rr->rr_decider = f;
			return;
		}
		rr->rr_warn[rr->rr_nwarn++] = f;
	}
}
