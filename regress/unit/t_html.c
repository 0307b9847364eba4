/*
 * Unit tests of html.c: character references as browsers resolve them,
 * rendering (what is dropped, where lines break, hidden text), and
 * hostile input that must finish in linear time with bounded output.
 */

#include "phishmilter.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"

#define BIG	(10 * 1024 * 1024)

static int
unesc_is(const char *in, const char *want)
{
	char	*out;
	size_t	 n;
	int	 r;

	if ((out = html_unescape(in, strlen(in), &n)) == NULL)
		return 0;
	r = n == strlen(want) && strcmp(out, want) == 0;
	if (!r)
		printf("# got \"%s\"\n", out);
	free(out);
	return r;
}

static int
attr_is(const char *in, const char *want)
{
	char	*out;
	size_t	 n;
	int	 r;

	if ((out = html_unescape_attr(in, strlen(in), &n)) == NULL)
		return 0;
	r = n == strlen(want) && strcmp(out, want) == 0;
	if (!r)
		printf("# got \"%s\"\n", out);
	free(out);
	return r;
}

/* The rendering of in, whitespace runs made one space, trimmed. */
static char *
render(const char *in, size_t len)
{
	char	*out;
	size_t	 n, i, o = 0;

	if ((out = html_to_text(in, len, &n)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (out[i] == ' ' || out[i] == '\n') {
			if (o > 0 && out[o - 1] != ' ')
				out[o++] = ' ';
		} else
			out[o++] = out[i];
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return out;
}

static int
text_is(const char *in, const char *want)
{
	char	*out;
	int	 r;

	if ((out = render(in, strlen(in))) == NULL)
		return 0;
	r = strcmp(out, want) == 0;
	if (!r)
		printf("# got \"%s\"\n", out);
	free(out);
	return r;
}

static int
raw_text_is(const char *in, const char *want)
{
	char	*out;
	size_t	 n;
	int	 r;

	if ((out = html_to_text(in, strlen(in), &n)) == NULL)
		return 0;
	r = n == strlen(want) && memcmp(out, want, n) == 0;
	if (!r)
		printf("# got \"%s\"\n", out);
	free(out);
	return r;
}

static void
test_references(void)
{
	ok(unesc_is("&amp;&lt;&gt;&quot;&apos;", "&<>\"'"), "basic five");
	ok(unesc_is("&#x307F;&#12354;&#X41;&#65", "みあAA"), "numeric");
	ok(unesc_is("a&nbsp;b", "a\xC2\xA0" "b"), "&nbsp; is U+00A0");
	ok(unesc_is("&hellip;&euro;&copy;&trade;&rsquo;&ndash;",
	    "…€©™’–"), "HTML5 names");
	ok(unesc_is("https&colon;&sol;&sol;evil.example",
	    "https://evil.example"), "&colon; &sol;");
	ok(unesc_is("&AElig;&zwnj;&DiacriticalDoubleAcute;",
	    "Æ\xE2\x80\x8C˝"), "first, last and longest names");
	ok(unesc_is("&amp &copy 2024 &eacutex", "& © 2024 éx"),
	    "legacy names without ';'");
	ok(unesc_is("&notit; &notin; &not", "¬it; ∉ ¬"),
	    "longest legacy prefix");
	ok(unesc_is("&hellip &euro", "&hellip &euro"),
	    "new names need ';'");
	ok(unesc_is("&AMP; &Amp; &foo; & &; &#; &#x; &#xg;",
	    "& &Amp; &foo; & &; &#; &#x; &#xg;"), "not references");
	ok(unesc_is("&#0;&#xD800;&#x110000;&#99999999999999999999;",
	    "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"),
	    "invalid code points become U+FFFD");
	ok(unesc_is("&#128;&#150;&#x9F;&#x81;", "€–Ÿ\xC2\x81"),
	    "128-159 as windows-1252");
	ok(unesc_is("&#x1F600;", "\xF0\x9F\x98\x80"), "astral code point");
	ok(unesc_is("&", "&") && unesc_is("&#", "&#") &&
	    unesc_is("&#x", "&#x") && unesc_is("&am", "&am"),
	    "references cut off by the end");
	ok(attr_is("?a=1&copy=2&amp=3&lt", "?a=1&copy=2&amp=3<"),
	    "attributes keep legacy names before = and letters");
	ok(attr_is("?a=1&amp;b=2&copy;", "?a=1&b=2©"),
	    "attributes resolve names with ';'");
	ok(unesc_is("?a=1&copy=2", "?a=1©=2"), "text resolves them");
}

static void
test_unescape_nul(void)
{
	char	*out;
	size_t	 n;

	out = html_unescape("a\0b&amp;", 8, &n);
	ok(out != NULL && n == 4 && memcmp(out, "a\0b&", 5) == 0,
	    "html_unescape keeps NUL bytes and terminates");
	free(out);
	out = html_unescape("", 0, &n);
	ok(out != NULL && n == 0 && out[0] == '\0', "empty input");
	free(out);
}

static void
test_render(void)
{
	ok(text_is("<p>Hello</p><p>World</p>", "Hello World"), "paragraphs");
	ok(raw_text_is("a<br>b<p>c</p>d", "a\nb\nc\nd"), "line breaks");
	ok(raw_text_is("<tr><td>a</td><td>b</td></tr>", "\n a b \n"),
	    "cells are spaces, rows lines");
	ok(raw_text_is("<b>Pay</b><i>Pal</i>", "PayPal"),
	    "inline elements join");
	ok(text_is("<style>a{color:red}</style>Text", "Text"), "style");
	ok(text_is("<SCRIPT>x='<p>'</script >ok", "ok"), "script");
	ok(text_is("<html><head><title>T</title></head><body>b", "b"),
	    "title is not in the body");
	ok(text_is("<!-- hidden https://c.example -->vis", "vis"),
	    "comments");
	ok(text_is("a<!-->b<!--->c<!-- x --!>d", "abcd"), "odd comments");
	ok(text_is("<!DOCTYPE html><?xml x?>x<![CDATA[y]]>z", "xz"),
	    "doctype, processing instruction, CDATA");
	ok(text_is("a&nbsp;&amp;&lt;b&gt;", "a\xC2\xA0&<b>"), "references");
	ok(text_is("<textarea>&lt;t&gt;</textarea><xmp>&lt;x</xmp>",
	    "<t> &lt;x"), "textarea and xmp");
	ok(text_is("<iframe>f</iframe><noembed>n</noembed>t", "t"),
	    "iframe and noembed");
	ok(text_is("1 < 2, <<x>>, </>y</ z>", "1 < 2, <>, y"),
	    "stray '<', </> and </ z>");
	ok(text_is("a<b, c>d", "ad"), "'<' and a letter open a tag");
	ok(text_is("<a\nhref=x\n>link</a>", "link"), "newlines in a tag");
	ok(text_is("<a title=\"a>b\" href='c>d'>t</a>", "t"),
	    "'>' inside quoted values");
	ok(text_is("x<plaintext><b>&amp;", "x <b>&amp;"), "plaintext");
}

static void
test_render_nul(void)
{
	char	*out;
	size_t	 n;

	out = html_to_text("a\0b<i>&#0;</i>", 15, &n);
	ok(out != NULL && n == 5 && strcmp(out, "ab\xEF\xBF\xBD") == 0,
	    "NUL dropped from text, &#0; is U+FFFD");
	free(out);
}

static void
test_hidden(void)
{
	ok(text_is("三<span style=\"display:none\">xx</span>井住友",
	    "三井住友"), "display:none");
	ok(raw_text_is("Pa<div style=display:none>x<br></div>yPal", "PayPal"),
	    "hidden block adds no break");
	ok(text_is("Pay<span style=\"DISPLAY : NONE !important\">x</span>"
	    "Pal", "PayPal"), "case, spaces, !important");
	ok(text_is("a<span style=\"color:red;display:/**/none\">x</span>b",
	    "ab"), "comment in style");
	ok(text_is("a<span style=\"display&colon;none\">x</span>b", "ab"),
	    "references in style");
	ok(text_is("a<span style=\"display:none;display:inline\">x</span>b",
	    "axb"), "later declaration wins");
	ok(text_is("a<span style=\"opacity:0.0\">x</span>b", "ab"),
	    "opacity:0");
	ok(text_is("a<span style=\"font-size:0px\">x</span>b", "ab"),
	    "font-size:0");
	ok(text_is("a<span style=\"font-size:0.4pt\">x</span>b", "ab"),
	    "font-size below a point");
	ok(text_is("a<span style=\"font: 0/0 a\">x</span>b", "ab"),
	    "font: 0/0 a");
	ok(text_is("<div style=\"font-size:0\">x<span style=\"font-size:14px"
	    "\">shown</span><b style=\"font-size:200%\">y</b></div>", "shown"),
	    "font-size comes back, but not by scaling zero");
	ok(text_is("<div style=\"visibility:hidden\">x<p style=\"visibility:"
	    "visible\">shown</p>y</div>z", "shown z"),
	    "visibility comes back");
	ok(text_is("<div style=\"display:none\">x<p style=\"visibility:"
	    "visible;display:block\">y</p></div>z", "z"),
	    "display:none cannot be undone");
	ok(text_is("a<span hidden>x</span>b<span hidden style=display:inline>"
	    "c</span>", "abc"), "hidden attribute");
	ok(text_is("a<template>x</template>b", "ab"), "template");
	ok(text_is("<div style=display:none><div>a</div>b<br>c</div>d", "d"),
	    "nested elements in a hidden one");
	ok(text_is("<p style=display:none>junk<p>VISIBLE", "VISIBLE"),
	    "<p> ends a hidden <p>");
	ok(text_is("<ul><li style=display:none>x<li>y</ul>", "y"),
	    "<li> ends a hidden <li>");
	ok(text_is("<table><tr><td style=display:none>x<td>y</table>", "y"),
	    "<td> ends a hidden <td>");
	ok(text_is("<div><span style=display:none>junk</div>shown",
	    "shown"), "an outer end tag ends hiding");
	ok(text_is("<div style=\"display:none\"/>x</div>y", "y"),
	    "'/>' does not end a div, as in browsers");
	ok(text_is("<svg style=\"display:none\"/>x", "x"),
	    "'/>' ends an unknown element");
	ok(text_is("<body style=display:none>x</body>", "x"),
	    "body is never hidden");
	ok(text_is("<span style=display:none>x</span>y<span style=display:"
	    "none>z</span>", "y"), "two hidden elements");
}

static void
test_deep(void)
{
	char	*in, *out;
	size_t	 i, len = 0, n;

	if ((in = malloc(1024 * 1024)) == NULL)
		abort();
	len += (size_t)sprintf(in, "<span style=display:none>");
	for (i = 0; i < 1000; i++)
		len += (size_t)sprintf(in + len, "<b>x");
	len += (size_t)sprintf(in + len, "shown");
	out = html_to_text(in, len, &n);
	ok(out != NULL && strstr(out, "shown") != NULL,
	    "nesting too deep to follow stops hiding");
	free(out);
	free(in);
}

static double
cpu_seconds(clock_t start)
{
	return (double)(clock() - start) / CLOCKS_PER_SEC;
}

/* Renders and unescapes len bytes of input, timed. */
static void
hostile(const char *what, char *in, size_t len)
{
	clock_t	 start = clock();
	char	*a, *b;
	size_t	 na = 0, nb = 0;
	double	 t;

	a = html_to_text(in, len, &na);
	b = html_unescape(in, len, &nb);
	t = cpu_seconds(start);
	printf("# %s: %.2f s\n", what, t);
	ok(a != NULL && b != NULL && na <= len && nb <= len && t < 30,
	    "%s: output bounded, quick", what);
	free(a);
	free(b);
}

static void
fill(char *in, size_t len, const char *pat)
{
	size_t	i, n = strlen(pat);

	for (i = 0; i < len; i++)
		in[i] = pat[i % n];
}

static void
test_hostile(void)
{
	char	*in;

	if ((in = malloc(BIG)) == NULL)
		abort();
	fill(in, BIG, "<");
	hostile("10 MB of '<'", in, BIG);
	fill(in, BIG, "x");
	memcpy(in, "<a href=\"", 9);
	hostile("unterminated attribute", in, BIG);
	memcpy(in, "<a href=x", 9);
	hostile("10 MB without '>'", in, BIG);
	memcpy(in, "<!--     ", 9);
	hostile("unterminated comment", in, BIG);
	memcpy(in, "<script>", 8);
	hostile("unterminated script", in, BIG);
	fill(in, BIG, "</scrip<script>");
	hostile("script end tags that are not", in, BIG);
	fill(in, BIG, "&#1&lt&");
	hostile("references", in, BIG);
	fill(in, BIG, "&#99999999999999999999");
	hostile("a long number", in, BIG);
	fill(in, BIG, "<span style=display:none><li><b>x</x></div>");
	hostile("hidden tag soup", in, BIG);
	fill(in, BIG, "<a b c d e f=g h='i' j=\"k\" ");
	hostile("one tag of many attributes", in, BIG);
	fill(in, BIG, "--!-->");
	memcpy(in, "<!--", 4);
	hostile("comment of dashes", in, BIG);
	free(in);
}

int
main(void)
{
	test_references();
	test_unescape_nul();
	test_render();
	test_render_nul();
	test_hidden();
	test_deep();
	test_hostile();
	return tap_done();
}
