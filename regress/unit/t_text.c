/*
 * The normalisation table of text.c: each row is an input as phishing
 * mail disguises it and the form the filters see.  phishmilter.conf(5)
 * documents the same table.
 */

#include "phishmilter.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

static const struct {
	const char	*in;
	const char	*want;
	const char	*what;
} rows[] = {
	{ "\xef\xbc\xad\xef\xbc\xb5\xef\xbc\xa6\xef\xbc\xa7", "MUFG",
	    "fullwidth Latin folds to ASCII (NFKC)" },
	{ "\xef\xbe\x8a\xef\xbe\x9e\xef\xbe\x9d\xef\xbd\xb8",
	    "\xe3\x83\x90\xe3\x83\xb3\xe3\x82\xaf",
	    "halfwidth katakana with voiced mark becomes katakana" },
	{ "\xe3\x81\x8b\xe3\x82\x99", "\xe3\x81\x8c",
	    "kana and a combining voiced mark compose (Japanese marks kept)" },
	{ "\xe3\x82\xac\xe3\x82\xae", "\xe3\x82\xac\xe3\x82\xae",
	    "precomposed voiced katakana stay as they are" },
	{ "Pa\xe2\x80\x8by\xe2\x80\x8cPa\xe2\x80\x8dl", "PayPal",
	    "zero-width space, non-joiner and joiner removed" },
	{ "Am\xe2\x81\xa0" "azon", "Amazon", "word joiner removed" },
	{ "\xef\xbb\xbf" "Apple", "Apple", "byte order mark removed" },
	{ "Ban\xc2\xad" "king", "Banking", "soft hyphen removed" },
	{ "a\xe2\x80\xae" "b\xe2\x80\xac" "c\xe2\x81\xa6" "d\xe2\x81\xa9",
	    "abcd", "BiDi controls and isolates removed" },
	{ "M\xef\xb8\x8fUFG", "MUFG", "variation selector removed" },
	{ "S\xe1\xa0\x8eMBC", "SMBC", "Mongolian vowel separator removed" },
	{ "JA\xe3\x85\xa4" "Bank", "JABank", "Hangul filler removed" },
	{ "A\xcc\x81mazon", "Amazon",
	    "combining acute on a Latin letter removed" },
	{ "\xc3\x81mazon", "Amazon",
	    "precomposed accented Latin letter loses its accent" },
	{ "P\xcc\xb6" "a\xcc\xb6y", "Pay",
	    "combining overlay marks used to disguise removed" },
	{ "  three \t\r\n spaces\xe3\x80\x80here  ", "three spaces here",
	    "whitespace runs (ideographic space too) collapse, ends trimmed" },
	{ "bad\xff" "byte", "bad\xef\xbf\xbd" "byte",
	    "invalid UTF-8 repaired with U+FFFD" },
	{ "\xe2\x91\xa0", "1", "circled digit folds (NFKC)" },
	{ "\xe3\x8d\xbb", "\xe5\xb9\xb3\xe6\x88\x90",
	    "squared era name unfolds (NFKC)" },
	{ "ctl\x01" "char", "ctlchar", "control characters removed" },
	{ "", "", "empty stays empty" },
};

static void
test_rows(void)
{
	size_t	i, len;
	char	*out;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		out = text_normalize(rows[i].in, strlen(rows[i].in), 0, &len);
		ok(out != NULL && strcmp(out, rows[i].want) == 0 &&
		    len == strlen(rows[i].want), "%s", rows[i].what);
		free(out);
	}
}

static void
test_strip(void)
{
	size_t	 len;
	char	*out = text_normalize(" a b\t c ", 8, 1, &len);

	ok(out != NULL && strcmp(out, "abc") == 0,
	    "strip mode removes every space (MilterAgent's matching)");
	free(out);
}

static void
test_long(void)
{
	size_t	 n = 4 * 1024 * 1024, len;
	char	*in = malloc(n), *out;

	memset(in, 'a', n);
	out = text_normalize(in, n, 0, &len);
	ok(out != NULL && len == n, "4 MB of text normalises");
	free(in);
	free(out);
}

int
main(void)
{
	test_rows();
	test_strip();
	test_long();
	return tap_done();
}
