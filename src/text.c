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

/* Invalid sequences become U+FFFD, one per bad byte, as readers show. */
static uint8_t *
text_repair(const char *in, size_t len, size_t *outlen)
{
	const uint8_t	*s = (const uint8_t *)in;
	struct text_buf	 tb = { NULL, 0, 0 };
	ucs4_t		 uc;
	int		 n;

	if (u8_check(s, len) == NULL) {
		if ((tb.tb_p = malloc(len + 1)) == NULL)
			return NULL;
		memcpy(tb.tb_p, s, len);
		*outlen = len;
		return tb.tb_p;
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

static int
text_filter(const uint8_t *s, size_t len, int strip, struct text_buf *tb)
{
	const uc_script_t	*base = NULL;
	ucs4_t			 uc;
	int			 n, space = 0;

	while (len > 0) {
		if ((n = u8_mbtouc(&uc, s, len)) <= 0)
			n = 1;
		s += n;
		len -= (size_t)n;
		if (text_is_space(uc)) {
			space = tb->tb_len > 0;
			base = NULL;
			continue;
		}
		if (uc_is_property_default_ignorable_code_point(uc) ||
		    uc_is_general_category(uc, UC_CATEGORY_Cc))
			continue;
		if (uc_is_general_category(uc, UC_CATEGORY_Mn) &&
		    text_drop_mark(base))
			continue;
		if (space && !strip && text_put(tb, ' ') == -1)
			return -1;
		space = 0;
		if (!uc_is_general_category(uc, UC_CATEGORY_M))
			base = uc_script(uc);
		if (text_put(tb, uc) == -1)
			return -1;
	}
	return 0;
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
	uint8_t		*rep, *nfkd = NULL, *nfc = NULL;
	struct text_buf	 tb = { NULL, 0, 0 };
	size_t		 rlen, dlen, clen;
	char		*out = NULL;

	if ((rep = text_repair(in, len, &rlen)) == NULL)
		return NULL;
	nfkd = u8_normalize(UNINORM_NFKD, rep, rlen, NULL, &dlen);
	if (nfkd != NULL && text_filter(nfkd, dlen, strip, &tb) == 0)
		nfc = u8_normalize(UNINORM_NFC, tb.tb_p != NULL ? tb.tb_p :
		    (const uint8_t *)"", tb.tb_len, NULL, &clen);
	if (nfc != NULL && (out = malloc(clen + 1)) != NULL) {
		memcpy(out, nfc, clen);
		out[clen] = '\0';
		if (outlen != NULL)
			*outlen = clen;
	}
	free(rep);
	free(nfkd);
	free(tb.tb_p);
	free(nfc);
	return out;
}
