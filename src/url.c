/*
 * URLs for the url and url_host targets.  url_extract_text() finds the
 * links a mail reader makes of plain text; url_extract_html() adds the
 * URL-valued attributes of an HTML document to the links in its rendered
 * text; url_host() takes a URL apart as a browser would.
 *
 * What counts as a URL:
 * - In text: http://, https:// and ftp:// in any case, and bare www.host.
 *   Not mailto: or other schemes, which readers seldom link and which
 *   carry no host.  A scheme may follow any character, since Japanese
 *   text puts no space before a link.  A link ends at whitespace, a
 *   control character, < > ", or the CJK and fullwidth punctuation,
 *   brackets and quotes that end a sentence around it (、。「」（）“”);
 *   a trailing . , : ; ! ? * and an unbalanced ) ] } or ' are not part
 *   of it.  Non-ASCII paths and hosts are kept as they are.
 * - In HTML: the values of href, src, action, formaction, background,
 *   poster and cite, and the URLs inside srcset and <meta content>
 *   (refresh redirects), with references resolved, outer whitespace and
 *   inner tabs and newlines removed as the URL parser removes them.
 *   Skipped: javascript:, vbscript:, data:, cid:, mailto:, #fragments,
 *   and relative references (no scheme, neither //host nor www.), which
 *   name no host in a mail.  Then the links in the rendered text
 *   (html_to_text()): comments, scripts and hidden text are not rendered
 *   and not searched, since a reader never sees them; decode_html still
 *   holds them for rules.  Each URL is reported once: attribute values
 *   in document order, then links in the text in document order.
 */

#include "phishmilter.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

/*
 * The URLs of one document, kept to report each once: their bytes one
 * after another in ul_buf, so that an entry needs only its length until
 * the buffer stops moving.
 */
struct url_ent {
	const char	*ue_url;	/* set by url_list_dedupe() */
	size_t		 ue_len;
};

struct url_list {
	char		*ul_buf;
	size_t		 ul_len;
	size_t		 ul_size;
	struct url_ent	*ul_ent;
	size_t		 ul_n;
	size_t		 ul_max;
};

/* What an attribute holds. */
#define ATTR_URL	1	/* one URL */
#define ATTR_TEXT	2	/* text with URLs in it */

static const char *const url_attrs[] = {
	"href", "src", "action", "formaction", "background", "poster", "cite"
};

static const char *const url_skipped[] = {
	"javascript", "vbscript", "data", "cid", "mailto"
};

/* Schemes whose URLs always have a host, however many slashes. */
static const char *const url_special[] = {
	"http", "https", "ftp", "ws", "wss", "file"
};

static const char *const url_text_prefixes[] = {
	"http://", "https://", "ftp://", "www."
};

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif






/* s[0..n) begins with the lower-case word w, ASCII case ignored. */
static int
prefix_is(const char *s, size_t n, const char *w)
{
	size_t	i;

	for (i = 0; w[i] != '\0'; i++)
		if (i >= n || ascii_tolower((unsigned char)s[i]) != w[i])
			return 0;
	return 1;
}

static int
word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && prefix_is(s, n, w);
}

static int
word_in(const char *s, size_t n, const char *const *list, size_t nlist)
{
	size_t	i;

	for (i = 0; i < nlist; i++)
		if (word_is(s, n, list[i]))
			return 1;
	return 0;
}

/* Spaces, and punctuation around a link in CJK text, end it. */
static int
url_stop_cp(uint32_t cp)
{
	if (cp == 0x0085 || cp == 0x00A0 || (cp >= 0x2000 && cp <= 0x200A) ||
	    cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
	    cp == 0x3000)
		return 1;
	if ((cp >= 0x3008 && cp <= 0x3011) || (cp >= 0x3014 && cp <= 0x301B))
		return 1;		/* 〈〉《》「」『』【】〔〕 */
	switch (cp) {
	case 0x2018: case 0x2019: case 0x201C: case 0x201D:	/* ‘’“” */
	case 0x3001: case 0x3002:				/* 、。 */
	case 0xFF01: case 0xFF08: case 0xFF09: case 0xFF0C:	/* ！（），*/
	case 0xFF1C: case 0xFF1E: case 0xFF1F:			/* ＜＞？ */
	case 0xFF3B: case 0xFF3D: case 0xFF5B: case 0xFF5D:	/* ［］｛｝ */
	case 0xFF61: case 0xFF62: case 0xFF63: case 0xFF64:	/* ｡｢｣､ */
		return 1;
	}
	return 0;
}

/* Does the UTF-8 character at p (a lead byte) end a link? */
static int
url_stop(const unsigned char *p, size_t n)
{
	uint32_t	cp;

	if (p[0] >= 0xC2 && p[0] <= 0xDF && n >= 2)
		cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
	else if (p[0] >= 0xE0 && p[0] <= 0xEF && n >= 3)
		cp = (uint32_t)(p[0] & 0x0F) << 12 |
		    (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
	else
		return 0;
	return url_stop_cp(cp);
}

/* Where the run of link characters from s[i] ends. */
static size_t
url_run_end(const char *s, size_t len, size_t i)
{
	const unsigned char	*u = (const unsigned char *)s;

	for (; i < len; i++) {
		if (u[i] <= 0x20 || u[i] == 0x7F || u[i] == '<' ||
		    u[i] == '>' || u[i] == '"')
			break;
		if (u[i] >= 0xC0 && url_stop(u + i, len - i))
			break;
	}
	return i;
}

/*
 * Trailing punctuation belongs to the sentence, and a closing bracket or
 * quote to one opened before the link, unless the link opened it too:
 * https://en.wikipedia.org/wiki/Foo_(bar) keeps its ')'.
 */
static size_t
url_trim(const char *s, size_t start, size_t end)
{
	static const char	 opens[] = "([{", closes[] = ")]}";
	size_t			 nopen[3] = { 0 }, nclose[3] = { 0 };
	size_t			 i, nquote = 0;
	const char		*p;

	for (i = start; i < end; i++) {
		if (s[i] == '\'')
			nquote++;
		else if (s[i] != '\0' && (p = strchr(opens, s[i])) != NULL)
			nopen[p - opens]++;
		else if (s[i] != '\0' && (p = strchr(closes, s[i])) != NULL)
			nclose[p - closes]++;
	}
	while (end > start) {
		i = end - 1;
		if (s[i] != '\0' && strchr(".,:;!?*", s[i]) != NULL)
			end--;
		else if (s[i] == '\'' && nquote % 2 == 1) {
			nquote--;
			end--;
		} else if (s[i] != '\0' && (p = strchr(closes, s[i])) != NULL &&
		    nclose[p - closes] > nopen[p - closes]) {
			nclose[p - closes]--;
			end--;
		} else
			break;
	}
	return end;
}

/*
 * The length of the link prefix at s[i], or 0.  "www." must not follow
 * a character of a host, a path or an address ("foo.www.x", "a@www.x").
 */
static size_t
url_prefix(const char *s, size_t len, size_t i)
{
	size_t	k, n;
	int	c = ascii_tolower((unsigned char)s[i]), prev;

	if (c != 'h' && c != 'f' && c != 'w')
		return 0;
	for (k = 0; k < nitems(url_text_prefixes); k++) {
		if (!prefix_is(s + i, len - i, url_text_prefixes[k]))
			continue;
		n = strlen(url_text_prefixes[k]);
		if (c != 'w' || i == 0)
			return n;
		prev = (unsigned char)s[i - 1];
		if (ascii_isalnum(prev) || (prev != '\0' &&
		    strchr(".-_@/%~+", prev) != NULL))
			return 0;
		return n;
	}
	return 0;
}

/* Something that can start a host follows the prefix. */
static int
url_has_host(const char *s, size_t n)
{
	int	c;

	if (n == 0)
		return 0;
	c = (unsigned char)s[0];
	return ascii_isalnum(c) || c >= 0x80 || c == '[' || c == '%';
}

/*
 * The links in s, to fn; non-zero from fn stops the scan and is
 * returned.  *count counts the calls.
 */
static int
url_scan_text(const char *s, size_t len, url_fn fn, void *arg, int *count)
{
	size_t	i = 0, pre, end;
	int	rc;

	while (i < len) {
		if ((pre = url_prefix(s, len, i)) == 0) {
			i++;
			continue;
		}
		end = url_trim(s, i, url_run_end(s, len, i + pre));
		if (end < i + pre ||
		    !url_has_host(s + i + pre, end - i - pre)) {
			i += pre;
			continue;
		}
		(*count)++;
		if ((rc = fn(arg, s + i, end - i)) != 0)
			return rc;
		i = end;
	}
	return 0;
}

int
url_extract_text(const char *s, size_t len, url_fn fn, void *arg)
{
	int	count = 0;

	(void)url_scan_text(s, len, fn, arg, &count);
	return count;
}

/* Makes room for n more bytes in the list's buffer. */
static int
url_list_reserve(struct url_list *ul, size_t n)
{
	char	*buf;
	size_t	 size = ul->ul_size == 0 ? 4096 : ul->ul_size;

	while (size - ul->ul_len < n) {
		if (size > SIZE_MAX / 2)
			return -1;
		size *= 2;
	}
	if (size == ul->ul_size)
		return 0;
	if ((buf = realloc(ul->ul_buf, size)) == NULL)
		return -1;
	ul->ul_buf = buf;
	ul->ul_size = size;
	return 0;
}

/* Adds a copy of url; an url_fn for url_scan_text().  -1: no memory. */
static int
url_list_add(void *arg, const char *url, size_t n)
{
	struct url_list	*ul = arg;
	struct url_ent	*ent;
	size_t		 max;

	if (ul->ul_n == ul->ul_max) {
		max = ul->ul_max == 0 ? 64 : ul->ul_max * 2;
		if (max > SIZE_MAX / sizeof(*ent) ||
		    (ent = realloc(ul->ul_ent, max * sizeof(*ent))) == NULL)
			return -1;
		ul->ul_ent = ent;
		ul->ul_max = max;
	}
	if (url_list_reserve(ul, n) == -1)
		return -1;
	memcpy(ul->ul_buf + ul->ul_len, url, n);
	ul->ul_ent[ul->ul_n].ue_url = NULL;
	ul->ul_ent[ul->ul_n++].ue_len = n;
	ul->ul_len += n;
	return 0;
}

/* The length of the scheme name before ':', or 0 if there is none. */
static size_t
url_scheme(const char *s, size_t n)
{
	size_t	i, j;

	if (n == 0 || !ascii_isalpha(s[0]))
		return 0;
	for (i = 1; i < n && (ascii_isalnum(s[i]) || s[i] == '+' || s[i] == '-' ||
	    s[i] == '.'); i++)
		;
	if (i >= n || s[i] != ':')
		return 0;
	/* "www.example.com:8080/x" is a host and a port. */
	for (j = i + 1; j < n && ascii_isdigit(s[j]); j++)
		;
	if (j > i + 1 && (j == n || s[j] == '/' || s[j] == '?' ||
	    s[j] == '#'))
		return 0;
	return i;
}

/* As the URL parser does: outer controls and spaces go, tabs and
 * newlines anywhere ("java\nscript:" is javascript:). */
static size_t
url_clean(char *v, size_t n)
{
	size_t	i, o = 0, start = 0;

	while (start < n && (unsigned char)v[start] <= 0x20)
		start++;
	while (n > start && (unsigned char)v[n - 1] <= 0x20)
		n--;
	for (i = start; i < n; i++)
		if (v[i] != '\t' && v[i] != '\n' && v[i] != '\r')
			v[o++] = v[i];
	return o;
}

/* Is an attribute value a URL with a host that we report? */
static int
url_wanted(const char *v, size_t n)
{
	size_t	k;

	if (n == 0 || v[0] == '#')
		return 0;
	if ((k = url_scheme(v, n)) > 0)
		return !word_in(v, k, url_skipped, nitems(url_skipped));
	if (n >= 2 && (v[0] == '/' || v[0] == '\\') &&
	    (v[1] == '/' || v[1] == '\\'))
		return 1;
	return prefix_is(v, n, "www.");
}

static int
url_attr_kind(const struct html_tag *t, const char *name, size_t n)
{
	if (t->ht_end)
		return 0;
	if (word_in(name, n, url_attrs, nitems(url_attrs)))
		return ATTR_URL;
	if (word_is(name, n, "srcset") ||
	    (word_is(name, n, "content") && strcmp(t->ht_name, "meta") == 0))
		return ATTR_TEXT;
	return 0;
}

static int
url_on_attr(void *arg, const struct html_tag *t, const char *name,
    size_t nlen, const char *val, size_t vlen)
{
	char	*v;
	size_t	 n;
	int	 kind, rc = 0, count = 0;

	if ((kind = url_attr_kind(t, name, nlen)) == 0)
		return 0;
	if ((v = html_unescape_attr(val, vlen, &n)) == NULL)
		return -1;
	if (kind == ATTR_TEXT)
		rc = url_scan_text(v, n, url_list_add, arg, &count);
	else if ((n = url_clean(v, n)) > 0 && url_wanted(v, n))
		rc = url_list_add(arg, v, n);
	free(v);
	return rc;
}

/* By content, then by place: the first of equals comes first. */
static int
url_ent_cmp(const void *a, const void *b)
{
	const struct url_ent	*x = a, *y = b;
	size_t			 n = x->ue_len < y->ue_len ? x->ue_len :
				    y->ue_len;
	int			 c;

	if ((c = memcmp(x->ue_url, y->ue_url, n)) != 0)
		return c;
	if (x->ue_len != y->ue_len)
		return x->ue_len < y->ue_len ? -1 : 1;
	return x->ue_url < y->ue_url ? -1 : x->ue_url > y->ue_url;
}

/* By place in ul_buf, which is the order they were found in. */
static int
url_ent_order(const void *a, const void *b)
{
	const struct url_ent	*x = a, *y = b;

	return x->ue_url < y->ue_url ? -1 : x->ue_url > y->ue_url;
}

/*
 * Keeps the first of each URL.  Sorting cannot be made slower than
 * n log n by any input, unlike a hash table with a known hash function.
 */
static void
url_list_dedupe(struct url_list *ul)
{
	size_t	i, o, off = 0;

	for (i = 0; i < ul->ul_n; i++) {
		ul->ul_ent[i].ue_url = ul->ul_buf + off;
		off += ul->ul_ent[i].ue_len;
	}
	if (ul->ul_n < 2)
		return;
	qsort(ul->ul_ent, ul->ul_n, sizeof(*ul->ul_ent), url_ent_cmp);
	for (i = o = 1; i < ul->ul_n; i++)
		if (ul->ul_ent[i].ue_len != ul->ul_ent[o - 1].ue_len ||
		    memcmp(ul->ul_ent[i].ue_url, ul->ul_ent[o - 1].ue_url,
		    ul->ul_ent[i].ue_len) != 0)
			ul->ul_ent[o++] = ul->ul_ent[i];
	ul->ul_n = o;
	qsort(ul->ul_ent, ul->ul_n, sizeof(*ul->ul_ent), url_ent_order);
}

/*
 * Attribute URLs, then links in the rendered text, which one walk of
 * the document gives both of; the text goes to *text.  -1: no memory.
 */
static int
url_collect_html(struct url_list *ul, const char *s, size_t len,
    char **text, size_t *tlen)
{
	struct html_handler	h = { NULL, url_on_attr, NULL, ul };
	int			count = 0;

	if ((*text = html_to_text_tee(s, len, tlen, &h)) == NULL)
		return -1;
	return url_scan_text(*text, *tlen, url_list_add, ul, &count);
}

/* Returns the number of URLs reported, or -1 if memory ran out. */
int
url_extract_html(const char *s, size_t len, url_fn fn, void *arg)
{
	char	*text = NULL;
	size_t	 tlen;
	int	 count;

	count = url_extract_html_text(s, len, fn, arg, &text, &tlen);
	free(text);
	return count;
}

/*
 * url_extract_html() for a caller that wants the rendered text as well
 * (decode.c): *text gets what html_to_text() would return, to be freed;
 * NULL if memory ran out.
 */
int
url_extract_html_text(const char *s, size_t len, url_fn fn, void *arg,
    char **text, size_t *tlen)
{
	struct url_list	 ul;
	size_t		 i;
	int		 count = 0;

	memset(&ul, 0, sizeof(ul));
	*text = NULL;
	if (url_collect_html(&ul, s, len, text, tlen) == -1)
		count = -1;
	else {
		url_list_dedupe(&ul);
		for (i = 0; i < ul.ul_n && count < INT_MAX; i++) {
			count++;
			if (fn(arg, ul.ul_ent[i].ue_url, ul.ul_ent[i].ue_len))
				break;
		}
	}
	free(ul.ul_buf);
	free(ul.ul_ent);
	return count;
}

/* One part of an old-style IPv4 address: 0x hex, 0 octal, decimal. */
static int
url_ipv4_part(const char *s, size_t n, uint64_t *v)
{
	unsigned int	base = 10;
	int		d;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		n -= 2;
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		s++;
		n--;
	}
	for (*v = 0; n > 0; s++, n--) {
		if ((d = ascii_hexval((unsigned char)*s)) == -1 ||
		    (unsigned int)d >= base || *v > UINT32_MAX)
			return -1;
		*v = *v * base + (unsigned int)d;
	}
	return *v > UINT32_MAX ? -1 : 0;
}

/* Does the host end in a number, which makes it an IPv4 address? */
static int
url_ends_in_number(const char *host, size_t n)
{
	size_t	i = n;

	while (i > 0 && host[i - 1] != '.')
		i--;
	if (i == n)
		return 0;
	if (n - i >= 2 && host[i] == '0' && host[i + 1] == 'x') {
		for (i += 2; i < n && ascii_hexval((unsigned char)host[i]) != -1;
		    i++)
			;
	} else
		for (; i < n && ascii_isdigit(host[i]); i++)
			;
	return i == n;
}

/*
 * A browser reads a host ending in a number as an IPv4 address in any of
 * the old forms (3232235777, 0xC0.0250.1.1, 192.168.257): write it as a
 * dotted quad.  A host that is not a valid one is left alone.
 */
static int
url_host_ipv4(char *host, size_t n, size_t size)
{
	uint64_t	part[4], addr;
	size_t		np = 0, i = 0, j;
	int		len;

	if (!url_ends_in_number(host, n))
		return (int)n;
	for (i = 0; i <= n; i = j + 1) {
		for (j = i; j < n && host[j] != '.'; j++)
			;
		if (np == 4 || j == i ||
		    url_ipv4_part(host + i, j - i, &part[np]) == -1)
			return (int)n;
		np++;
	}
	for (i = 0; i + 1 < np; i++)
		if (part[i] > 255)
			return (int)n;
	if (part[np - 1] >= (uint64_t)1 << (8 * (5 - np)))
		return (int)n;
	for (addr = part[np - 1], i = 0; i + 1 < np; i++)
		addr += part[i] << (8 * (3 - i));
	len = snprintf(host, size, "%u.%u.%u.%u", (unsigned int)(addr >> 24),
	    (unsigned int)(addr >> 16 & 0xFF), (unsigned int)(addr >> 8 & 0xFF),
	    (unsigned int)(addr & 0xFF));
	return len < 0 || (size_t)len >= size ? -1 : len;
}

/* An IPv6 literal, without brackets, in its canonical form. */
static int
url_host_ipv6(const char *s, size_t n, char *host, size_t size)
{
	struct in6_addr	 in6;
	char		 buf[64];
	size_t		 i;

	if (n == 0 || n >= sizeof(buf) || n >= size)
		return -1;
	for (i = 0; i < n; i++)
		buf[i] = (char)ascii_tolower((unsigned char)s[i]);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, &in6) == 1 &&
	    inet_ntop(AF_INET6, &in6, buf, sizeof(buf)) != NULL)
		n = strlen(buf);
	if (n >= size)
		return -1;
	memcpy(host, buf, n + 1);
	return (int)n;
}

/*
 * IDNA reads 。．｡ as dots, so a browser does; in place over the UTF-8
 * of a host, returns the new length.
 */
static size_t
url_map_dots(char *h, size_t n)
{
	static const char *const dots[] = {
		"\xE3\x80\x82", "\xEF\xBC\x8E", "\xEF\xBD\xA1"
	};
	size_t	i, o = 0, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < nitems(dots); k++)
			if (n - i >= 3 && memcmp(h + i, dots[k], 3) == 0)
				break;
		if (k < nitems(dots)) {
			h[o++] = '.';
			i += 2;
		} else
			h[o++] = h[i];
	}
	return o;
}

/* Percent-decoded, ASCII lower-cased, dots mapped, trailing dots gone. */
/*
 * A host with characters beyond ASCII, escaped or not, normalised as
 * every decoded value is and lower-cased again: a browser maps
 * "%EF%BD%85vil.example" (a fullwidth e) to evil.example, and so must a
 * url_host rule.  Returns the new length, 0 when it does not fit.
 */
static size_t
url_host_fold(char *host, size_t o, size_t size)
{
	char	*n;
	size_t	 i, nlen;

	for (i = 0; i < o && (unsigned char)host[i] < 0x80; i++)
		;
	if (i == o)
		return o;
	if ((n = text_normalize(host, o, 0, &nlen)) == NULL)
		return 0;
	if (nlen + 1 > size) {
		free(n);
		return 0;
	}
	for (i = 0; i < nlen; i++)
		host[i] = (char)ascii_tolower((unsigned char)n[i]);
	free(n);
	return nlen;
}

static int
url_host_copy(const char *s, size_t n, char *host, size_t size)
{
	size_t	i, o = 0;
	int	c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%' && n - i >= 3 && ascii_hexval(s[i + 1]) != -1 &&
		    ascii_hexval(s[i + 2]) != -1) {
			c = ascii_hexval(s[i + 1]) << 4 | ascii_hexval(s[i + 2]);
			i += 2;
		}
		/* No browser goes to a host with a control in it. */
		if (c < 0x20 || c == 0x7F || o + 1 >= size)
			return -1;
		host[o++] = (char)ascii_tolower(c);
	}
	/* Nor to one whose escapes decode to bytes that are not UTF-8. */
	if (u8_check((const uint8_t *)host, o) != NULL)
		return -1;
	if ((o = url_host_fold(host, o, size)) == 0)
		return -1;
	o = url_map_dots(host, o);
	while (o > 0 && host[o - 1] == '.')
		o--;
	host[o] = '\0';
	return o == 0 || o > INT_MAX ? -1 : (int)o;
}

/* Where the authority that starts at p ends. */
static const char *
url_authority_end(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p == '/' || *p == '\\' || *p == '?' || *p == '#' ||
		    (unsigned char)*p <= 0x20)
			break;
	return p;
}

/* Past the scheme and the slashes to the authority; NULL: no host. */
static const char *
url_authority(const char *p, const char *end)
{
	size_t	k;

	while (p < end && (unsigned char)*p <= 0x20)
		p++;
	if ((k = url_scheme(p, (size_t)(end - p))) > 0) {
		if (!word_in(p, k, url_special, nitems(url_special))) {
			p += k + 1;
			if (end - p < 2 || p[0] != '/' || p[1] != '/')
				return NULL;
			return p + 2;
		}
		p += k + 1;
	}
	/* Browsers take any run of slashes and backslashes here. */
	while (p < end && (*p == '/' || *p == '\\'))
		p++;
	return p;
}

int
url_host(const char *url, size_t len, char *host, size_t hostsize)
{
	const char	*end = url + len, *p, *a, *q, *colon;
	int		 n;

	if (hostsize == 0 || (p = url_authority(url, end)) == NULL)
		return -1;
	a = url_authority_end(p, end);
	/* Credentials end at the last '@'. */
	for (q = a; q > p; q--)
		if (q[-1] == '@') {
			p = q;
			break;
		}
	if (p < a && *p == '[') {
		if ((q = memchr(p, ']', (size_t)(a - p))) == NULL)
			return -1;
		return url_host_ipv6(p + 1, (size_t)(q - p - 1), host,
		    hostsize);
	}
	if ((colon = memchr(p, ':', (size_t)(a - p))) != NULL)
		a = colon;
	if ((n = url_host_copy(p, (size_t)(a - p), host, hostsize)) == -1)
		return -1;
	return url_host_ipv4(host, (size_t)n, hostsize);
}
