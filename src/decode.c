/*
 * The decoded targets of a message: what a reader sees.  Built once per
 * message, and only when a filter first asks for one of them, from the
 * message buffer the session keeps: address and Subject headers decoded
 * (mime.c), body parts converted to UTF-8 (charset.c), HTML resolved and
 * rendered, URLs and their hosts found (html.c, url.c), attachment names
 * and types, every value made comparable (text.c).
 */

#include "phishmilter.h"
#include "session.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What the MIME walk collects while it goes through the parts. */
struct decode_walk {
	struct decoded	*dw_dc;
	int		 dw_plain;	/* a text/plain part was seen */
	struct valuelist dw_rendered;	/* text of HTML parts, for later */
	int		 dw_oom;
};

static struct valuelist *
decode_list(struct decoded *dc, enum target t)
{
	return &dc->dc_v[t - TARGET_DECODED_FIRST];
}

/* Takes ownership of v. */
static int
valuelist_add(struct valuelist *vl, char *v, size_t len)
{
	char	**nv;
	size_t	 *nl, size;

	if (vl->vl_n == vl->vl_size) {
		size = vl->vl_size ? vl->vl_size * 2 : 4;
		if ((nv = reallocarray(vl->vl_v, size, sizeof(*nv))) == NULL)
			goto fail;
		vl->vl_v = nv;
		if ((nl = reallocarray(vl->vl_len, size, sizeof(*nl))) == NULL)
			goto fail;
		vl->vl_len = nl;
		vl->vl_size = size;
	}
	vl->vl_v[vl->vl_n] = v;
	vl->vl_len[vl->vl_n++] = len;
	return 0;
 fail:
	free(v);
	return -1;
}

static void
valuelist_free(struct valuelist *vl)
{
	size_t	i;

	for (i = 0; i < vl->vl_n; i++)
		free(vl->vl_v[i]);
	free(vl->vl_v);
	free(vl->vl_len);
	memset(vl, 0, sizeof(*vl));
}

void
decode_free(struct decoded *dc)
{
	int	i;

	for (i = 0; i < DECODED_MAX; i++)
		valuelist_free(&dc->dc_v[i]);
	memset(dc, 0, sizeof(*dc));
}

/* Normalises s (taking ownership) and adds it to target t. */
static int
decode_add(struct decoded *dc, enum target t, char *s, size_t len)
{
	char	*norm;
	size_t	 nlen;

	if (s == NULL)
		return -1;
	norm = text_normalize(s, len, 0, &nlen);
	free(s);
	if (norm == NULL)
		return -1;
	return valuelist_add(decode_list(dc, t), norm, nlen);
}

static char *
decode_dup(const char *s, size_t len)
{
	char	*d;

	if ((d = malloc(len + 1)) != NULL) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

static const struct {
	const char	*name;
	enum target	 target;
	int		 addresses;
} decode_headers[] = {
	{ "from",	TARGET_DECODE_FROM,	1 },
	{ "to",		TARGET_DECODE_TO,	1 },
	{ "cc",		TARGET_DECODE_CC,	1 },
	{ "reply-to",	TARGET_DECODE_REPLY_TO,	1 },
	{ "subject",	TARGET_DECODE_SUBJECT,	0 },
};

static int
decode_header_values(struct decoded *dc, const struct message *m)
{
	size_t	i, j;
	char	*v;

	for (i = 0; i < m->m_nhdr; i++) {
		const struct header	*h = &m->m_hdr[i];
		const char		*raw = m->m_buf + h->h_value;
		size_t			 len = h->h_valuelen;

		for (j = 0; j < sizeof(decode_headers) /
		    sizeof(decode_headers[0]); j++) {
			if (strlen(decode_headers[j].name) != h->h_namelen ||
			    strncasecmp(m->m_buf + h->h_name,
			    decode_headers[j].name, h->h_namelen) != 0)
				continue;
			v = decode_headers[j].addresses ?
			    mime_decode_addresses(raw, len, &dc->dc_errors) :
			    mime_decode_header(raw, len, &dc->dc_errors);
			if (v == NULL || decode_add(dc, decode_headers[j].target,
			    v, strlen(v)) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * A URL is normalised before its host is taken, so that a host written
 * in fullwidth letters or with ideographic dots comes out as the ASCII
 * host a browser would visit, lower-cased.
 */
static int
decode_url(void *arg, const char *url, size_t len)
{
	struct decode_walk	*dw = arg;
	struct valuelist	*urls = decode_list(dw->dw_dc, TARGET_URL);
	char			 host[1024], *norm;
	size_t			 nlen;
	int			 hlen;

	if ((norm = text_normalize(url, len, 0, &nlen)) == NULL ||
	    valuelist_add(urls, norm, nlen) == -1)
		goto oom;
	if ((hlen = url_host(norm, nlen, host, sizeof(host))) > 0 &&
	    valuelist_add(decode_list(dw->dw_dc, TARGET_URL_HOST),
	    decode_dup(host, (size_t)hlen), (size_t)hlen) == -1)
		goto oom;
	return 0;
 oom:
	dw->dw_oom = 1;
	return 1;
}

/* The source, its URLs, and its rendered text, which one walk gives. */
static int
decode_html_part(struct decode_walk *dw, const char *utf8, size_t len)
{
	char	*v;
	size_t	 vlen;

	if ((v = html_unescape(utf8, len, &vlen)) == NULL ||
	    decode_add(dw->dw_dc, TARGET_DECODE_HTML, v, vlen) == -1)
		return -1;
	(void)url_extract_html_text(utf8, len, decode_url, dw, &v, &vlen);
	if (v == NULL)
		return -1;
	return valuelist_add(&dw->dw_rendered, v, vlen);
}

/* Text a reader reads or opens: text/plain and text/html parts. */
static int
decode_text_part(struct decode_walk *dw, const struct mime_part *p)
{
	char	*utf8;
	size_t	 len;
	int	 rc;

	utf8 = charset_to_utf8(p->mp_charset, p->mp_data != NULL ?
	    p->mp_data : "", p->mp_len, &len, NULL);
	if (utf8 == NULL)
		return -1;
	if (strcmp(p->mp_type, "text/html") == 0) {
		rc = decode_html_part(dw, utf8, len);
		free(utf8);
		return rc;
	}
	if (!p->mp_attachment)
		dw->dw_plain = 1;
	url_extract_text(utf8, len, decode_url, dw);
	return decode_add(dw->dw_dc, TARGET_DECODE_TEXT, utf8, len);
}

/*
 * An attachment (mime.c: a file name, Content-Disposition: attachment,
 * or a type that is not text) gives its name and type, in step; a plain
 * or HTML part is decoded as text even when attached, since a reader
 * opens it (an HTML attachment is a classic phishing form).
 */
static int
decode_part(void *arg, const struct mime_part *p)
{
	struct decode_walk	*dw = arg;
	struct decoded		*dc = dw->dw_dc;
	char			*v;

	if (p->mp_attachment) {
		v = strdup(p->mp_filename != NULL ? p->mp_filename : "");
		if (v == NULL ||
		    decode_add(dc, TARGET_ATTACHMENT_NAME, v, strlen(v)) == -1)
			goto oom;
		if ((v = strdup(p->mp_type)) == NULL ||
		    decode_add(dc, TARGET_ATTACHMENT_TYPE, v, strlen(v)) == -1)
			goto oom;
	}
	if ((strcmp(p->mp_type, "text/plain") == 0 ||
	    strcmp(p->mp_type, "text/html") == 0) &&
	    decode_text_part(dw, p) == -1)
		goto oom;
	return dw->dw_oom;
 oom:
	dw->dw_oom = 1;
	return 1;
}

/* Without a plain part, a reader sees the HTML rendered as text. */
static int
decode_rendered(struct decode_walk *dw)
{
	struct valuelist	*vl = &dw->dw_rendered;
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < vl->vl_n; i++) {
		if (!dw->dw_plain && rc == 0)
			rc = decode_add(dw->dw_dc, TARGET_DECODE_TEXT,
			    vl->vl_v[i], vl->vl_len[i]);
		else
			free(vl->vl_v[i]);
		vl->vl_v[i] = NULL;
	}
	valuelist_free(vl);
	return rc;
}

#define VIEW_CONT	-1	/* a continuation line: as its field */
#define VIEW_DROP	0
#define VIEW_KEEP	1
#define VIEW_REST	2	/* not a field: this and all after it */

/* What the MIME view does with the header line at p (to eol). */
static int
decode_mime_field(const char *p, const char *eol)
{
	size_t	len = (size_t)(eol - p), i;

	if (len > 0 && (*p == ' ' || *p == '\t'))
		return VIEW_CONT;
	/* RFC 5322 ftext; libetpan ends the header at anything else. */
	for (i = 0; i < len && p[i] != ':'; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return VIEW_REST;
	if (i == len || i == 0)
		return VIEW_REST;
	return (i == 12 && strncasecmp(p, "mime-version", 12) == 0) ||
	    (i > 8 && strncasecmp(p, "content-", 8) == 0) ? VIEW_KEEP :
	    VIEW_DROP;
}

/*
 * The message as libetpan needs it for the MIME tree: the top-level
 * fields that start with Content- or are MIME-Version (and any line
 * that is not a field at all), then the body.  libetpan parses every
 * top-level field into lists of tokens, one allocation each; on mail
 * with long Received chains that was most of the decoding's malloc
 * time, for fields the walk never reads.  NULL: use the message as is.
 */
static char *
decode_mime_view(const struct message *m, size_t *lenp)
{
	const char	*p, *eol, *nl, *end;
	char		*out;
	size_t		 o = 0, hend = m->m_body != 0 ? m->m_body : m->m_len;
	int		 keep = 0, k;

	if (m->m_buf == NULL || (out = malloc(m->m_len + 1)) == NULL)
		return NULL;
	end = m->m_buf + hend;
	for (p = m->m_buf; p < end; p = eol) {
		nl = memchr(p, '\n', (size_t)(end - p));
		eol = nl != NULL ? nl + 1 : end;
		if (keep != VIEW_REST &&
		    (k = decode_mime_field(p, eol)) != VIEW_CONT)
			keep = k;
		if (keep != VIEW_DROP) {
			memcpy(out + o, p, (size_t)(eol - p));
			o += (size_t)(eol - p);
		}
	}
	memcpy(out + o, m->m_buf + hend, m->m_len - hend);
	*lenp = o + m->m_len - hend;
	return out;
}

/*
 * Decodes what target t needs, once: the address and Subject headers for
 * the header targets, the MIME parts for the others, so that a message
 * whose filters look only at headers is never parsed as MIME.  Returns
 * -1 only when memory ran out; limits and undecodable parts leave a
 * partial result, noted in dc_hits and dc_errors.
 */
int
decode_message(struct decoded *dc, const struct config *cf,
    const struct message *m, enum target t)
{
	struct mime_limits	ml = { cf->cf_max_mime_depth,
				    cf->cf_max_mime_parts };
	struct decode_walk	dw;
	char			*view;
	size_t			 vlen = 0;

	if (t < TARGET_DECODE_TEXT) {
		if (dc->dc_headers_done)
			return 0;
		dc->dc_headers_done = 1;
		return decode_header_values(dc, m);
	}
	if (dc->dc_body_done)
		return 0;
	dc->dc_body_done = 1;
	memset(&dw, 0, sizeof(dw));
	dw.dw_dc = dc;
	if ((view = decode_mime_view(m, &vlen)) == NULL)
		dc->dc_hits |= mime_walk(m->m_buf != NULL ? m->m_buf : "",
		    m->m_len, &ml, decode_part, &dw, &dc->dc_errors);
	else
		dc->dc_hits |= mime_walk(view, vlen, &ml, decode_part, &dw,
		    &dc->dc_errors);
	dc->dc_hits &= ~MIME_HIT_STOPPED;
	/* The walk's parts may point into view until they are rendered. */
	if (decode_rendered(&dw) == -1 || dw.dw_oom) {
		free(view);
		return -1;
	}
	free(view);
	return 0;
}

/* A value without its spaces, for filters with whitespace = strip. */
static int
decode_stripped(const char *v, size_t len, value_fn fn, void *arg)
{
	static char	*buf;
	static size_t	 size;
	size_t		 i, o = 0;
	char		*nb;

	if (len + 1 > size) {
		if ((nb = realloc(buf, len + 1)) == NULL)
			return fn(arg, v, len);
		buf = nb;
		size = len + 1;
	}
	for (i = 0; i < len; i++)
		if (v[i] != ' ')
			buf[o++] = v[i];
	return fn(arg, buf, o);
}

/* The target source for decoded targets; returns the values offered. */
int
decode_each(const struct decoded *dc, const struct cond *c, value_fn fn,
    void *arg)
{
	const struct valuelist	*vl = &dc->dc_v[c->c_target -
				    TARGET_DECODED_FIRST];
	size_t			 i;
	int			 stop;

	for (i = 0; i < vl->vl_n; i++) {
		stop = c->c_strip ? decode_stripped(vl->vl_v[i],
		    vl->vl_len[i], fn, arg) : fn(arg, vl->vl_v[i],
		    vl->vl_len[i]);
		if (stop)
			return (int)i + 1;
	}
	return (int)vl->vl_n;
}
