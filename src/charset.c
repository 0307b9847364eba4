/*
 * Charset conversion to UTF-8, done the way a mail reader shows text.
 *
 * Labels are matched loosely (case, quotes, separators, "x-" prefixes,
 * RFC 2231 languages, common misspellings) and decoded as the superset
 * that real senders use: Shift_JIS as CP932, GB2312 and GBK as GB18030,
 * EUC-KR as CP949, US-ASCII and ISO-8859-1 as windows-1252.  Text with no
 * label, or with one that lies, is sniffed: a byte-order mark, valid
 * UTF-8, ISO-2022-JP escapes, CP932 against EUC-JP; what is left decodes
 * as windows-1252, where every byte maps, so no text is ever dropped.
 * Undecodable bytes become U+FFFD, and every path is linear in the input.
 *
 * UTF-8, windows-1252 and the ISO-2022-JP family are decoded here (glibc's
 * ISO-2022-JP lacks the NEC and IBM rows that Windows mailers send); the
 * rest goes through iconv(3).  glibc loads most converters from files at
 * iconv_open() time, so a process that will chroot calls charset_init()
 * first, which opens them all and keeps them in a small cache.
 */

#include "phishmilter.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CP_BAD		0xFFFFFFFFU	/* ill-formed UTF-8 */
#define CP_SHORT	0xFFFFFFFEU	/* well-formed so far, cut by the end */
#define UTF8_FFFD	"\xEF\xBF\xBD"

#define CONV_SHIFTS	0x01	/* iconv state is a shift, kept over errors */
#define CONV_STRICT	0x02	/* stop at the first error */

#define CD_CACHE_MAX	64	/* more than the iconv names below */
#define ICONV_WINDOW	4096	/* input bytes per iconv() call */
#define JIS_RUN_MAX	65536	/* bytes queued for iconv at most */
#define LABEL_MAX	48	/* longer labels are unknown */

/* Output under construction; b_nomem sticks once an allocation failed. */
struct buf {
	char	*b_data;
	size_t	 b_len;
	size_t	 b_size;
	int	 b_nomem;
};

/* How a charset is decoded. */
enum cs_kind {
	CS_ICONV,	/* ASCII-compatible, through iconv */
	CS_STATEFUL,	/* 7-bit with shifts (UTF-7, ISO-2022-KR), iconv */
	CS_UTF8,
	CS_CP1252,	/* here, also for US-ASCII and ISO-8859-1 */
	CS_JIS,		/* the ISO-2022-JP family, here */
	CS_UTF16,	/* byte order from the BOM or the text */
	CS_UTF16LE,
	CS_UTF16BE,
	CS_UTF32,
	CS_UTF32LE,
	CS_UTF32BE
};

/* Labels senders get wrong: sniff before trusting them. */
#define CSF_GUESS	0x01
/* Japanese: what nothing reads is decoded as labelled, not windows-1252. */
#define CSF_JAPANESE	0x02
/* Stray bytes 0x80-0x9F, which iconv passes as C1 controls, are errors. */
#define CSF_NOC1	0x04

#define CS_NICONV	2

struct charset {
	const char	*cs_name;	/* canonical, as iconv knows it */
	enum cs_kind	 cs_kind;
	int		 cs_flags;
	const char	*cs_iconv[CS_NICONV]; /* tried in turn */
};

enum charset_id {
	ID_UTF8, ID_CP1252, ID_JIS, ID_JIS2, ID_JIS3, ID_CP932, ID_EUCJP,
	ID_EUCJISX0213, ID_SJISX0213, ID_GB18030, ID_BIG5, ID_CP950,
	ID_CP949, ID_EUCTW, ID_ISO2022KR, ID_ISO2022CN, ID_ISO2022CNEXT,
	ID_UTF7, ID_UTF16, ID_UTF16LE, ID_UTF16BE, ID_UTF32, ID_UTF32LE,
	ID_UTF32BE, ID_8859_2, ID_8859_3, ID_8859_4, ID_8859_5, ID_8859_6,
	ID_8859_7, ID_8859_8, ID_8859_10, ID_8859_13, ID_8859_14,
	ID_8859_15, ID_8859_16, ID_CP1250, ID_CP1251, ID_CP1253,
	ID_CP1254, ID_CP1255, ID_CP1256, ID_CP1257, ID_CP1258, ID_CP874,
	ID_KOI8R, ID_KOI8U, ID_CP866, ID_MAC, ID_MACCYR, ID_VISCII, ID_MAX
};

#define HERE(name, kind, flags)	{ name, kind, flags, { NULL } }
#define ICONV(name, flags)	{ name, CS_ICONV, flags, { name } }

static const struct charset charsets[ID_MAX] = {
	[ID_UTF8] = HERE("UTF-8", CS_UTF8, CSF_GUESS),
	[ID_CP1252] = HERE("WINDOWS-1252", CS_CP1252, CSF_GUESS),
	[ID_JIS] = HERE("ISO-2022-JP", CS_JIS, CSF_GUESS | CSF_JAPANESE),
	[ID_JIS2] = HERE("ISO-2022-JP-2", CS_JIS, CSF_GUESS | CSF_JAPANESE),
	[ID_JIS3] = HERE("ISO-2022-JP-3", CS_JIS, CSF_GUESS | CSF_JAPANESE),
	[ID_CP932] = ICONV("CP932", CSF_GUESS | CSF_JAPANESE),
	[ID_EUCJP] = { "EUC-JP-MS", CS_ICONV,
	    CSF_GUESS | CSF_JAPANESE | CSF_NOC1, { "EUC-JP-MS", "EUC-JP" } },
	[ID_EUCJISX0213] = ICONV("EUC-JISX0213", CSF_GUESS | CSF_JAPANESE),
	[ID_SJISX0213] = ICONV("SHIFT_JISX0213", CSF_GUESS | CSF_JAPANESE),
	[ID_GB18030] = ICONV("GB18030", 0),
	/* HKSCS has Big5's ETEN rows, CP950 the euro sign; either may do. */
	[ID_BIG5] = { "BIG5-HKSCS", CS_ICONV, CSF_NOC1,
	    { "BIG5-HKSCS", "CP950" } },
	[ID_CP950] = { "CP950", CS_ICONV, CSF_NOC1, { "CP950", "BIG5-HKSCS" } },
	[ID_CP949] = ICONV("CP949", 0),
	[ID_EUCTW] = ICONV("EUC-TW", 0),
	[ID_ISO2022KR] = { "ISO-2022-KR", CS_STATEFUL, 0, { "ISO-2022-KR" } },
	[ID_ISO2022CN] = { "ISO-2022-CN", CS_STATEFUL, 0, { "ISO-2022-CN" } },
	[ID_ISO2022CNEXT] = { "ISO-2022-CN-EXT", CS_STATEFUL, 0,
	    { "ISO-2022-CN-EXT" } },
	[ID_UTF7] = { "UTF-7", CS_STATEFUL, 0, { "UTF-7" } },
	[ID_UTF16] = HERE("UTF-16", CS_UTF16, 0),
	[ID_UTF16LE] = HERE("UTF-16LE", CS_UTF16LE, 0),
	[ID_UTF16BE] = HERE("UTF-16BE", CS_UTF16BE, 0),
	[ID_UTF32] = HERE("UTF-32", CS_UTF32, 0),
	[ID_UTF32LE] = HERE("UTF-32LE", CS_UTF32LE, 0),
	[ID_UTF32BE] = HERE("UTF-32BE", CS_UTF32BE, 0),
	[ID_8859_2] = ICONV("ISO-8859-2", 0),
	[ID_8859_3] = ICONV("ISO-8859-3", 0),
	[ID_8859_4] = ICONV("ISO-8859-4", 0),
	[ID_8859_5] = ICONV("ISO-8859-5", 0),
	[ID_8859_6] = ICONV("ISO-8859-6", 0),
	[ID_8859_7] = ICONV("ISO-8859-7", 0),
	[ID_8859_8] = ICONV("ISO-8859-8", 0),
	[ID_8859_10] = ICONV("ISO-8859-10", 0),
	[ID_8859_13] = ICONV("ISO-8859-13", 0),
	[ID_8859_14] = ICONV("ISO-8859-14", 0),
	[ID_8859_15] = ICONV("ISO-8859-15", 0),
	[ID_8859_16] = ICONV("ISO-8859-16", 0),
	[ID_CP1250] = ICONV("WINDOWS-1250", 0),
	[ID_CP1251] = ICONV("WINDOWS-1251", 0),
	[ID_CP1253] = ICONV("WINDOWS-1253", 0),
	[ID_CP1254] = ICONV("WINDOWS-1254", 0),
	[ID_CP1255] = ICONV("WINDOWS-1255", 0),
	[ID_CP1256] = ICONV("WINDOWS-1256", 0),
	[ID_CP1257] = ICONV("WINDOWS-1257", 0),
	[ID_CP1258] = ICONV("WINDOWS-1258", 0),
	[ID_CP874] = ICONV("WINDOWS-874", 0),
	[ID_KOI8R] = ICONV("KOI8-R", 0),
	[ID_KOI8U] = ICONV("KOI8-U", 0),
	[ID_CP866] = ICONV("IBM866", 0),
	[ID_MAC] = ICONV("MACINTOSH", 0),
	[ID_MACCYR] = ICONV("MAC-CYRILLIC", 0),
	[ID_VISCII] = ICONV("VISCII", 0),
};

/*
 * Labels, compared after folding (label_equal): case and every character
 * but letters and digits are ignored, so "Shift_JIS", "shift-jis" and
 * "SHIFT JIS" are one entry.  An unknown label starting with "x" is tried
 * again without it ("x-sjis", "x-gbk").  Where a superset exists the label
 * maps to it, as browsers and mail readers decode: US-ASCII and Latin-1
 * as windows-1252, Latin-5 as windows-1254, TIS-620 as windows-874.
 */
static const struct label {
	const char	*l_label;
	enum charset_id	 l_id;
} labels[] = {
	{ "utf-8", ID_UTF8 }, { "unicode-1-1-utf-8", ID_UTF8 },
	{ "unicode-2-0-utf-8", ID_UTF8 },

	{ "us-ascii", ID_CP1252 }, { "ascii", ID_CP1252 }, { "us", ID_CP1252 },
	{ "ansi_x3.4-1968", ID_CP1252 }, { "ansi_x3.4-1986", ID_CP1252 },
	{ "iso646-us", ID_CP1252 }, { "iso_646.irv:1991", ID_CP1252 },
	{ "iso-ir-6", ID_CP1252 }, { "csascii", ID_CP1252 },
	{ "cp367", ID_CP1252 }, { "ibm367", ID_CP1252 },
	{ "iso-8859-1", ID_CP1252 }, { "iso_8859-1:1987", ID_CP1252 },
	{ "8859-1", ID_CP1252 }, { "latin1", ID_CP1252 }, { "l1", ID_CP1252 },
	{ "iso-ir-100", ID_CP1252 }, { "csisolatin1", ID_CP1252 },
	{ "cp819", ID_CP1252 }, { "ibm819", ID_CP1252 },
	{ "windows-1252", ID_CP1252 }, { "cp1252", ID_CP1252 },
	{ "ms-ansi", ID_CP1252 },

	{ "iso-2022-jp", ID_JIS }, { "csiso2022jp", ID_JIS },
	{ "cp50220", ID_JIS }, { "cp50221", ID_JIS }, { "cp50222", ID_JIS },
	{ "jis", ID_JIS }, { "jis7", ID_JIS },
	{ "iso-2022-jp-1", ID_JIS2 }, { "iso-2022-jp-2", ID_JIS2 },
	{ "csiso2022jp2", ID_JIS2 },
	{ "iso-2022-jp-3", ID_JIS3 }, { "iso-2022-jp-2004", ID_JIS3 },
	{ "shift_jis", ID_CP932 }, { "sjis", ID_CP932 },
	{ "ms_kanji", ID_CP932 }, { "csshiftjis", ID_CP932 },
	{ "windows-31j", ID_CP932 }, { "cswindows31j", ID_CP932 },
	{ "cp932", ID_CP932 }, { "ms932", ID_CP932 }, { "ms-cp932", ID_CP932 },
	{ "windows-932", ID_CP932 }, { "ibm-943", ID_CP932 },
	{ "euc-jp", ID_EUCJP }, { "eucjp-ms", ID_EUCJP },
	{ "eucjp-win", ID_EUCJP }, { "eucjp-open", ID_EUCJP },
	{ "cp51932", ID_EUCJP }, { "ujis", ID_EUCJP },
	{ "cseucpkdfmtjapanese", ID_EUCJP },
	{ "euc-jisx0213", ID_EUCJISX0213 }, { "euc-jis-2004", ID_EUCJISX0213 },
	{ "shift_jisx0213", ID_SJISX0213 }, { "shift_jis-2004", ID_SJISX0213 },

	{ "gb2312", ID_GB18030 }, { "gb_2312-80", ID_GB18030 },
	{ "csgb2312", ID_GB18030 },
	{ "csiso58gb231280", ID_GB18030 }, { "iso-ir-58", ID_GB18030 },
	{ "chinese", ID_GB18030 }, { "euc-cn", ID_GB18030 },
	{ "gbk", ID_GB18030 }, { "cp936", ID_GB18030 },
	{ "ms936", ID_GB18030 }, { "windows-936", ID_GB18030 },
	{ "gb18030", ID_GB18030 }, { "cn-gb", ID_GB18030 },
	{ "big5", ID_BIG5 }, { "big-five", ID_BIG5 }, { "cn-big5", ID_BIG5 },
	{ "csbig5", ID_BIG5 }, { "x-big5", ID_BIG5 },
	{ "big5-hkscs", ID_BIG5 },
	{ "cp950", ID_CP950 }, { "ms950", ID_CP950 },
	{ "windows-950", ID_CP950 },
	{ "euc-tw", ID_EUCTW }, { "cns11643", ID_EUCTW },
	{ "iso-2022-cn", ID_ISO2022CN }, { "csiso2022cn", ID_ISO2022CN },
	{ "iso-2022-cn-ext", ID_ISO2022CNEXT },

	{ "euc-kr", ID_CP949 }, { "cseuckr", ID_CP949 },
	{ "ks_c_5601-1987", ID_CP949 }, { "ks_c_5601-1989", ID_CP949 },
	{ "ks_c_5601", ID_CP949 },
	{ "csksc56011987", ID_CP949 }, { "iso-ir-149", ID_CP949 },
	{ "korean", ID_CP949 }, { "cp949", ID_CP949 }, { "uhc", ID_CP949 },
	{ "ms949", ID_CP949 }, { "windows-949", ID_CP949 },
	{ "iso-2022-kr", ID_ISO2022KR }, { "csiso2022kr", ID_ISO2022KR },

	{ "utf-7", ID_UTF7 }, { "unicode-1-1-utf-7", ID_UTF7 },
	{ "csunicode11utf7", ID_UTF7 },
	{ "utf-16", ID_UTF16 }, { "ucs-2", ID_UTF16 }, { "unicode", ID_UTF16 },
	{ "csunicode", ID_UTF16 }, { "iso-10646-ucs-2", ID_UTF16 },
	{ "utf-16le", ID_UTF16LE }, { "unicodefeff", ID_UTF16LE },
	{ "ucs-2le", ID_UTF16LE },
	{ "utf-16be", ID_UTF16BE }, { "unicodefffe", ID_UTF16BE },
	{ "ucs-2be", ID_UTF16BE },
	{ "utf-32", ID_UTF32 }, { "ucs-4", ID_UTF32 },
	{ "iso-10646-ucs-4", ID_UTF32 },
	{ "utf-32le", ID_UTF32LE }, { "utf-32be", ID_UTF32BE },

	{ "iso-8859-2", ID_8859_2 }, { "iso_8859-2:1987", ID_8859_2 },
	{ "latin2", ID_8859_2 }, { "l2", ID_8859_2 },
	{ "iso-ir-101", ID_8859_2 }, { "csisolatin2", ID_8859_2 },
	{ "iso-8859-3", ID_8859_3 }, { "iso_8859-3:1988", ID_8859_3 },
	{ "latin3", ID_8859_3 }, { "l3", ID_8859_3 },
	{ "iso-ir-109", ID_8859_3 }, { "csisolatin3", ID_8859_3 },
	{ "iso-8859-4", ID_8859_4 }, { "iso_8859-4:1988", ID_8859_4 },
	{ "latin4", ID_8859_4 }, { "l4", ID_8859_4 },
	{ "iso-ir-110", ID_8859_4 }, { "csisolatin4", ID_8859_4 },
	{ "iso-8859-5", ID_8859_5 }, { "iso_8859-5:1988", ID_8859_5 },
	{ "cyrillic", ID_8859_5 }, { "iso-ir-144", ID_8859_5 },
	{ "csisolatincyrillic", ID_8859_5 },
	{ "iso-8859-6", ID_8859_6 }, { "iso_8859-6:1987", ID_8859_6 },
	{ "iso-8859-6-e", ID_8859_6 }, { "iso-8859-6-i", ID_8859_6 },
	{ "arabic", ID_8859_6 }, { "asmo-708", ID_8859_6 },
	{ "ecma-114", ID_8859_6 }, { "iso-ir-127", ID_8859_6 },
	{ "csisolatinarabic", ID_8859_6 },
	{ "iso-8859-7", ID_8859_7 }, { "iso_8859-7:1987", ID_8859_7 },
	{ "iso_8859-7:2003", ID_8859_7 }, { "greek", ID_8859_7 },
	{ "greek8", ID_8859_7 }, { "elot_928", ID_8859_7 },
	{ "ecma-118", ID_8859_7 }, { "iso-ir-126", ID_8859_7 },
	{ "csisolatingreek", ID_8859_7 },
	{ "iso-8859-8", ID_8859_8 }, { "iso_8859-8:1988", ID_8859_8 },
	{ "iso-8859-8-i", ID_8859_8 }, { "iso-8859-8-e", ID_8859_8 },
	{ "hebrew", ID_8859_8 }, { "iso-ir-138", ID_8859_8 },
	{ "visual", ID_8859_8 }, { "logical", ID_8859_8 },
	{ "csisolatinhebrew", ID_8859_8 },
	{ "iso-8859-9", ID_CP1254 }, { "iso_8859-9:1989", ID_CP1254 },
	{ "latin5", ID_CP1254 }, { "l5", ID_CP1254 },
	{ "iso-ir-148", ID_CP1254 }, { "csisolatin5", ID_CP1254 },
	{ "iso-8859-10", ID_8859_10 }, { "iso_8859-10:1992", ID_8859_10 },
	{ "latin6", ID_8859_10 }, { "l6", ID_8859_10 },
	{ "iso-ir-157", ID_8859_10 }, { "csisolatin6", ID_8859_10 },
	{ "iso-8859-11", ID_CP874 }, { "tis-620", ID_CP874 },
	{ "tis-620-2533", ID_CP874 }, { "windows-874", ID_CP874 },
	{ "cp874", ID_CP874 }, { "dos-874", ID_CP874 },
	{ "iso-8859-13", ID_8859_13 }, { "latin7", ID_8859_13 },
	{ "l7", ID_8859_13 },
	{ "iso-8859-14", ID_8859_14 }, { "latin8", ID_8859_14 },
	{ "l8", ID_8859_14 }, { "iso-ir-199", ID_8859_14 },
	{ "iso-8859-15", ID_8859_15 }, { "latin9", ID_8859_15 },
	{ "l9", ID_8859_15 }, { "latin-0", ID_8859_15 },
	{ "csisolatin9", ID_8859_15 },
	{ "iso-8859-16", ID_8859_16 }, { "latin10", ID_8859_16 },
	{ "l10", ID_8859_16 }, { "iso-ir-226", ID_8859_16 },

	{ "windows-1250", ID_CP1250 }, { "cp1250", ID_CP1250 },
	{ "windows-1251", ID_CP1251 }, { "cp1251", ID_CP1251 },
	{ "windows-1253", ID_CP1253 }, { "cp1253", ID_CP1253 },
	{ "windows-1254", ID_CP1254 }, { "cp1254", ID_CP1254 },
	{ "windows-1255", ID_CP1255 }, { "cp1255", ID_CP1255 },
	{ "windows-1256", ID_CP1256 }, { "cp1256", ID_CP1256 },
	{ "windows-1257", ID_CP1257 }, { "cp1257", ID_CP1257 },
	{ "windows-1258", ID_CP1258 }, { "cp1258", ID_CP1258 },
	{ "koi8-r", ID_KOI8R }, { "koi8", ID_KOI8R }, { "koi", ID_KOI8R },
	{ "cskoi8r", ID_KOI8R },
	{ "koi8-u", ID_KOI8U }, { "koi8-ru", ID_KOI8U },
	{ "ibm866", ID_CP866 }, { "cp866", ID_CP866 }, { "866", ID_CP866 },
	{ "csibm866", ID_CP866 },
	{ "macintosh", ID_MAC }, { "mac", ID_MAC }, { "mac-roman", ID_MAC },
	{ "csmacintosh", ID_MAC },
	{ "mac-cyrillic", ID_MACCYR }, { "mac-ukrainian", ID_MACCYR },
	{ "viscii", ID_VISCII }, { "csviscii", ID_VISCII },
};

/* windows-1252 at 0x80-0x9F; 0 marks the five bytes it leaves undefined. */
static const uint16_t cp1252_c1[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178
};

/*
 * iconv descriptors, kept for the life of the process.  A descriptor is
 * lent to one conversion at a time (cd_busy) and reset when lent; one
 * that iconv does not know is remembered as (iconv_t)-1.
 */
struct cd_slot {
	const char	*cd_name;	/* a string constant of the tables */
	iconv_t		 cd;
	int		 cd_busy;
};

static struct cd_slot	cd_cache[CD_CACHE_MAX];
static size_t		cd_ncache;

/* Room for want more bytes and a NUL; 0, or -1 when memory ran out. */
static int
buf_reserve(struct buf *b, size_t want)
{
	size_t	 size;
	char	*p;

	if (b->b_nomem)
		return -1;
	if (b->b_size - b->b_len > want)
		return 0;
	size = b->b_size != 0 ? b->b_size : 64;
	while (size - b->b_len <= want) {
		if (size > SIZE_MAX / 2)
			goto nomem;
		size *= 2;
	}
	if ((p = realloc(b->b_data, size)) == NULL)
		goto nomem;
	b->b_data = p;
	b->b_size = size;
	return 0;
nomem:
	b->b_nomem = 1;
	return -1;
}

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0 || buf_reserve(b, n) == -1)
		return;
	memcpy(b->b_data + b->b_len, p, n);
	b->b_len += n;
}

static void
buf_add_cp(struct buf *b, uint32_t cp)
{
	unsigned char	 u[4];

	if (cp < 0x80) {
		u[0] = cp;
		buf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = 0xC0 | cp >> 6;
		u[1] = 0x80 | (cp & 0x3F);
		buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = 0xE0 | cp >> 12;
		u[1] = 0x80 | (cp >> 6 & 0x3F);
		u[2] = 0x80 | (cp & 0x3F);
		buf_add(b, u, 3);
	} else {
		u[0] = 0xF0 | cp >> 18;
		u[1] = 0x80 | (cp >> 12 & 0x3F);
		u[2] = 0x80 | (cp >> 6 & 0x3F);
		u[3] = 0x80 | (cp & 0x3F);
		buf_add(b, u, 4);
	}
}

static void
buf_add_fffd(struct buf *b)
{
	buf_add(b, UTF8_FFFD, 3);
}

/* Drops the bytes from to up to from, moving the rest down. */
static void
buf_keep(struct buf *b, size_t to, size_t from)
{
	memmove(b->b_data + to, b->b_data + from, b->b_len - from);
	b->b_len -= from - to;
}

/*
 * The range the second byte of a UTF-8 sequence must be in, which rules
 * out overlong forms, surrogates and code points above U+10FFFF.
 */
static void
utf8_second(unsigned char lead, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (lead == 0xE0)
		*lo = 0xA0;
	else if (lead == 0xED)
		*hi = 0x9F;
	else if (lead == 0xF0)
		*lo = 0x90;
	else if (lead == 0xF4)
		*hi = 0x8F;
}

/*
 * Decodes the UTF-8 character at p: returns the bytes it takes, at least
 * one, with the code point, CP_BAD or CP_SHORT in *cp.  A bad sequence
 * spans its longest well-formed prefix, so it costs a single U+FFFD.
 */
static size_t
utf8_next(const unsigned char *p, size_t len, uint32_t *cp)
{
	unsigned char	 lo, hi;
	size_t		 need, i;
	uint32_t	 c;

	*cp = p[0];
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		need = 1;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		need = 2;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		need = 3;
	else {
		*cp = CP_BAD;
		return 1;
	}
	utf8_second(p[0], &lo, &hi);
	c = p[0] & (0x3F >> need);
	for (i = 1; i <= need; i++) {
		if (i == len || p[i] < lo || p[i] > hi) {
			*cp = i == len ? CP_SHORT : CP_BAD;
			return i;
		}
		c = c << 6 | (p[i] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	*cp = c;
	return i;
}

/* What the bytes look like as UTF-8. */
struct utf8_stat {
	size_t	 us_multi;	/* well-formed multi-byte characters */
	size_t	 us_bad;	/* ill-formed sequences */
	size_t	 us_short;	/* bytes of a character cut by the end */
};

static void
utf8_scan(const unsigned char *in, size_t len, struct utf8_stat *st)
{
	uint32_t	 cp;
	size_t		 n;

	memset(st, 0, sizeof(*st));
	for (; len > 0; in += n, len -= n) {
		if (*in < 0x80) {
			n = 1;
			continue;
		}
		n = utf8_next(in, len, &cp);
		if (cp == CP_BAD)
			st->us_bad++;
		else if (cp == CP_SHORT)
			st->us_short = n;
		else if (n > 1)
			st->us_multi++;
	}
}

/*
 * Mostly UTF-8: a bad sequence for every four good ones is forgiven (a
 * signature in another charset), under a UTF-8 label one for each, and
 * there a last character cut after its second byte is evidence enough (a
 * header cut short).  Japanese or Latin text in a legacy charset, read as
 * UTF-8, shows more errors than characters.
 */
static int
utf8_mostly(const struct utf8_stat *st, const struct charset *cs)
{
	if (cs != NULL && cs->cs_kind == CS_UTF8)
		return st->us_bad <= st->us_multi &&
		    (st->us_multi > 0 || st->us_short >= 2);
	return st->us_multi > 0 && st->us_bad * 4 <= st->us_multi;
}

/* Copies UTF-8, a U+FFFD for each ill-formed sequence; returns their count. */
static size_t
utf8_copy(struct buf *out, const unsigned char *in, size_t len)
{
	uint32_t	 cp;
	size_t		 i = 0, run = 0, n, nerr = 0;

	/* Valid runs are copied whole: most text is. */
	while (i < len) {
		if (in[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_next(in + i, len - i, &cp);
		if (cp == CP_BAD || cp == CP_SHORT) {
			buf_add(out, in + run, i - run);
			buf_add_fffd(out);
			nerr++;
			run = i + n;
		}
		i += n;
	}
	buf_add(out, in + run, i - run);
	return nerr;
}

/*
 * windows-1252, the last resort: every byte maps, the five that 1252
 * leaves undefined to the C1 controls of the same value, as browsers do.
 * Returns how many of those there were.
 */
static size_t
cp1252_decode(struct buf *out, const unsigned char *in, size_t len)
{
	size_t	 i, run, nerr = 0;

	for (i = 0; i < len; i++) {
		/* ASCII runs are copied whole. */
		for (run = i; i < len && in[i] < 0x80; i++)
			;
		buf_add(out, in + run, i - run);
		if (i == len)
			break;
		if (in[i] > 0x9F)
			buf_add_cp(out, in[i]);
		else if (cp1252_c1[in[i] - 0x80] != 0)
			buf_add_cp(out, cp1252_c1[in[i] - 0x80]);
		else {
			buf_add_cp(out, in[i]);
			nerr++;
		}
	}
	return nerr;
}

/* Opens name into a free cache slot; a charset iconv lacks is remembered. */
static iconv_t
cd_get_new(const char *name, struct cd_slot **slotp)
{
	struct cd_slot	*s;
	iconv_t		 cd;

	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1 && errno != EINVAL)
		return cd;		/* ENOMEM, EMFILE: try again later */
	if (cd_ncache == CD_CACHE_MAX)
		return cd;		/* cd_put() closes it */
	s = &cd_cache[cd_ncache++];
	s->cd_name = name;
	s->cd = cd;
	if (cd != (iconv_t)-1) {
		s->cd_busy = 1;
		*slotp = s;
	}
	return cd;
}

/*
 * Lends a descriptor for name, reset to its initial state, or
 * (iconv_t)-1 with errno set.  A descriptor already lent is not shared:
 * a private one is opened instead, for cd_put() to close.
 */
static iconv_t
cd_get(const char *name, struct cd_slot **slotp)
{
	struct cd_slot	*s;
	size_t		 i;

	*slotp = NULL;
	for (i = 0; i < cd_ncache; i++) {
		s = &cd_cache[i];
		if (strcmp(s->cd_name, name) != 0)
			continue;
		if (s->cd == (iconv_t)-1) {
			errno = EINVAL;
			return s->cd;
		}
		if (s->cd_busy)
			return iconv_open("UTF-8", name);
		s->cd_busy = 1;
		iconv(s->cd, NULL, NULL, NULL, NULL);
		*slotp = s;
		return s->cd;
	}
	return cd_get_new(name, slotp);
}

static void
cd_put(iconv_t cd, struct cd_slot *s)
{
	if (s != NULL)
		s->cd_busy = 0;
	else if (cd != (iconv_t)-1)
		iconv_close(cd);
}

/*
 * Writes out what cd holds back and resets it: glibc's CP1255 and CP1258
 * keep a letter until they know no combining mark follows.
 */
static void
iconv_drain(struct buf *out, iconv_t cd)
{
	char	*op;
	size_t	 ol;

	if (buf_reserve(out, 32) == -1)
		return;
	op = out->b_data + out->b_len;
	ol = out->b_size - out->b_len - 1;
	iconv(cd, NULL, NULL, &op, &ol);
	out->b_len = (size_t)(op - out->b_data);
}

/*
 * Converts with cd, appending UTF-8 to out.  An undecodable sequence
 * costs a U+FFFD and unit bytes (a whole character where the input is
 * aligned, as UTF-16 is), a truncated one at the end a U+FFFD; returns
 * their count; with CONV_STRICT the first ends the work.  What cd holds
 * back goes out before the U+FFFD, unless its state is a shift
 * (CONV_SHIFTS: ISO-2022-KR) that must outlive the error.  iconv() sees
 * ICONV_WINDOW bytes at a time, so that nothing (a sanitizer checking its
 * arguments) costs more than that per call, and every round consumes
 * input or grows the output: the work is linear in len.
 */
static size_t
iconv_loop(struct buf *out, iconv_t cd, const unsigned char *in, size_t len,
    size_t unit, int flags)
{
	/* iconv(3) takes char **, though it never writes the input. */
	char	*ip = (char *)(uintptr_t)in, *op;
	size_t	 il = len, win, left, ol, skip, nerr = 0, rc;

	while (il > 0) {
		win = il < ICONV_WINDOW ? il : ICONV_WINDOW;
		if (buf_reserve(out, win + 16) == -1)
			break;
		op = out->b_data + out->b_len;
		ol = out->b_size - out->b_len - 1;
		left = win;
		rc = iconv(cd, &ip, &left, &op, &ol);
		out->b_len = (size_t)(op - out->b_data);
		il -= win - left;
		if (rc != (size_t)-1)
			continue;
		if (errno == E2BIG) {
			buf_reserve(out, out->b_size);
			continue;
		}
		if (errno == EINVAL && left < il)
			continue;	/* cut by the window, not the end */
		nerr++;
		if (flags & CONV_STRICT)
			break;
		skip = errno == EILSEQ && unit < il ? unit : il;
		ip += skip;
		il -= skip;
		if (!(flags & CONV_SHIFTS))
			iconv_drain(out, cd);
		buf_add_fffd(out);
	}
	iconv_drain(out, cd);
	return nerr;
}

/* Converts with the named iconv charset; returns the errors. */
static size_t
iconv_convert(struct buf *out, const char *name, const unsigned char *in,
    size_t len, size_t unit, int flags)
{
	struct cd_slot	*slot;
	iconv_t		 cd;
	size_t		 nerr;

	if (len == 0)
		return 0;
	if ((cd = cd_get(name, &slot)) == (iconv_t)-1) {
		if (errno == ENOMEM)
			out->b_nomem = 1;
		buf_add_fffd(out);
		return (len + unit - 1) / unit;
	}
	nerr = iconv_loop(out, cd, in, len, unit, flags);
	cd_put(cd, slot);
	return nerr;
}

static size_t
iconv_run(struct buf *out, const char *name, const unsigned char *in,
    size_t len, size_t unit)
{
	return iconv_convert(out, name, in, len, unit, 0);
}

/* Whether iconv has a converter for cs (those done here always work). */
static int
cs_available(const struct charset *cs)
{
	struct cd_slot	*s;
	iconv_t		 cd;
	size_t		 i;

	if (cs->cs_kind != CS_ICONV && cs->cs_kind != CS_STATEFUL)
		return 1;
	for (i = 0; i < CS_NICONV && cs->cs_iconv[i] != NULL; i++) {
		cd = cd_get(cs->cs_iconv[i], &s);
		cd_put(cd, s);
		if (cd != (iconv_t)-1)
			return 1;
	}
	return 0;
}

/*
 * Opens every converter the tables name, for a process about to chroot
 * away from glibc's gconv modules.  Returns 0, or -1 when a charset is
 * missing (its labels then decode as if undeclared) or memory ran out.
 */
int
charset_init(void)
{
	struct cd_slot	*s;
	iconv_t		 cd;
	size_t		 i, j;
	int		 rc = 0;

	for (i = 0; i < ID_MAX; i++) {
		for (j = 0; j < CS_NICONV; j++) {
			if (charsets[i].cs_iconv[j] == NULL)
				break;
			if ((cd = cd_get(charsets[i].cs_iconv[j], &s)) ==
			    (iconv_t)-1)
				rc = -1;
			cd_put(cd, s);
		}
	}
	return rc;
}

void
charset_cleanup(void)
{
	size_t	 i;

	for (i = 0; i < cd_ncache; i++) {
		if (cd_cache[i].cd != (iconv_t)-1)
			iconv_close(cd_cache[i].cd);
	}
	cd_ncache = 0;
}

/* Zero bytes on the high (first, big-endian) and low side of pairs. */
static void
utf16_zeros(const unsigned char *in, size_t len, size_t *be, size_t *le)
{
	size_t	 i;

	*be = *le = 0;
	for (i = 0; i + 1 < len; i += 2) {
		*be += in[i] == 0;
		*le += in[i + 1] == 0;
	}
}

/*
 * Byte order of UTF-16 without a BOM: the side Latin text has its zero
 * bytes on; little-endian when that says nothing, as Windows writes it
 * and browsers assume.
 */
static const char *
utf16_order(const unsigned char *in, size_t len)
{
	size_t	 be, le;

	utf16_zeros(in, len, &be, &le);
	return be > le ? "UTF-16BE" : "UTF-16LE";
}

/*
 * UTF-16 with neither label nor BOM: no text charset has NUL bytes, so
 * many of them, nearly all on one side of the pairs, are the high halves
 * of Latin letters.  Returns 0 when it was that and is decoded.
 */
static int
utf16_sniffed(struct buf *out, const unsigned char *in, size_t len)
{
	const char	*name;
	size_t		 be, le;

	if (len < 4)
		return -1;
	utf16_zeros(in, len, &be, &le);
	if (le > len / 16 && be * 4 <= le)
		name = "UTF-16LE";
	else if (be > len / 16 && le * 4 <= be)
		name = "UTF-16BE";
	else
		return -1;
	iconv_run(out, name, in, len, 2);
	return 0;
}

/* Byte order of UTF-32 without a BOM: the one giving more code points. */
static const char *
utf32_order(const unsigned char *in, size_t len)
{
	size_t	 i, be = 0, le = 0;

	for (i = 0; i + 3 < len; i += 4) {
		be += in[i] == 0 && in[i + 1] <= 0x10;
		le += in[i + 3] == 0 && in[i + 2] <= 0x10;
	}
	return le > be ? "UTF-32LE" : "UTF-32BE";
}

/* 16 or 32 for the UTF-16 and UTF-32 labels, else 0. */
static int
cs_wide(const struct charset *cs)
{
	if (cs == NULL)
		return 0;
	switch (cs->cs_kind) {
	case CS_UTF16:
	case CS_UTF16LE:
	case CS_UTF16BE:
		return 16;
	case CS_UTF32:
	case CS_UTF32LE:
	case CS_UTF32BE:
		return 32;
	default:
		return 0;
	}
}

static size_t
wide_decode(struct buf *out, const struct charset *cs,
    const unsigned char *in, size_t len)
{
	switch (cs->cs_kind) {
	case CS_UTF16:
		return iconv_run(out, utf16_order(in, len), in, len, 2);
	case CS_UTF16LE:
		return iconv_run(out, "UTF-16LE", in, len, 2);
	case CS_UTF16BE:
		return iconv_run(out, "UTF-16BE", in, len, 2);
	case CS_UTF32:
		return iconv_run(out, utf32_order(in, len), in, len, 4);
	case CS_UTF32LE:
		return iconv_run(out, "UTF-32LE", in, len, 4);
	default:
		return iconv_run(out, "UTF-32BE", in, len, 4);
	}
}

/*
 * A byte-order mark outranks the label, as in browsers: whoever wrote it
 * knew the encoding.  UTF-32 marks count only under a UTF-32 label, since
 * FF FE 00 00 also starts UTF-16LE text whose first character is NUL.
 * Returns how it was decoded, or -1 when there is no mark.
 */
static int
bom_decode(struct buf *out, const struct charset *cs,
    const unsigned char *in, size_t len)
{
	const char	*name;
	size_t		 n = 2;

	if (len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0) {
		if (cs != NULL && cs->cs_kind == CS_UTF8) {
			utf8_copy(out, in + 3, len - 3);
			return CHARSET_DECLARED;
		}
		if (utf8_copy(out, in + 3, len - 3) != 0)
			return CHARSET_GUESSED;
		return CHARSET_UTF8;
	}
	if (cs_wide(cs) == 32 && len >= 4 && (in[0] | in[1]) == 0 &&
	    in[2] == 0xFE && in[3] == 0xFF) {
		name = "UTF-32BE";
		n = 4;
	} else if (cs_wide(cs) == 32 && len >= 4 && in[0] == 0xFF &&
	    in[1] == 0xFE && (in[2] | in[3]) == 0) {
		name = "UTF-32LE";
		n = 4;
	} else if (len >= 2 && in[0] == 0xFE && in[1] == 0xFF)
		name = "UTF-16BE";
	else if (len >= 2 && in[0] == 0xFF && in[1] == 0xFE)
		name = "UTF-16LE";
	else
		return -1;
	iconv_run(out, name, in + n, len - n, n);
	return cs_wide(cs) ? CHARSET_DECLARED : CHARSET_GUESSED;
}

/*
 * ISO-2022-JP and its variants (-1, -2, -3, 2004, Microsoft's CP5022x):
 * 7-bit text that escape sequences switch between character sets.
 */
enum jis_set {
	JIS_ASCII, JIS_ROMAN, JIS_KANA, JIS_X0208, JIS_X0212, JIS_X0213P1,
	JIS_X0213P2, JIS_GB2312, JIS_KSC5601, JIS_GREEK, JIS_LATIN1,
	JIS_NONE
};

/*
 * How the characters of each set reach iconv.  JIS X 0208 goes through
 * its Shift_JIS position in CP932, which has the NEC row 13 (①, ㈱) and
 * the NEC-selected IBM rows 89-92 that Windows mailers send and glibc's
 * ISO-2022-JP rejects; the other sets through the EUC form of their rows
 * (high bit set, SS3 first for a second plane).
 */
static const struct jis_target {
	const char	*jt_iconv;
	size_t		 jt_width;	/* bytes a character takes in JIS */
	size_t		 jt_unit;	/* bytes it takes for iconv */
} jis_targets[JIS_NONE] = {
	[JIS_KANA] = { "CP932", 1, 1 },
	[JIS_X0208] = { "CP932", 2, 2 },
	[JIS_X0212] = { "EUC-JP-MS", 2, 3 },
	[JIS_X0213P1] = { "EUC-JISX0213", 2, 2 },
	[JIS_X0213P2] = { "EUC-JISX0213", 2, 3 },
	[JIS_GB2312] = { "GB18030", 2, 2 },
	[JIS_KSC5601] = { "CP949", 2, 2 },
	[JIS_GREEK] = { "ISO-8859-7", 1, 1 },
};

enum jis_op {
	JE_G0,		/* designate into G0, which is in use */
	JE_G2,		/* designate into G2, for single shifts */
	JE_SS2,		/* one character from G2 */
	JE_NOP		/* understood, nothing to do */
};

static const struct jis_escape {
	const char	*je_seq;	/* the bytes after ESC */
	enum jis_op	 je_op;
	enum jis_set	 je_set;
} jis_escapes[] = {
	{ "(B", JE_G0, JIS_ASCII }, { "(J", JE_G0, JIS_ROMAN },
	{ "(H", JE_G0, JIS_ROMAN }, { "(I", JE_G0, JIS_KANA },
	{ "$@", JE_G0, JIS_X0208 }, { "$B", JE_G0, JIS_X0208 },
	{ "$(@", JE_G0, JIS_X0208 }, { "$(B", JE_G0, JIS_X0208 },
	{ "$A", JE_G0, JIS_GB2312 }, { "$(A", JE_G0, JIS_GB2312 },
	{ "$(C", JE_G0, JIS_KSC5601 }, { "$(D", JE_G0, JIS_X0212 },
	{ "$(O", JE_G0, JIS_X0213P1 }, { "$(Q", JE_G0, JIS_X0213P1 },
	{ "$(P", JE_G0, JIS_X0213P2 },
	{ ".A", JE_G2, JIS_LATIN1 }, { ".F", JE_G2, JIS_GREEK },
	{ "N", JE_SS2, JIS_NONE },
	{ "&@", JE_NOP, JIS_NONE },	/* JIS X 0208-1990 announcer */
	{ ")I", JE_NOP, JIS_NONE },	/* katakana into G1, for SO */
};

#define NJIS_ESCAPES	(sizeof(jis_escapes) / sizeof(jis_escapes[0]))

struct jis {
	struct buf		*j_out;
	struct buf		 j_run;		/* bytes for one iconv call */
	const struct jis_target	*j_runto;
	enum jis_set		 j_g0;
	enum jis_set		 j_g2;
	int			 j_so;		/* SO: katakana until SI */
	int			 j_lead;	/* a pair's first byte, or -1 */
	size_t			 j_nerr;
};

/* The escape sequence whose bytes after ESC start p, or NULL. */
static const struct jis_escape *
jis_match(const unsigned char *p, size_t left)
{
	size_t	 i, n;

	for (i = 0; i < NJIS_ESCAPES; i++) {
		n = strlen(jis_escapes[i].je_seq);
		if (n <= left && memcmp(p, jis_escapes[i].je_seq, n) == 0)
			return &jis_escapes[i];
	}
	return NULL;
}

/* Whether the text switches to a Japanese set, whatever its label says. */
static int
jis_sniff(const unsigned char *in, size_t len)
{
	const struct jis_escape	*e;
	const unsigned char	*p, *end = in + len;

	for (p = in; (p = memchr(p, 0x1B, end - p)) != NULL; p++) {
		e = jis_match(p + 1, end - p - 1);
		if (e != NULL && e->je_op == JE_G0 && e->je_set != JIS_ASCII)
			return 1;
	}
	return 0;
}

static void
jis_flush(struct jis *j)
{
	if (j->j_run.b_len == 0)
		return;
	j->j_nerr += iconv_run(j->j_out, j->j_runto->jt_iconv,
	    (unsigned char *)j->j_run.b_data, j->j_run.b_len,
	    j->j_runto->jt_unit);
	j->j_run.b_len = 0;
}

/* A character decoded here; what iconv still holds goes first. */
static void
jis_emit(struct jis *j, uint32_t cp)
{
	jis_flush(j);
	buf_add_cp(j->j_out, cp);
}

static void
jis_error(struct jis *j)
{
	jis_emit(j, 0xFFFD);
	j->j_nerr++;
}

/* A pair cut short by a control, an escape or the end. */
static void
jis_lead_lost(struct jis *j)
{
	if (j->j_lead == -1)
		return;
	j->j_lead = -1;
	jis_error(j);
}

/* A JIS X 0208 row and cell (0x21-0x7E each) at its Shift_JIS place. */
static size_t
jis_to_sjis(unsigned char b1, unsigned char b2, unsigned char *c)
{
	c[0] = ((b1 + 1) >> 1) + (b1 <= 0x5E ? 0x70 : 0xB0);
	if (b1 & 1)
		c[1] = b2 + (b2 >= 0x60 ? 0x20 : 0x1F);
	else
		c[1] = b2 + 0x7E;
	return 2;
}

/* Queues a character of set for iconv, in the form jis_targets says. */
static void
jis_queue(struct jis *j, enum jis_set set, unsigned char b1,
    unsigned char b2)
{
	const struct jis_target	*t = &jis_targets[set];
	unsigned char		 c[3];
	size_t			 n = 0;

	if (j->j_runto != t) {
		jis_flush(j);
		j->j_runto = t;
	}
	if (set == JIS_X0208)
		n = jis_to_sjis(b1, b2, c);
	else {
		if (t->jt_unit > t->jt_width)
			c[n++] = 0x8F;
		c[n++] = b1 | 0x80;
		if (t->jt_width == 2)
			c[n++] = b2 | 0x80;
	}
	buf_add(&j->j_run, c, n);
	if (j->j_run.b_len >= JIS_RUN_MAX)
		jis_flush(j);
}

/* The character after ESC N, from G2. */
static void
jis_single(struct jis *j, unsigned char c)
{
	if (c < 0x20 || c > 0x7F || j->j_g2 == JIS_NONE)
		jis_error(j);
	else if (j->j_g2 == JIS_LATIN1)
		jis_emit(j, c | 0x80);
	else
		jis_queue(j, j->j_g2, c, 0);
}

/* Acts on the escape sequence at p; returns the bytes it takes. */
static size_t
jis_escape(struct jis *j, const unsigned char *p, size_t left)
{
	const struct jis_escape	*e;
	size_t			 n;

	jis_lead_lost(j);
	if ((e = jis_match(p + 1, left - 1)) == NULL) {
		jis_error(j);
		return 1;	/* what follows ESC is text again */
	}
	n = 1 + strlen(e->je_seq);
	switch (e->je_op) {
	case JE_G0:
		j->j_g0 = e->je_set;
		break;
	case JE_G2:
		j->j_g2 = e->je_set;
		break;
	case JE_SS2:
		if (n == left) {
			jis_error(j);
			break;
		}
		jis_single(j, p[n++]);
		break;
	case JE_NOP:
		break;
	}
	return n;
}

/* A byte from 0x21 to 0x7E in set. */
static void
jis_graphic(struct jis *j, enum jis_set set, unsigned char b)
{
	switch (set) {
	case JIS_ASCII:
		jis_emit(j, b);
		break;
	case JIS_ROMAN:
		jis_emit(j, b == 0x5C ? 0xA5 : b == 0x7E ? 0x203E : b);
		break;
	case JIS_KANA:
		if (b <= 0x5F)
			jis_queue(j, set, b, 0);
		else
			jis_error(j);
		break;
	default:
		if (j->j_lead == -1)
			j->j_lead = b;
		else {
			jis_queue(j, set, j->j_lead, b);
			j->j_lead = -1;
		}
		break;
	}
}

/*
 * Any byte but ESC.  Controls and space pass in every set and keep it:
 * encoders that forget to return to ASCII at the end of a line are more
 * common than readers that would reset there.  8-bit bytes are errors.
 */
static void
jis_byte(struct jis *j, unsigned char b)
{
	if (b > 0x20 && b < 0x7F) {
		jis_graphic(j, j->j_so ? JIS_KANA : j->j_g0, b);
		return;
	}
	jis_lead_lost(j);
	if (b == 0x0E || b == 0x0F)
		j->j_so = b == 0x0E;
	else if (b >= 0x80)
		jis_error(j);
	else
		jis_emit(j, b);
}

/*
 * Decodes the ISO-2022-JP family; returns the errors.  Text that never
 * switches back to ASCII simply ends: all state is local, and what iconv
 * gets is flushed every JIS_RUN_MAX bytes and at the end.
 */
static size_t
jis_decode(struct buf *out, const unsigned char *in, size_t len)
{
	struct jis	 j;
	size_t		 i = 0;

	memset(&j, 0, sizeof(j));
	j.j_out = out;
	j.j_g0 = JIS_ASCII;
	j.j_g2 = JIS_NONE;
	j.j_lead = -1;
	while (i < len) {
		if (in[i] == 0x1B)
			i += jis_escape(&j, in + i, len - i);
		else
			jis_byte(&j, in[i++]);
	}
	jis_lead_lost(&j);
	jis_flush(&j);
	if (j.j_run.b_nomem)
		out->b_nomem = 1;
	free(j.j_run.b_data);
	return j.j_nerr;
}

/* A label character folded: lower-case letter, digit, or 0 to skip. */
static int
label_char(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return c;
	return 0;
}

/*
 * Folds a label into key, up to an RFC 2231 language ("utf-8*ja");
 * quotes and blanks go with the other separators.  -1 when nothing is
 * left or the label is too long to be one.
 */
static int
label_fold(const char *label, char *key, size_t size)
{
	size_t	 n = 0;
	int	 c;

	for (; *label != '\0' && *label != '*'; label++) {
		if ((c = label_char(*label)) == 0)
			continue;
		if (n + 1 >= size)
			return -1;
		key[n++] = c;
	}
	key[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* Whether the table's label folds to key. */
static int
label_equal(const char *key, const char *label)
{
	int	 c;

	for (; *label != '\0'; label++) {
		if ((c = label_char(*label)) == 0)
			continue;
		if (*key++ != c)
			return 0;
	}
	return *key == '\0';
}

static const struct charset *
label_find(const char *key)
{
	size_t	 i;

	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		if (label_equal(key, labels[i].l_label))
			return &charsets[labels[i].l_id];
	}
	return NULL;
}

/* The charset a label names, "x-" prefixes dropped if need be, or NULL. */
static const struct charset *
charset_lookup(const char *label)
{
	const struct charset	*cs;
	char			 key[LABEL_MAX];
	const char		*k = key;

	if (label == NULL || label_fold(label, key, sizeof(key)) == -1)
		return NULL;
	while ((cs = label_find(k)) == NULL && k[0] == 'x' && k[1] != '\0')
		k++;
	return cs;
}

const char *
charset_canonical(const char *label)
{
	const struct charset	*cs;

	if ((cs = charset_lookup(label)) == NULL)
		return NULL;
	return cs->cs_name;
}

/*
 * C1 controls in UTF-8 text.  CJK text has none, but glibc's EUC-JP lets
 * stray bytes through as them, so that Shift_JIS would pass for EUC-JP.
 */
static size_t
count_c1(const char *s, size_t len)
{
	const char	*p, *end = s + len;
	size_t		 n = 0;

	for (p = s; (p = memchr(p, 0xC2, end - p)) != NULL; p++) {
		if (p + 1 < end && (unsigned char)p[1] <= 0x9F)
			n++;
	}
	return n;
}

/*
 * Decodes with cs, its which'th iconv name; returns the errors, or for
 * iconv with CONV_STRICT whether there was one.
 */
static size_t
decode_as(struct buf *out, const struct charset *cs, size_t which,
    const unsigned char *in, size_t len, int flags)
{
	size_t	 mark, nerr;

	switch (cs->cs_kind) {
	case CS_UTF8:
		return utf8_copy(out, in, len);
	case CS_CP1252:
		return cp1252_decode(out, in, len);
	case CS_JIS:
		return jis_decode(out, in, len);
	case CS_ICONV:
		mark = out->b_len;
		nerr = iconv_convert(out, cs->cs_iconv[which], in, len, 1,
		    flags);
		if (cs->cs_flags & CSF_NOC1)
			nerr += count_c1(out->b_data + mark, out->b_len - mark);
		return nerr;
	case CS_STATEFUL:
		return iconv_convert(out, cs->cs_iconv[which], in, len, 1,
		    flags | CONV_SHIFTS);
	default:
		return wide_decode(out, cs, in, len);
	}
}

/*
 * Decodes with cs, trying each of its iconv names in turn; 0 when one
 * decoded without an error, else -1 with out as it was.
 */
static int
decode_strict(struct buf *out, const struct charset *cs,
    const unsigned char *in, size_t len)
{
	size_t	 mark = out->b_len, i;

	for (i = 0; i < CS_NICONV; i++) {
		if (i > 0 && cs->cs_iconv[i] == NULL)
			break;
		if (decode_as(out, cs, i, in, len, CONV_STRICT) == 0)
			return 0;
		out->b_len = mark;
	}
	return -1;
}

/*
 * How Japanese text that decoded without error looks, from its bytes.
 * A character from the common half of the rows (punctuation, kana, the
 * commoner kanji: Shift_JIS leads 0x81-0x9F, EUC-JP 0xA1-0xCF) counts
 * for; the rare half (also the private-use rows), half-width katakana,
 * JIS X 0212 and C1 controls count against.  Latin-1 letters read as
 * either give rare kanji and half-width katakana, EUC-JP read as CP932
 * the latter, so the wrong reading scores low.
 */
static long
jp_score_sjis(const unsigned char *in, size_t len)
{
	size_t	 i;
	long	 score = 0;

	for (i = 0; i < len; i++) {
		if (in[i] < 0x80)
			continue;
		if (in[i] >= 0xA1 && in[i] <= 0xDF) {
			score--;
			continue;
		}
		score += in[i] <= 0x9F ? 1 : -1;
		i++;
	}
	return score;
}

static long
jp_score_euc(const unsigned char *in, size_t len)
{
	size_t	 i;
	long	 score = 0;

	for (i = 0; i < len; i++) {
		if (in[i] < 0x80)
			continue;
		if (in[i] < 0xA1 && in[i] != 0x8E && in[i] != 0x8F) {
			score -= 2;
			continue;
		}
		score += in[i] >= 0xA1 && in[i] <= 0xCF ? 1 : -1;
		i += in[i] == 0x8F ? 2 : 1;
	}
	return score;
}

/*
 * Japanese text whose label is missing, lies or fails: CP932 and
 * EUC-JP are tried strictly, and of those that decode the one scoring
 * higher (CP932 on a tie) wins if it scores above zero.  Returns the
 * winner, in out, or NULL.
 */
static const struct charset *
jp_guess(struct buf *out, const unsigned char *in, size_t len)
{
	const struct charset	*sjis_cs = &charsets[ID_CP932];
	const struct charset	*euc_cs = &charsets[ID_EUCJP];
	size_t			 mark = out->b_len, mid;
	long			 sjis = 0, euc = 0;

	if (decode_strict(out, sjis_cs, in, len) == 0)
		sjis = jp_score_sjis(in, len);
	mid = out->b_len;
	if (decode_strict(out, euc_cs, in, len) == 0)
		euc = jp_score_euc(in, len);
	if (euc > 0 && euc > sjis) {
		buf_keep(out, mark, mid);
		return euc_cs;
	}
	out->b_len = mid;
	if (sjis > 0)
		return sjis_cs;
	out->b_len = mark;
	return NULL;
}

static int
is_7bit(const unsigned char *in, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (in[i] & 0x80)
			return 0;
	}
	return 1;
}

/*
 * 7-bit text.  A label that often lies cannot hide UTF-16; then the
 * label decides, and what it cannot decode is ASCII.
 */
static int
decode_7bit(struct buf *out, const struct charset *cs,
    const unsigned char *in, size_t len)
{
	if ((cs == NULL || cs->cs_flags & CSF_GUESS) &&
	    utf16_sniffed(out, in, len) == 0)
		return CHARSET_GUESSED;
	if (cs != NULL && decode_strict(out, cs, in, len) == 0)
		return CHARSET_DECLARED;
	if (cs != NULL &&
	    (cs->cs_kind == CS_JIS || cs->cs_kind == CS_STATEFUL)) {
		decode_as(out, cs, 0, in, len, 0);
		return CHARSET_DECLARED;
	}
	buf_add(out, in, len);
	return CHARSET_UTF8;
}

/*
 * 8-bit text under a label that is usually right: the label, unless it
 * fails where UTF-8 mostly works; then the label with U+FFFD.
 */
static int
decode_labelled(struct buf *out, const struct charset *cs,
    const unsigned char *in, size_t len, const struct utf8_stat *st)
{
	if (decode_strict(out, cs, in, len) == 0)
		return CHARSET_DECLARED;
	if (utf8_mostly(st, cs)) {
		utf8_copy(out, in, len);
		return CHARSET_GUESSED;
	}
	decode_as(out, cs, 0, in, len, 0);
	return CHARSET_DECLARED;
}

/*
 * 8-bit text with no label, an unknown one, or one that often lies
 * (ASCII, Latin-1, UTF-8, Japanese): UTF-16, the label if it decodes
 * cleanly, mostly-UTF-8, Japanese, and windows-1252 at last.  A label
 * that decodes is believed even where the other Japanese charset would
 * score higher: half-width katakana, a known filter evasion, read as
 * EUC-JP would become kanji.  A Japanese label that nothing else could
 * read is decoded with U+FFFD instead of as windows-1252.
 */
static int
decode_sniffed(struct buf *out, const struct charset *cs,
    const unsigned char *in, size_t len, const struct utf8_stat *st)
{
	if (utf16_sniffed(out, in, len) == 0)
		return CHARSET_GUESSED;
	if (cs != NULL && decode_strict(out, cs, in, len) == 0)
		return CHARSET_DECLARED;
	if (utf8_mostly(st, cs)) {
		utf8_copy(out, in, len);
		return cs != NULL && cs->cs_kind == CS_UTF8 ?
		    CHARSET_DECLARED : CHARSET_GUESSED;
	}
	if (jp_guess(out, in, len) != NULL)
		return CHARSET_GUESSED;
	if (cs != NULL && cs->cs_flags & CSF_JAPANESE) {
		decode_as(out, cs, 0, in, len, 0);
		return CHARSET_DECLARED;
	}
	cp1252_decode(out, in, len);
	return CHARSET_RAW;
}

/*
 * 8-bit text.  Valid UTF-8 wins over any label: text in a legacy charset
 * is almost never valid UTF-8 past a few characters, while UTF-8 sent as
 * "us-ascii", "iso-8859-1" or "gb2312" is a common mistake.
 */
static int
decode_8bit(struct buf *out, const struct charset *cs,
    const unsigned char *in, size_t len)
{
	struct utf8_stat	 st;

	utf8_scan(in, len, &st);
	if (st.us_bad == 0 && st.us_short == 0) {
		buf_add(out, in, len);
		return cs != NULL && cs->cs_kind == CS_UTF8 ?
		    CHARSET_DECLARED : CHARSET_UTF8;
	}
	if (cs != NULL && !(cs->cs_flags & CSF_GUESS))
		return decode_labelled(out, cs, in, len, &st);
	return decode_sniffed(out, cs, in, len, &st);
}

/*
 * The order of the checks (DESIGN.md, data flow step 3): a BOM, the
 * UTF-16 and UTF-32 labels, ISO-2022-JP escapes in 7-bit text (or under
 * its own label), then 7-bit and 8-bit text each their way.
 */
static int
decode(struct buf *out, const struct charset *cs, const unsigned char *in,
    size_t len)
{
	int	 h, seven;

	if (len == 0)
		return cs != NULL ? CHARSET_DECLARED : CHARSET_UTF8;
	if ((h = bom_decode(out, cs, in, len)) != -1)
		return h;
	if (cs_wide(cs)) {
		wide_decode(out, cs, in, len);
		return CHARSET_DECLARED;
	}
	seven = is_7bit(in, len);
	if ((seven || (cs != NULL && cs->cs_kind == CS_JIS)) &&
	    jis_sniff(in, len)) {
		jis_decode(out, in, len);
		return cs != NULL && cs->cs_kind == CS_JIS ?
		    CHARSET_DECLARED : CHARSET_GUESSED;
	}
	if (seven)
		return decode_7bit(out, cs, in, len);
	return decode_8bit(out, cs, in, len);
}

/*
 * Converts len bytes of text in charset label (NULL or "" when
 * undeclared) to a new NUL-terminated UTF-8 string, its length in
 * *outlen and what was done in *how (either may be NULL).  Never fails
 * for bad input; NULL only when memory ran out.  A label iconv cannot
 * convert counts as undeclared.
 */
char *
charset_to_utf8(const char *label, const char *in, size_t len,
    size_t *outlen, int *how)
{
	const struct charset	*cs;
	struct buf		 out;
	int			 h = CHARSET_DECLARED;

	memset(&out, 0, sizeof(out));
	if ((cs = charset_lookup(label)) != NULL && !cs_available(cs))
		cs = NULL;
	if (buf_reserve(&out, len) == 0)
		h = decode(&out, cs, (const unsigned char *)in, len);
	if (out.b_nomem) {
		free(out.b_data);
		errno = ENOMEM;
		return NULL;
	}
	out.b_data[out.b_len] = '\0';
	if (outlen != NULL)
		*outlen = out.b_len;
	if (how != NULL)
		*how = h;
	return out.b_data;
}
