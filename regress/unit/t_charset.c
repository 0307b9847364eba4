/*
 * Unit tests of charset.c: label matching, every charset family a mail
 * may use, the sniffing of undeclared and mislabelled text, damaged
 * input, and properties (valid UTF-8 out, bounded size) over random
 * bytes.  The byte strings were made with iconv(1) and checked by eye;
 * where iconv cannot make them (glibc's ISO-2022-JP has no NEC row 13)
 * they are written by hand from the JIS tables.
 */

#include "phishmilter.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"

/* A string literal and its length, embedded NULs included. */
#define LIT(s)	(s), sizeof(s) - 1

static const char *const how_names[] = {
	"DECLARED", "UTF8", "GUESSED", "RAW"
};

static void
diag_bytes(const char *what, const char *s, size_t len)
{
	size_t	 i;

	printf("#   %s (%zu): \"", what, len);
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7F)
			putchar(s[i]);
		else
			printf("\\x%02x", (unsigned char)s[i]);
	}
	printf("\"\n");
}

/* Converts in and compares with the UTF-8 and the how expected. */
static void
check(const char *label, const char *in, size_t len, const char *want,
    size_t wantlen, int wanthow, const char *desc)
{
	char	*out;
	size_t	 outlen = 0;
	int	 how = -1, good;

	out = charset_to_utf8(label, in, len, &outlen, &how);
	good = out != NULL && outlen == wantlen &&
	    memcmp(out, want, wantlen) == 0 && out[outlen] == '\0' &&
	    how == wanthow;
	ok(good, "%s", desc);
	if (!good && out != NULL) {
		diag_bytes("got", out, outlen);
		diag_bytes("want", want, wantlen);
		printf("#   how %d (%s), want %s\n", how,
		    how >= 0 && how <= 3 ? how_names[how] : "?",
		    how_names[wanthow]);
	}
	free(out);
}

#define CHECK(label, in, want, how, desc)				\
	check(label, LIT(in), LIT(want), how, desc)

static int
utf8_valid(const unsigned char *s, size_t len)
{
	size_t		 i = 0, n, k;
	uint32_t	 c;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xC2 && s[i] <= 0xDF)
			n = 1;
		else if (s[i] >= 0xE0 && s[i] <= 0xEF)
			n = 2;
		else if (s[i] >= 0xF0 && s[i] <= 0xF4)
			n = 3;
		else
			return 0;
		if (i + n >= len)
			return 0;
		c = s[i] & (0x3F >> n);
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			c = c << 6 | (s[i + k] & 0x3F);
		}
		if ((n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
		    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return 0;
		i += n + 1;
	}
	return 1;
}

static void
test_labels(void)
{
	static const struct {
		const char	*label;
		const char	*want;
	} t[] = {
		{ "utf-8", "UTF-8" }, { "UTF8", "UTF-8" },
		{ "unicode-1-1-utf-8", "UTF-8" },
		{ "x-unicode20utf8", "UTF-8" },
		{ "\"utf-8\"", "UTF-8" }, { " 'UTF-8' ", "UTF-8" },
		{ "utf-8*ja", "UTF-8" }, { "us-ascii", "WINDOWS-1252" },
		{ "ANSI_X3.4-1968", "WINDOWS-1252" },
		{ "iso-8859-1", "WINDOWS-1252" },
		{ "iso8859-1", "WINDOWS-1252" }, { "latin1", "WINDOWS-1252" },
		{ "ISO_8859-1:1987", "WINDOWS-1252" },
		{ "cp-1252", "WINDOWS-1252" }, { "x-cp1252", "WINDOWS-1252" },
		{ "ISO-2022-JP", "ISO-2022-JP" }, { "cp50220", "ISO-2022-JP" },
		{ "CP50221", "ISO-2022-JP" }, { "cp50222", "ISO-2022-JP" },
		{ "iso-2022-jp-1", "ISO-2022-JP-2" },
		{ "iso-2022-jp-2", "ISO-2022-JP-2" },
		{ "ISO-2022-JP-3", "ISO-2022-JP-3" },
		{ "Shift_JIS", "CP932" }, { "shift-jis", "CP932" },
		{ "sjis", "CP932" }, { "x-sjis", "CP932" },
		{ "MS_Kanji", "CP932" }, { "Windows-31J", "CP932" },
		{ "cp932", "CP932" }, { "EUC-JP", "EUC-JP-MS" },
		{ "euc_jp", "EUC-JP-MS" }, { "x-euc-jp", "EUC-JP-MS" },
		{ "gb2312", "GB18030" }, { "gb_2312-80", "GB18030" },
		{ "GBK", "GB18030" }, { "x-gbk", "GB18030" },
		{ "cp936", "GB18030" }, { "GB18030", "GB18030" },
		{ "Big5", "BIG5-HKSCS" }, { "big5-hkscs", "BIG5-HKSCS" },
		{ "x-x-big5", "BIG5-HKSCS" }, { "cp950", "CP950" },
		{ "euc-kr", "CP949" }, { "ks_c_5601-1987", "CP949" },
		{ "ks_c_5601", "CP949" }, { "cp949", "CP949" },
		{ "utf-16", "UTF-16" }, { "UTF-16LE", "UTF-16LE" },
		{ "utf-16be", "UTF-16BE" }, { "utf-32", "UTF-32" },
		{ "iso-8859-2", "ISO-8859-2" },
		{ "iso-8859-9", "WINDOWS-1254" },
		{ "iso-8859-11", "WINDOWS-874" }, { "tis-620", "WINDOWS-874" },
		{ "iso-8859-15", "ISO-8859-15" },
		{ "iso-8859-16", "ISO-8859-16" },
		{ "iso-8859-8-i", "ISO-8859-8" },
		{ "windows-1250", "WINDOWS-1250" },
		{ "windows-1258", "WINDOWS-1258" }, { "koi8-r", "KOI8-R" },
		{ "KOI8-U", "KOI8-U" }, { "windows-874", "WINDOWS-874" },
	};
	static const char *const unknown[] = {
		"x-bogus", "", "*ja", "\"\"", "utf-9", "x-", "unknown-8bit",
		"iso-8859-1-and-a-very-long-tail-that-no-label-ever-has",
	};
	size_t	 i;
	const char *got;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = charset_canonical(t[i].label);
		ok(got != NULL && strcmp(got, t[i].want) == 0,
		    "label \"%s\" is %s (got %s)", t[i].label, t[i].want,
		    got != NULL ? got : "NULL");
	}
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		ok(charset_canonical(unknown[i]) == NULL,
		    "label \"%s\" is unknown", unknown[i]);
	ok(charset_canonical(NULL) == NULL, "NULL label is unknown");
}

static void
test_iso2022jp(void)
{
	CHECK("iso-2022-jp", "\x1b$B;0I)\x1b(BUFJ\x1b$B6d9T\x1b(B",
	    "三菱UFJ銀行", CHARSET_DECLARED, "ISO-2022-JP declared");
	CHECK(NULL, "\x1b$B;0I)\x1b(BUFJ\x1b$B6d9T\x1b(B",
	    "三菱UFJ銀行", CHARSET_GUESSED, "ISO-2022-JP undeclared");
	CHECK("iso-8859-1", "\x1b$B;0I)\x1b(BUFJ\x1b$B6d9T\x1b(B",
	    "三菱UFJ銀行", CHARSET_GUESSED, "ISO-2022-JP labelled Latin-1");
	CHECK("us-ascii", "\x1b$@;0I)\x1b(J UFJ", "三菱 UFJ",
	    CHARSET_GUESSED, "ISO-2022-JP, ESC $ @ and ESC ( J");
	CHECK("iso-2022-jp", "\x1b$B-!-\"\x1b(B", "①②", CHARSET_DECLARED,
	    "ISO-2022-JP NEC row 13 (circled digits)");
	CHECK("iso-2022-jp", "\x1b$By!y\"\x1b(B", "纊褜", CHARSET_DECLARED,
	    "ISO-2022-JP NEC-selected IBM row 89");
	CHECK("cp50221", "\x1b(I6@6E\x1b(B", "ｶﾀｶﾅ", CHARSET_DECLARED,
	    "ISO-2022-JP half-width katakana, ESC ( I");
	CHECK("cp50222", "a\x0e" "6@\x0f" "b", "aｶﾀb", CHARSET_DECLARED,
	    "CP50222 katakana by SO/SI");
	CHECK("iso-2022-jp", "\x1b(J\\~\x1b(B\\~", "¥‾\\~", CHARSET_DECLARED,
	    "JIS-Roman yen and overline");
	CHECK("iso-2022-jp", "\x1b$B;0I)6d9T", "三菱銀行", CHARSET_DECLARED,
	    "ISO-2022-JP that never returns to ASCII");
	CHECK("iso-2022-jp", "\x1b$B;0I", "三\xef\xbf\xbd", CHARSET_DECLARED,
	    "ISO-2022-JP cut inside a pair");
	CHECK("iso-2022-jp", "a\x1b", "a\xef\xbf\xbd", CHARSET_DECLARED,
	    "ISO-2022-JP ending in ESC");
	CHECK("iso-2022-jp", "a\x1bZb", "a\xef\xbf\xbdZb", CHARSET_DECLARED,
	    "ISO-2022-JP unknown escape");
	CHECK("iso-2022-jp", "\x1b$B;0\r\n\x1b(Bx", "三\r\nx",
	    CHARSET_DECLARED, "ISO-2022-JP line end inside kanji mode");
	CHECK("iso-2022-jp-2", "\x1b$AVP\x1b$(CGQ\x1b$(D0!\x1b(B",
	    "中한丂", CHARSET_DECLARED,
	    "ISO-2022-JP-2 GB 2312, KS C 5601, JIS X 0212");
	CHECK("iso-2022-jp-2", "\x1b.A\x1bNi \x1b.F\x1bNa \x1bNa",
	    "é α α", CHARSET_DECLARED, "ISO-2022-JP-2 G2 single shifts");
	CHECK("iso-2022-jp-3",
	    "\x1b$(O.\"\x1b(B \x1b$(Q.!\x1b(B \x1b$(P!!\x1b(B",
	    "𠀋 俱 𠂉", CHARSET_DECLARED, "ISO-2022-JP-3 JIS X 0213");
	CHECK("iso-2022-jp", "\x1b$B\x1b(B\x1b$B\x1b$B", "",
	    CHARSET_DECLARED, "ISO-2022-JP escapes only");
}

static void
test_japanese(void)
{
	CHECK("shift_jis", "\x8eO\x95HUFJ\x8b\xe2\x8ds", "三菱UFJ銀行",
	    CHARSET_DECLARED, "Shift_JIS declared");
	CHECK("Shift_JIS", "\x87@\x87" "A", "①②", CHARSET_DECLARED,
	    "circled digits in CP932 labelled Shift_JIS");
	CHECK("sjis", "\xed@\xfa\\\xfa@", "纊纊ⅰ", CHARSET_DECLARED,
	    "NEC-selected and IBM extensions labelled sjis");
	CHECK("shift_jis", "\xb6\xc0\xb6\xc5", "ｶﾀｶﾅ", CHARSET_DECLARED,
	    "Shift_JIS half-width katakana");
	CHECK("shift_jis", "\\~", "\\~", CHARSET_DECLARED,
	    "Shift_JIS 0x5C and 0x7E are ASCII, as CP932 has them");
	CHECK(NULL, "\x8eO\x95HUFJ\x8b\xe2\x8ds", "三菱UFJ銀行",
	    CHARSET_GUESSED, "undeclared Shift_JIS");
	CHECK(NULL, "\x81y\x8f" "d\x97v\x81z\x82\xa8\x8bq\x82\xb3\x82\xdc"
	    "\x82\xcc\x83" "A\x83J\x83" "E\x83\x93\x83g",
	    "【重要】お客さまのアカウント", CHARSET_GUESSED,
	    "undeclared Shift_JIS, kana");
	CHECK("euc-jp", "\xbb\xb0\xc9\xa9UFJ\xb6\xe4\xb9\xd4", "三菱UFJ銀行",
	    CHARSET_DECLARED, "EUC-JP declared");
	CHECK(NULL, "\xbb\xb0\xc9\xa9UFJ\xb6\xe4\xb9\xd4", "三菱UFJ銀行",
	    CHARSET_GUESSED, "undeclared EUC-JP");
	CHECK(NULL, "\xa1\xda\xbd\xc5\xcd\xd7\xa1\xdb\xa4\xaa\xb5\xd2\xa4\xb5"
	    "\xa4\xde\xa4\xce\xa5\xa2\xa5\xab\xa5\xa6\xa5\xf3\xa5\xc8",
	    "【重要】お客さまのアカウント", CHARSET_GUESSED,
	    "undeclared EUC-JP, kana");
	CHECK("euc-jp", "\xad\xa1\xad\xa2", "①②", CHARSET_DECLARED,
	    "EUC-JP with NEC row 13 (EUC-JP-MS)");
	CHECK("euc-jp", "\x8e\xb6\x8e\xc0", "ｶﾀ", CHARSET_DECLARED,
	    "EUC-JP half-width katakana");
	CHECK("euc-jp", "\x83" "A\x83J\x83" "E\x83\x93\x83g\x8am\x94" "F",
	    "アカウント確認", CHARSET_GUESSED,
	    "Shift_JIS labelled EUC-JP, where EUC-JP would give C1");
	CHECK("euc-jp", "\x8eO\x95HUFJ\x8b\xe2\x8ds", "三菱UFJ銀行",
	    CHARSET_GUESSED, "Shift_JIS labelled EUC-JP");
	CHECK("iso-2022-jp", "\x8eO\x95HUFJ\x8b\xe2\x8ds", "三菱UFJ銀行",
	    CHARSET_GUESSED, "Shift_JIS labelled ISO-2022-JP");
	CHECK("us-ascii", "\x8eO\x95HUFJ\x8b\xe2\x8ds", "三菱UFJ銀行",
	    CHARSET_GUESSED, "Shift_JIS labelled us-ascii (0x8D undefined)");
	CHECK("shift_jis", "\x8eO\x95H\x8b", "三菱\xef\xbf\xbd",
	    CHARSET_DECLARED, "Shift_JIS cut inside a character");
	CHECK("shift_jis", "\x8eO\xff\x95H", "三\xef\xbf\xbd菱",
	    CHARSET_DECLARED, "Shift_JIS with a bad byte");
	CHECK("euc-jp", "\xbb\xb0\xc9", "三\xef\xbf\xbd", CHARSET_DECLARED,
	    "EUC-JP cut inside a character");
}

static void
test_cjk(void)
{
	CHECK("gb2312", "\xd6\xd0\xb9\xfa\xd2\xf8\xd0\xd0", "中国银行",
	    CHARSET_DECLARED, "GB2312");
	CHECK("x-gbk", "\xd6\xd0\xb9\xfa\xd2\xf8\xd0\xd0", "中国银行",
	    CHARSET_DECLARED, "x-gbk");
	CHECK("gb2312", "\xa2\xe3\x95" "2\x82" "6", "€𠀀", CHARSET_DECLARED,
	    "GB2312 label on GB18030 four-byte text");
	CHECK("gbk", "\xd6\xd0\xff\xb9\xfa", "中\xef\xbf\xbd国",
	    CHARSET_DECLARED, "GBK with a bad byte");
	CHECK("gb18030", "\xd6\xd0\xb9", "中\xef\xbf\xbd", CHARSET_DECLARED,
	    "GB18030 cut inside a character");
	CHECK("big5", "\xa4\xa4\xb0\xea\xbb\xc8\xa6\xe6", "中國銀行",
	    CHARSET_DECLARED, "Big5");
	CHECK("big5", "\xa3\xe1", "€", CHARSET_DECLARED,
	    "Big5 label, CP950 euro sign");
	CHECK("cp950", "\xb0\xea\xa5\xc1", "國民", CHARSET_DECLARED, "CP950");
	CHECK("euc-kr", "\xb1\xb9\xb9\xce\xc0\xba\xc7\xe0", "국민은행",
	    CHARSET_DECLARED, "EUC-KR");
	CHECK("ks_c_5601-1987", "\xb1\xb9\xb9\xce\xc0\xba\xc7\xe0",
	    "국민은행", CHARSET_DECLARED, "ks_c_5601-1987");
	CHECK("euc-kr", "\x8c" "c\xb9\xe6", "똠방", CHARSET_DECLARED,
	    "EUC-KR label, CP949 extension");
	CHECK("iso-2022-kr", "\x1b$)C\x0eGQ19\x0f", "한국", CHARSET_DECLARED,
	    "ISO-2022-KR");
}

static void
test_unicode(void)
{
	CHECK("utf-16", "\xff\xfe\x09N\xf1\x83U\x00" "F\x00J\x00\x80\x92L\x88",
	    "三菱UFJ銀行", CHARSET_DECLARED, "UTF-16 with LE BOM");
	CHECK("utf-16", "\xfe\xffN\x09\x83\xf1\x00U\x00" "F\x00J\x92\x80\x88L",
	    "三菱UFJ銀行", CHARSET_DECLARED, "UTF-16 with BE BOM");
	CHECK("utf-16le", "\x09N\xf1\x83U\x00" "F\x00J\x00\x80\x92L\x88",
	    "三菱UFJ銀行", CHARSET_DECLARED, "UTF-16LE without BOM");
	CHECK("utf-16le", "\xff\xfe\x09N", "三", CHARSET_DECLARED,
	    "UTF-16LE, its BOM dropped");
	CHECK("utf-16be", "N\x09\x83\xf1\x00U\x00" "F\x00J\x92\x80\x88L",
	    "三菱UFJ銀行", CHARSET_DECLARED, "UTF-16BE without BOM");
	CHECK("utf-16", "\x09N\xf1\x83U\x00" "F\x00J\x00\x80\x92L\x88",
	    "三菱UFJ銀行", CHARSET_DECLARED, "UTF-16 without BOM, LE guessed");
	CHECK("utf-16", "N\x09\x83\xf1\x00U\x00" "F\x00J\x92\x80\x88L",
	    "三菱UFJ銀行", CHARSET_DECLARED, "UTF-16 without BOM, BE guessed");
	CHECK(NULL, "\xff\xfe!\x04" "1\x04" "5\x04", "Сбе", CHARSET_GUESSED,
	    "undeclared UTF-16 with BOM");
	CHECK(NULL, "!\x04" "1\x04" "5\x04@\x04" " \x00" "1\x00",
	    "Сбер 1", CHARSET_GUESSED, "undeclared UTF-16LE, NUL bytes");
	CHECK("utf-16le", "A\x00" "B", "A\xef\xbf\xbd", CHARSET_DECLARED,
	    "UTF-16 odd length");
	CHECK("utf-16le", "A\x00\x00\xd8" "B\x00", "A\xef\xbf\xbd" "B",
	    CHARSET_DECLARED, "UTF-16 lone surrogate");
	CHECK("utf-16le", "4\xd8\x1e\xdd", "𝄞", CHARSET_DECLARED,
	    "UTF-16 surrogate pair");
	CHECK("utf-32", "\xff\xfe\x00\x00" "A\x00\x00\x00\xac \x00\x00", "A€",
	    CHARSET_DECLARED, "UTF-32 with LE BOM");
	CHECK("utf-32", "\x00\x00\x00" "A\x00\x00 \xac", "A€",
	    CHARSET_DECLARED, "UTF-32 without BOM, BE");
	CHECK("utf-32", "A\x00\x00\x00\xac \x00\x00", "A€",
	    CHARSET_DECLARED, "UTF-32 without BOM, LE guessed");
	CHECK("utf-32le", "A\x00\x00\x00\x00\x00\x11\x00", "A\xef\xbf\xbd",
	    CHARSET_DECLARED, "UTF-32 beyond U+10FFFF");
	CHECK("utf-7", "+ZeVnLA ok", "日本 ok", CHARSET_DECLARED, "UTF-7");
	CHECK("utf-8", "\xef\xbb\xbf" "abc", "abc", CHARSET_DECLARED,
	    "UTF-8 BOM dropped");
	CHECK("iso-8859-1", "\xef\xbb\xbf" "caf\xc3\xa9", "café", CHARSET_UTF8,
	    "UTF-8 BOM under a Latin-1 label");
}

static void
test_utf8(void)
{
	CHECK("utf-8", "\xe6\x97\xa5\xe6\x9c\xac", "日本", CHARSET_DECLARED,
	    "UTF-8 declared");
	CHECK("us-ascii", "caf\xc3\xa9 \xe2\x82\xac", "café €", CHARSET_UTF8,
	    "valid UTF-8 labelled us-ascii");
	CHECK("iso-8859-1", "\xe4\xb8\x89\xe8\x8f\xb1", "三菱", CHARSET_UTF8,
	    "valid UTF-8 labelled iso-8859-1");
	CHECK("gb2312", "\xe4\xb8\x89\xe8\x8f\xb1\xe9\x8a\x80", "三菱銀",
	    CHARSET_UTF8, "valid UTF-8 labelled gb2312");
	CHECK("x-bogus", "caf\xc3\xa9", "café", CHARSET_UTF8,
	    "unknown label on UTF-8");
	CHECK(NULL, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "日本語",
	    CHARSET_UTF8, "undeclared UTF-8");
	CHECK("utf-8", "abc\xe4\xb8", "abc\xef\xbf\xbd", CHARSET_DECLARED,
	    "UTF-8 cut inside a character");
	CHECK(NULL, "\xe4\xb8\x89\xe8\x8f\xb1\xe9\x8a\x80\xe8\xa1",
	    "三菱銀\xef\xbf\xbd", CHARSET_GUESSED,
	    "undeclared UTF-8 cut inside a character");
	CHECK("utf-8", "\xe4\xb8\x89\xe8\x8f\xb1\xff\xe9\x8a\x80",
	    "三菱\xef\xbf\xbd銀", CHARSET_DECLARED, "UTF-8 with a bad byte");
	CHECK("utf-8", "日本語\xed\xa0\x80" "a\xc0\xaf" "b日本",
	    "日本語\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "a\xef\xbf\xbd\xef\xbf\xbd" "b日本",
	    CHARSET_DECLARED, "UTF-8 surrogate and overlong form");
	CHECK("utf-8", "\xed\xa0\x80" "a\xc0\xaf" "b", "í\xc2\xa0€aÀ¯b",
	    CHARSET_RAW,
	    "UTF-8 label on text with no UTF-8 in it");
	CHECK("utf-8", "caf\xe9", "café", CHARSET_RAW,
	    "Latin-1 labelled UTF-8");
	check("utf-8", LIT("a\0b"), LIT("a\0b"), CHARSET_DECLARED,
	    "embedded NUL kept");
}

static void
test_latin(void)
{
	CHECK("iso-8859-1", "\x93smart\x94 quotes \x80 caf\xe9",
	    "“smart” quotes € café", CHARSET_DECLARED,
	    "cp1252 quotes labelled iso-8859-1");
	CHECK("us-ascii", "\x91it\x92s\x85", "‘it’s…", CHARSET_DECLARED,
	    "cp1252 labelled us-ascii");
	CHECK("x-bogus", "caf\xe9 cr\xe8me", "café crème", CHARSET_RAW,
	    "unknown label on Latin-1");
	CHECK(NULL, "Atualiza\xe7\xe3o: cart\xe3o bloqueado",
	    "Atualização: cartão bloqueado", CHARSET_RAW,
	    "undeclared Latin-1 is not taken for Japanese");
	CHECK(NULL, "\xe9l\xe8ve", "élève", CHARSET_RAW,
	    "undeclared Latin-1 that CP932 would decode");
	CHECK("iso-8859-1", "a\x81" "b\x9d", "a\xc2\x81" "b\xc2\x9d",
	    CHARSET_RAW, "bytes cp1252 leaves undefined become C1");
	CHECK("koi8-r", "\xf3\xc2\xc5\xd2\xc2\xc1\xce\xcb", "Сбербанк",
	    CHARSET_DECLARED, "KOI8-R");
	CHECK("windows-1251", "\xd1\xe1\xe5\xf0\xe1\xe0\xed\xea", "Сбербанк",
	    CHARSET_DECLARED, "windows-1251");
	CHECK("koi8-u", "\xf5\xcb\xd2\xc1\xa7\xce\xc1 \xa7", "Україна ї",
	    CHARSET_DECLARED, "KOI8-U");
	CHECK("iso-8859-2", "\xa3\xf3" "d\xbc", "Łódź", CHARSET_DECLARED,
	    "ISO-8859-2");
	CHECK("iso-8859-7", "\xc5\xeb\xeb\xdc\xe4\xe1", "Ελλάδα",
	    CHARSET_DECLARED, "ISO-8859-7");
	CHECK("iso-8859-8-i", "\xf9\xec\xe5\xed", "שלום", CHARSET_DECLARED,
	    "ISO-8859-8-I");
	CHECK("iso-8859-9", "\xfe \xf0 \xdd \x80", "ş ğ İ €", CHARSET_DECLARED,
	    "ISO-8859-9 as windows-1254");
	CHECK("iso-8859-15", "\xa4 \xa6", "€ Š", CHARSET_DECLARED,
	    "ISO-8859-15");
	CHECK("tis-620", "\xe4\xb7\xc2", "ไทย", CHARSET_DECLARED,
	    "TIS-620 as windows-874");
	CHECK("windows-1250", "\x8elu\x9dou\xe8k\xfd", "Žluťoučký",
	    CHARSET_DECLARED, "windows-1250");
	CHECK("windows-1253", "\xc5\xeb\xeb\xdc\xe4\xe1", "Ελλάδα",
	    CHARSET_DECLARED, "windows-1253");
	CHECK("windows-1255", "\xf9\xec\xe5\xed", "שלום", CHARSET_DECLARED,
	    "windows-1255");
	CHECK("windows-1256", "\xe3\xd1\xcd\xc8\xc7", "مرحبا",
	    CHARSET_DECLARED, "windows-1256");
	CHECK("windows-1257", "\xc0 \xeb", "Ą ė", CHARSET_DECLARED,
	    "windows-1257");
	CHECK("windows-1258", "Ti\xea\xecng Vi\xea\xf2t", "Tiếng Việt",
	    CHARSET_DECLARED, "windows-1258");
	CHECK("windows-1255", "\xf9\xff\xec", "ש\xef\xbf\xbdל",
	    CHARSET_DECLARED, "windows-1255, held letter before U+FFFD");
	CHECK("iso-8859-3", "a\xa5" "b", "a\xef\xbf\xbd" "b", CHARSET_DECLARED,
	    "ISO-8859-3 undefined byte");
}

static void
test_empty(void)
{
	char	*out;
	size_t	 outlen = 99;
	int	 how = -1;

	CHECK(NULL, "", "", CHARSET_UTF8, "empty, undeclared");
	CHECK("shift_jis", "", "", CHARSET_DECLARED, "empty Shift_JIS");
	CHECK("utf-16", "", "", CHARSET_DECLARED, "empty UTF-16");
	CHECK(NULL, "plain text", "plain text", CHARSET_UTF8,
	    "ASCII, undeclared");
	CHECK("iso-8859-5", "plain", "plain", CHARSET_DECLARED,
	    "ASCII, declared");
	out = charset_to_utf8("utf-8", NULL, 0, &outlen, &how);
	ok(out != NULL && *out == '\0' && outlen == 0 &&
	    how == CHARSET_DECLARED, "NULL input of length 0");
	free(out);
	out = charset_to_utf8(NULL, "x", 1, NULL, NULL);
	ok(out != NULL && strcmp(out, "x") == 0, "NULL outlen and how");
	free(out);
	errno = 0;
	out = charset_to_utf8("utf-8", "x", SIZE_MAX - 1, &outlen, &how);
	ok(out == NULL && errno == ENOMEM,
	    "NULL and ENOMEM when the output cannot be allocated");
}

/* Stateful converters come back from the cache reset. */
static void
test_state(void)
{
	CHECK("iso-2022-kr", "\x1b$)C\x0eGQ", "한", CHARSET_DECLARED,
	    "ISO-2022-KR left shifted");
	CHECK("iso-2022-kr", "\x1b$)C" "GQ", "GQ", CHARSET_DECLARED,
	    "next ISO-2022-KR starts unshifted");
	CHECK("utf-7", "+ZeV", "日", CHARSET_DECLARED, "UTF-7 left in base64");
	CHECK("utf-7", "ZeV", "ZeV", CHARSET_DECLARED,
	    "next UTF-7 starts direct");
	ok(charset_init() == 0, "charset_init opens every converter");
	CHECK("big5", "\xa4\xa4", "中", CHARSET_DECLARED, "after init");
	charset_cleanup();
	CHECK("big5", "\xa4\xa4", "中", CHARSET_DECLARED, "after cleanup");
}

static char *
make_repeat(const char *head, const char *unit, size_t n, size_t *len)
{
	size_t	 hl = strlen(head), ul = strlen(unit), i;
	char	*s;

	*len = hl + ul * n;
	if ((s = malloc(*len)) == NULL)
		abort();
	memcpy(s, head, hl);
	for (i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	return s;
}

/* Hostile sizes: long kanji runs without a return, long garbage. */
static void
test_large(void)
{
	char		*in, *out;
	size_t		 len, outlen;
	int		 how;
	clock_t		 t0 = clock();

	in = make_repeat("\x1b$B", ";0", 1000000, &len);
	out = charset_to_utf8("iso-2022-jp", in, len, &outlen, &how);
	ok(out != NULL && outlen == 3000000 &&
	    memcmp(out + outlen - 3, "三", 3) == 0,
	    "2 MB of ISO-2022-JP without a return");
	free(out);
	free(in);
	in = make_repeat("", "\xff\x81", 1000000, &len);
	out = charset_to_utf8("shift_jis", in, len, &outlen, &how);
	ok(out != NULL && how == CHARSET_DECLARED && outlen <= 3 * len,
	    "2 MB of bad Shift_JIS");
	free(out);
	out = charset_to_utf8(NULL, in, len, &outlen, &how);
	ok(out != NULL && how == CHARSET_RAW && outlen <= 3 * len,
	    "2 MB of undeclared garbage");
	free(out);
	free(in);
	ok((double)(clock() - t0) / CLOCKS_PER_SEC < 10,
	    "large inputs in linear time");
}

/*
 * Random bytes under every kind of label: the output is always valid
 * UTF-8 of bounded size.  A fixed seed keeps failures reproducible.
 */
static void
test_random(void)
{
	static const char *const lab[] = {
		NULL, "utf-8", "us-ascii", "iso-2022-jp", "iso-2022-jp-2",
		"shift_jis", "euc-jp", "gb2312", "big5", "euc-kr", "utf-16",
		"utf-16be", "utf-32", "koi8-r", "iso-8859-6", "utf-7",
		"iso-2022-kr", "iso-2022-cn", "windows-1258", "x-bogus",
	};
	static const unsigned char pick[] = {
		0x1b, '$', '(', 'B', '@', 'J', 'I', 'N', 0x0e, 0x0f, 0x00,
		0x8e, 0x8f, 0xa1, 0xfe, 0xff, 0xe3, 0x81, 0x82, '+', '-',
	};
	unsigned char	 buf[64];
	unsigned int	 seed = 12345;
	char		*out;
	size_t		 i, j, n, outlen, bad = 0;

	for (i = 0; i < 40000; i++) {
		n = rand_r(&seed) % sizeof(buf);
		for (j = 0; j < n; j++) {
			if (rand_r(&seed) % 2)
				buf[j] = pick[rand_r(&seed) % sizeof(pick)];
			else
				buf[j] = rand_r(&seed) & 0xFF;
		}
		out = charset_to_utf8(lab[i % (sizeof(lab) / sizeof(lab[0]))],
		    (char *)buf, n, &outlen, NULL);
		if (out == NULL || !utf8_valid((unsigned char *)out, outlen) ||
		    outlen > 4 * n + 4 || strlen(out) > outlen)
			bad++;
		free(out);
	}
	ok(bad == 0, "40000 random inputs give valid UTF-8 (%zu bad)", bad);
}

int
main(void)
{
	test_labels();
	test_iso2022jp();
	test_japanese();
	test_cjk();
	test_unicode();
	test_utf8();
	test_latin();
	test_empty();
	test_state();
	test_large();
	test_random();
	charset_cleanup();
	return tap_done();
}
