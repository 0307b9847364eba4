/*
 * Unit tests of url.c: links in text as a mail reader makes them, URLs
 * in HTML attributes and text, the phishing tricks that hide a host, and
 * hostile input.
 */

#include "phishmilter.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"

#define BIG	(10 * 1024 * 1024)

/* The URLs reported, each followed by '\n'. */
struct found {
	char	 buf[4096];
	size_t	 len;
	int	 stop_after;	/* 0: never stop */
	int	 calls;
};

static int
collect(void *arg, const char *url, size_t n)
{
	struct found	*f = arg;

	if (f->len + n + 1 < sizeof(f->buf)) {
		memcpy(f->buf + f->len, url, n);
		f->len += n;
		f->buf[f->len++] = '\n';
		f->buf[f->len] = '\0';
	}
	f->calls++;
	return f->stop_after != 0 && f->calls >= f->stop_after;
}

static int
text_finds(const char *in, const char *want)
{
	struct found	f;
	int		n;

	memset(&f, 0, sizeof(f));
	n = url_extract_text(in, strlen(in), collect, &f);
	if (n != f.calls || strcmp(f.buf, want) != 0) {
		printf("# got %d \"%s\"\n", n, f.buf);
		return 0;
	}
	return 1;
}

static int
html_finds(const char *in, const char *want)
{
	struct found	f;
	int		n;

	memset(&f, 0, sizeof(f));
	n = url_extract_html(in, strlen(in), collect, &f);
	if (n != f.calls || strcmp(f.buf, want) != 0) {
		printf("# got %d \"%s\"\n", n, f.buf);
		return 0;
	}
	return 1;
}

static int
host_is(const char *url, const char *want)
{
	char	host[256];
	int	n;

	n = url_host(url, strlen(url), host, sizeof(host));
	if (want == NULL) {
		if (n != -1)
			printf("# got \"%s\"\n", host);
		return n == -1;
	}
	if (n < 0 || (size_t)n != strlen(want) || strcmp(host, want) != 0) {
		printf("# got %d \"%s\"\n", n, n < 0 ? "" : host);
		return 0;
	}
	return 1;
}

static void
test_text(void)
{
	ok(text_finds("Visit www.example.com.", "www.example.com\n"),
	    "bare www, trailing dot stripped");
	ok(text_finds("(see https://x.example/a)", "https://x.example/a\n"),
	    "unbalanced ')' stripped");
	ok(text_finds("https://en.wikipedia.org/wiki/Foo_(bar).",
	    "https://en.wikipedia.org/wiki/Foo_(bar)\n"),
	    "balanced ')' kept");
	ok(text_finds("[https://x.example/a] {https://y.example/b}",
	    "https://x.example/a\nhttps://y.example/b\n"), "] and }");
	ok(text_finds("'https://x.example/a', \"https://y.example/b\"",
	    "https://x.example/a\nhttps://y.example/b\n"), "quotes");
	ok(text_finds("Go: HTTPS://EVIL.Example./x!",
	    "HTTPS://EVIL.Example./x\n"), "any case; '!' stripped");
	ok(text_finds("a http://a.example, ftp://f.example; "
	    "<https://b.example/>",
	    "http://a.example\nftp://f.example\nhttps://b.example/\n"),
	    "several, ending at , ; >");
	ok(text_finds("こちらhttps://example.jp/ログイン/確認」から",
	    "https://example.jp/ログイン/確認\n"),
	    "no space before; Japanese path; ends at 」");
	ok(text_finds("「https://a.example/x」、www.b.example。"
	    "（https://c.example）",
	    "https://a.example/x\nwww.b.example\nhttps://c.example\n"),
	    "CJK punctuation ends a link");
	ok(text_finds("https://a.example/x\xC2\xA0y "
	    "https://b.example\xE3\x80\x80z",
	    "https://a.example/x\nhttps://b.example\n"),
	    "NBSP and ideographic space end a link");
	ok(text_finds("https://例え.jp/パス", "https://例え.jp/パス\n"),
	    "IDN host");
	ok(text_finds("mailto:a@b.example foo.www.example.com "
	    "user@www.example.com x-www.y.example", ""),
	    "no mailto:, no www. inside a host or address");
	ok(text_finds("url=www.r.example/x", "www.r.example/x\n"),
	    "www. after '='");
	ok(text_finds("http:// https:///x www. www.. https://", ""),
	    "prefixes without a host");
	ok(text_finds("https://x.example/?a=1&b=(2)#f",
	    "https://x.example/?a=1&b=(2)#f\n"), "query and fragment");
	ok(text_finds("https://a.example/x'", "https://a.example/x\n") &&
	    text_finds("https://a.example/it's", "https://a.example/it's\n"),
	    "a trailing ' only when unbalanced");
	ok(text_finds("xhttps://a.example", "https://a.example\n"),
	    "a scheme right after a letter");
}

static void
test_text_stop(void)
{
	struct found	f;
	int		n;

	memset(&f, 0, sizeof(f));
	f.stop_after = 1;
	n = url_extract_text("https://a.example https://b.example", 35,
	    collect, &f);
	ok(n == 1 && f.calls == 1, "text: stops when fn says so");
	memset(&f, 0, sizeof(f));
	f.stop_after = 2;
	n = url_extract_html("<a href=https://a.example>https://b.example "
	    "https://c.example</a>", 64, collect, &f);
	ok(n == 2 && f.calls == 2, "html: stops when fn says so");
}

static void
test_html(void)
{
	ok(html_finds("<a href=\"https://evil.example/login\">"
	    "https://www.mufg.jp</a>",
	    "https://evil.example/login\nhttps://www.mufg.jp\n"),
	    "href and the link text both count");
	ok(html_finds("<a href=\"&#x68;ttps://evil.example\">x</a>",
	    "https://evil.example\n"), "references resolved in href");
	ok(html_finds("<a href=https://a.example/x>x</a>",
	    "https://a.example/x\n"), "unquoted");
	ok(html_finds("<a href='https://a.example/y'>x</a>",
	    "https://a.example/y\n"), "single-quoted");
	ok(html_finds("<A HREF=\"https://a.example/z\">x</A>",
	    "https://a.example/z\n"), "upper case");
	ok(html_finds("<a\nhref\n=\n\"https://a.example/n\"\n>x</a>",
	    "https://a.example/n\n"), "newlines in the tag");
	ok(html_finds("<img src=https://i.example/p.png><form action="
	    "'https://f.example/post'><button formaction=https://b.example>"
	    "<td background=https://t.example/bg.gif><video poster="
	    "https://v.example/p><q cite=https://q.example/c>",
	    "https://i.example/p.png\nhttps://f.example/post\n"
	    "https://b.example\nhttps://t.example/bg.gif\n"
	    "https://v.example/p\nhttps://q.example/c\n"),
	    "src, action, formaction, background, poster, cite");
	ok(html_finds("<a href=\"javascript:alert(1)\">x</a>"
	    "<a href=\" JavaScript:x\">x</a><a href=\"java&#x0A;script:x\">"
	    "<a href=\"data:text/html,x\"><img src=\"cid:part1\">"
	    "<a href=\"mailto:a@b.example\"><a href=\"#top\">"
	    "<img src=\"images/logo.png\"><a href=\"\"><a href>", ""),
	    "javascript:, data:, cid:, mailto:, fragments, relative: skipped");
	ok(html_finds("<img src=\"//cdn.example/x.png\"><a href=www.w.example>"
	    "<a href=\"tel:+81312345678\">",
	    "//cdn.example/x.png\nwww.w.example\ntel:+81312345678\n"),
	    "//host, www., other schemes");
	ok(html_finds("<a href=\"https://example.jp/ログイン?q=確認\">x</a>",
	    "https://example.jp/ログイン?q=確認\n"), "Japanese path");
	ok(html_finds("<a href=\"https://a.example/?x=1&amp;y=2&copy=3\">",
	    "https://a.example/?x=1&y=2&copy=3\n"), "&amp; in href");
	ok(html_finds("<a href=\"  https://a.example/s\n \">",
	    "https://a.example/s\n"), "outer whitespace stripped");
	ok(html_finds("<a href=\"ht\ttps://a.ex\nample/\">",
	    "https://a.example/\n"), "tabs and newlines removed");
	ok(html_finds("<!-- hidden https://c.example --><!-- <a href="
	    "https://d.example> -->", ""), "comments are not searched");
	ok(html_finds("<script>u='https://s.example'</script><style>"
	    "a{background:url(https://t.example/i)}</style>", ""),
	    "script and style text are not searched");
	ok(html_finds("<span style=display:none>https://h.example</span>"
	    "<a style=display:none href=https://a.example>x</a>",
	    "https://a.example\n"), "hidden text not searched, hrefs are");
	ok(html_finds("<a href=https://a.example>https://a.example</a>"
	    "<img src=https://a.example>", "https://a.example\n"),
	    "each URL once");
	ok(html_finds("<meta http-equiv=refresh content=\"0;url=https://r."
	    "example/\"><img srcset=\"https://s.example/1x.png 1x, https://"
	    "s.example/2x.png 2x\">", "https://r.example/\n"
	    "https://s.example/1x.png\nhttps://s.example/2x.png\n"),
	    "meta refresh and srcset");
	ok(html_finds("https://<b>evil</b>.example/x",
	    "https://evil.example/x\n"), "a link as rendered across tags");
	ok(html_finds("<a href=\"https://x.example", ""),
	    "a tag cut off by the end is dropped");
	ok(html_finds("<p>www.a.example</p><p>www.b.example</p>",
	    "www.a.example\nwww.b.example\n"), "blocks end links");
}

static void
test_host(void)
{
	ok(host_is("https://user:pw@evil.example:8443/x", "evil.example"),
	    "credentials and port");
	ok(host_is("HTTPS://EVIL.Example.", "evil.example"),
	    "lower case, trailing dot");
	ok(host_is("https://%65vil.example/", "evil.example"),
	    "percent-encoded host");
	ok(host_is("www.example.com/x", "www.example.com") &&
	    host_is("www.example.com:8080/x", "www.example.com") &&
	    host_is("//cdn.example/x", "cdn.example"), "no scheme");
	ok(host_is("https://[2001:DB8:0::1]:443/", "2001:db8::1"),
	    "IPv6 literal");
	ok(host_is("https://ドメイン.例/パス", "ドメイン.例") &&
	    host_is("https://EXAMPLE.みんな/", "example.みんな"),
	    "IDN: only ASCII is lower-cased");
	ok(host_is("https://evil\xE3\x80\x82" "example\xEF\xBC\x8E" "jp/",
	    "evil.example.jp"), "ideographic and fullwidth dots");
	ok(host_is("http://3232235777/", "192.168.1.1") &&
	    host_is("http://0x7f.1/", "127.0.0.1") &&
	    host_is("http://0300.0250.257/", "192.168.1.1") &&
	    host_is("http://1.2.3.4./", "1.2.3.4"),
	    "IPv4 in the old forms");
	ok(host_is("http://999.1.1.1/", "999.1.1.1") &&
	    host_is("http://1.2.3.4.5/", "1.2.3.4.5") &&
	    host_is("http://v1.example.2/", "v1.example.2"),
	    "not IPv4 addresses: left alone");
	ok(host_is("http://evil.example\\@good.example/", "evil.example"),
	    "a backslash ends the host");
	ok(host_is("http://good.example@evil.example/", "evil.example") &&
	    host_is("http://a@b@evil.example/", "evil.example"),
	    "the last '@' ends the credentials");
	ok(host_is("https:evil.example", "evil.example") &&
	    host_is("https:////evil.example", "evil.example") &&
	    host_is("https:\\\\evil.example", "evil.example"),
	    "slashes as browsers take them");
	ok(host_is("https://evil.example?x", "evil.example") &&
	    host_is("https://evil.example#x", "evil.example") &&
	    host_is("  https://evil.example", "evil.example"),
	    "query, fragment, leading space");
	ok(host_is("ftp://Files.Example/", "files.example"), "ftp");
	ok(host_is("mailto:a@b.example", NULL) &&
	    host_is("javascript:alert(1)", NULL) &&
	    host_is("https://", NULL) && host_is("https://:80/", NULL) &&
	    host_is("", NULL) && host_is("https://evil.example%00.x", NULL) &&
	    host_is("https://[::1/", NULL), "no host");
	/* Found by fuzzing: url_host values are UTF-8, as browsers need. */
	ok(host_is("https://evil%aF.example/", NULL) &&
	    host_is("https://%C3%A9vil.example/", "evil.example"),
	    "escapes that decode to invalid UTF-8: no host; valid ones are "
	    "normalised like any value");
	ok(host_is("https://%EF%BD%85vil.example/", "evil.example") &&
	    host_is("https://%EF%BC%A5VIL.example/", "evil.example"),
	    "escaped fullwidth letters are normalised as a browser maps them");
}

static void
test_host_size(void)
{
	char	host[13];

	ok(url_host("https://evil.example/", 21, host, 13) == 12 &&
	    strcmp(host, "evil.example") == 0, "host just fits");
	ok(url_host("https://evil.example/", 21, host, 12) == -1,
	    "host does not fit");
	ok(url_host("https://1/", 10, host, 7) == -1,
	    "an IPv4 address that does not fit");
}

static double
cpu_seconds(clock_t start)
{
	return (double)(clock() - start) / CLOCKS_PER_SEC;
}

static void
hostile(const char *what, const char *in, size_t len)
{
	struct found	f;
	clock_t		start = clock();
	int		a, b;
	double		t;

	memset(&f, 0, sizeof(f));
	a = url_extract_text(in, len, collect, &f);
	b = url_extract_html(in, len, collect, &f);
	t = cpu_seconds(start);
	printf("# %s: %d + %d URLs, %.2f s\n", what, a, b, t);
	ok(a >= 0 && b >= 0 && t < 30, "%s: quick", what);
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
	char	 host[256];

	if ((in = malloc(BIG)) == NULL)
		abort();
	fill(in, BIG, "<");
	hostile("10 MB of '<'", in, BIG);
	fill(in, BIG, "x");
	memcpy(in, "<a href=\"", 9);
	hostile("unterminated href", in, BIG);
	fill(in, BIG, "https://");
	hostile("10 MB of https://", in, BIG);
	fill(in, BIG, "www.");
	hostile("10 MB of www.", in, BIG);
	fill(in, BIG, "x");
	memcpy(in, "https://", 8);
	hostile("one 10 MB URL", in, BIG);
	fill(in, BIG, "))))");
	memcpy(in, "https://x", 9);
	hostile("a URL of closing brackets", in, BIG);
	fill(in, BIG, "<a href=https://a.example/x>https://b.example ");
	hostile("many repeated URLs", in, BIG);
	fill(in, BIG, "<img src=https://aaaaaaaaaaaaaaaa.example/>");
	hostile("many equal attributes", in, BIG);
	fill(in, BIG, "x");
	memcpy(in, "https://", 8);
	ok(url_host(in, BIG, host, sizeof(host)) == -1,
	    "a 10 MB host does not fit");
	free(in);
}

/* Many different URLs: the dedupe must stay n log n. */
static void
test_many(void)
{
	struct found	 f;
	char		*in;
	size_t		 len = 0, i;
	clock_t		 start = clock();
	int		 n;

	if ((in = malloc(BIG)) == NULL)
		abort();
	for (i = 0; len + 64 < BIG; i++)
		len += (size_t)sprintf(in + len, "<a href=https://h%zu.example>"
		    "https://h%zu.example\n", i, i % 1000);
	memset(&f, 0, sizeof(f));
	n = url_extract_html(in, len, collect, &f);
	printf("# %zu distinct URLs: %.2f s\n", i, cpu_seconds(start));
	ok(n == (int)i && cpu_seconds(start) < 30,
	    "many distinct URLs, reported once each");
	free(in);
}

int
main(void)
{
	test_text();
	test_text_stop();
	test_html();
	test_host();
	test_host_size();
	test_hostile();
	test_many();
	return tap_done();
}
