/*
 * Unicode hygiene (libunistring): every decoded value is made comparable
 * before the filters see it.  Invalid UTF-8 is repaired, compatibility
 * forms are folded (NFKC: fullwidth ＭＵＦＧ is MUFG, halfwidth ﾊﾞﾝｸ is
 * バンク), characters that render as nothing are removed (default
 * ignorables: zero-width, BiDi controls, word joiner, BOM, soft hyphen,
 * variation selectors, Hangul fillers, ...), combining marks on Latin
 * letters are removed so that a disguised letter matches its base letter
 * (Japanese voiced marks stay), and whitespace runs become one space, or
 * go entirely in MilterAgent's "strip" mode.
 */

#include "phishmilter.h"

#include <stdlib.h>
#include <string.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#define REPLACEMENT	0xFFFD

struct text_buf {
	uint8_t		*tb_p;
	size_t		 tb_len;
	size_t		 tb_size;
};

static int
text_put(struct text_buf *tb, ucs4_t uc)
{
	uint8_t	*np;
	int	 n;

	if (tb->tb_size - tb->tb_len < 6) {
		size_t	size = tb->tb_size ? tb->tb_size * 2 : 256;

		if ((np = realloc(tb->tb_p, size)) == NULL)
			return -1;
		tb->tb_p = np;
		tb->tb_size = size;
	}
	if ((n = u8_uctomb(tb->tb_p + tb->tb_len, uc, 6)) < 0)
		return -1;
	tb->tb_len += (size_t)n;
	return 0;
}

/*
 * Invalid sequences become U+FFFD, one per bad byte, as readers show.
 * Valid input is returned as it is, not copied.
 */
static uint8_t *
text_repair(const char *in, size_t len, size_t *outlen)
{
	const uint8_t	*s = (const uint8_t *)in;
	struct text_buf	 tb = { NULL, 0, 0 };
	ucs4_t		 uc;
	int		 n;

	if (u8_check(s, len) == NULL) {
		*outlen = len;
		return (uint8_t *)(uintptr_t)in;
	}
	while (len > 0) {
		n = u8_mbtoucr(&uc, s, len);
		if (n < 0) {
			uc = REPLACEMENT;
			n = 1;
		}
		if (text_put(&tb, uc) == -1) {
			free(tb.tb_p);
			return NULL;
		}
		s += n;
		len -= (size_t)n;
	}
	*outlen = tb.tb_len;
	return tb.tb_p != NULL ? tb.tb_p : malloc(1);
}

static int
text_is_space(ucs4_t uc)
{
	return uc_is_property_white_space(uc) || uc == 0;
}

/*
 * A mark is kept only on a letter of a script that needs it (kana,
 * Devanagari, ...): on Latin, Common (digits, punctuation, space) or
 * nothing at all it only disguises.
 */
static int
text_drop_mark(const uc_script_t *base)
{
	static const uc_script_t	*latin, *common;

	if (latin == NULL) {
		latin = uc_script_byname("Latin");
		common = uc_script_byname("Common");
	}
	return base == NULL || base == latin || base == common;
}

/* What text_filter() carries from one character to the next. */
struct text_state {
	const uc_script_t	*st_base;	/* script of the last base */
	int			 st_space;	/* a space is due */
	int			 st_any;	/* something was output */
};

static int
text_filter(const uint8_t *s, size_t len, int strip, struct text_buf *tb,
    struct text_state *st)
{
	ucs4_t	uc;
	int	n;

	while (len > 0) {
		if ((n = u8_mbtouc(&uc, s, len)) <= 0)
			n = 1;
		s += n;
		len -= (size_t)n;
		if (text_is_space(uc)) {
			st->st_space = st->st_any;
			st->st_base = NULL;
			continue;
		}
		if (uc_is_property_default_ignorable_code_point(uc) ||
		    uc_is_general_category(uc, UC_CATEGORY_Cc))
			continue;
		if (uc_is_general_category(uc, UC_CATEGORY_Mn) &&
		    text_drop_mark(st->st_base))
			continue;
		if (st->st_space && !strip && text_put(tb, ' ') == -1)
			return -1;
		st->st_space = 0;
		if (!uc_is_general_category(uc, UC_CATEGORY_M))
			st->st_base = uc_script(uc);
		if (text_put(tb, uc) == -1)
			return -1;
		st->st_any = 1;
	}
	return 0;
}

/* Room for n more bytes. */
static int
text_reserve(struct text_buf *tb, size_t n)
{
	uint8_t	*np;
	size_t	 size;

	if (tb->tb_size - tb->tb_len >= n)
		return 0;
	for (size = tb->tb_size ? tb->tb_size : 256; size - tb->tb_len < n;
	    size *= 2)
		;
	if ((np = realloc(tb->tb_p, size)) == NULL)
		return -1;
	tb->tb_p = np;
	tb->tb_size = size;
	return 0;
}

static int
text_append(struct text_buf *tb, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (text_reserve(tb, n) == -1)
		return -1;
	memcpy(tb->tb_p + tb->tb_len, p, n);
	tb->tb_len += n;
	return 0;
}

/*
 * What text_filter() makes of an ASCII byte: TEXT_SPACE for whitespace
 * and NUL, TEXT_KEEP for a printable character, which it outputs as it
 * is; TEXT_OTHER for control characters and for non-ASCII.  Before a
 * space or a kept character, normalisation can be split (see
 * text_collapse()).
 */
#define TEXT_OTHER	0
#define TEXT_SPACE	1
#define TEXT_KEEP	2

static uint8_t	text_classes[256];

/* Fills text_classes, once. */
static void
text_classes_init(void)
{
	int	c;

	if (text_classes['a'] == TEXT_KEEP)
		return;
	for (c = 0x21; c < 0x7F; c++)
		text_classes[c] = TEXT_KEEP;
	text_classes[0] = text_classes[' '] = TEXT_SPACE;
	for (c = 0x09; c <= 0x0D; c++)
		text_classes[c] = TEXT_SPACE;
}

static int
text_class(uint8_t c)
{
	return text_classes[c];
}

static int
text_safe(uint8_t c)
{
	return text_class(c) != TEXT_OTHER;
}

/* text_filter() on safe ASCII, where NFKD and NFC do nothing. */
static int
text_ascii(struct text_buf *tb, struct text_state *st, const uint8_t *s,
    size_t n)
{
	static const uc_script_t	*script[128];
	size_t				 i = 0, j;
	uint8_t				 c;

	/*
	 * A space is written only for whitespace consumed since the last
	 * run, or once for what the state carried in: n + 1 at most.
	 */
	if (text_reserve(tb, n + 1) == -1)
		return -1;
	while (i < n) {
		if (text_class(s[i]) == TEXT_SPACE) {
			st->st_space = st->st_any;
			st->st_base = NULL;
			i++;
			continue;
		}
		for (j = i + 1; j < n && text_class(s[j]) == TEXT_KEEP; j++)
			;
		if (st->st_space)
			tb->tb_p[tb->tb_len++] = ' ';
		st->st_space = 0;
		memcpy(tb->tb_p + tb->tb_len, s + i, j - i);
		tb->tb_len += j - i;
		c = s[j - 1];
		if (script[c] == NULL)
			script[c] = uc_script(c);
		st->st_base = script[c];
		st->st_any = 1;
		i = j;
	}
	return 0;
}

/* The normalisation of one segment: NFKD, text_filter(), then NFC. */
static int
text_segment(struct text_buf *tb, struct text_state *st, const uint8_t *s,
    size_t n, struct text_buf *scratch)
{
	uint8_t	 dbuf[1024], cbuf[1024], *d, *c = NULL;
	size_t	 dlen = sizeof(dbuf), clen = sizeof(cbuf), i;
	int	 rc = -1;

	if ((d = u8_normalize(UNINORM_NFKD, s, n, dbuf, &dlen)) == NULL)
		return -1;
	scratch->tb_len = 0;
	if (text_filter(d, dlen, 0, scratch, st) == -1)
		goto done;
	for (i = 0; i < scratch->tb_len && scratch->tb_p[i] < 0x80; i++)
		;
	if (i == scratch->tb_len)
		rc = text_append(tb, scratch->tb_p, scratch->tb_len);
	else if ((c = u8_normalize(UNINORM_NFC, scratch->tb_p,
	    scratch->tb_len, cbuf, &clen)) != NULL)
		rc = text_append(tb, c, clen);
 done:
	if (d != dbuf)
		free(d);
	if (c != cbuf)
		free(c);
	return rc;
}

/*
 * text_normalize() without strip, in pieces.  The whole is NFC of the
 * filtered NFKD form; a safe ASCII character (text_safe()) is a starter
 * that no decomposition, reordering or composition crosses, and that
 * leaves the filter's output starting with an ASCII character (itself,
 * or the space due) or with nothing; so the value can be cut before
 * each one and the pieces normalised on their own, the filter's state
 * carried over.  Runs of safe ASCII need no libunistring at all; an
 * ASCII character before other text goes with that text, since a mark
 * after it may be dropped or composed with it.  (With strip, a space
 * no longer keeps apart what NFC would compose, so that mode takes the
 * whole value at once.)
 */
static int
text_collapse(const uint8_t *s, size_t len, struct text_buf *tb)
{
	struct text_state	st = { NULL, 0, 0 };
	struct text_buf		scratch = { NULL, 0, 0 };
	size_t			i = 0, j, k;
	int			rc = 0;

	while (i < len && rc == 0) {
		for (k = i; k < len && text_safe(s[k]); k++)
			;
		if (k == len || k > i + 1) {
			/* s[i..k) safe; the last one goes with what follows. */
			j = k == len ? k : k - 1;
			rc = text_ascii(tb, &st, s + i, j - i);
			i = j;
			continue;
		}
		for (j = k + 1; j < len && !text_safe(s[j]); j++)
			;
		rc = text_segment(tb, &st, s + i, j - i, &scratch);
		i = j;
	}
	free(scratch.tb_p);
	return rc;
}

/* The whole value at once, as text_collapse() does in pieces. */
static int
text_whole(const uint8_t *s, size_t len, int strip, struct text_buf *tb)
{
	struct text_state	 st = { NULL, 0, 0 };
	struct text_buf		 f = { NULL, 0, 0 };
	uint8_t			*nfkd, *nfc = NULL;
	size_t			 dlen, clen;
	int			 rc = -1;

	nfkd = u8_normalize(UNINORM_NFKD, s, len, NULL, &dlen);
	if (nfkd != NULL && text_filter(nfkd, dlen, strip, &f, &st) == 0)
		nfc = u8_normalize(UNINORM_NFC, f.tb_p != NULL ? f.tb_p :
		    (const uint8_t *)"", f.tb_len, NULL, &clen);
	if (nfc != NULL)
		rc = text_append(tb, nfc, clen);
	free(nfkd);
	free(f.tb_p);
	free(nfc);
	return rc;
}

/*
 * Returns the comparable form of a value as a new NUL-terminated string,
 * or NULL when memory ran out.  NFKD first so that marks can be seen and
 * dropped, then NFC to put kana and their voiced marks back together:
 * the result is NFKC less what was removed.
 */
char *
text_normalize(const char *in, size_t len, int strip, size_t *outlen)
{
	uint8_t		*rep;
	struct text_buf	 tb = { NULL, 0, 0 };
	size_t		 rlen;
	int		 rc;

	text_classes_init();
	if ((rep = text_repair(in, len, &rlen)) == NULL)
		return NULL;
	rc = strip ? text_whole(rep, rlen, 1, &tb) :
	    text_collapse(rep, rlen, &tb);
	if (rep != (const uint8_t *)in)
		free(rep);
	if (rc == -1 || text_append(&tb, (const uint8_t *)"", 1) == -1) {
		free(tb.tb_p);
		return NULL;
	}
	if (outlen != NULL)
		*outlen = tb.tb_len - 1;
	return (char *)tb.tb_p;
}
