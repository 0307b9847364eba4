/*
 * MIME with libetpan: RFC 2047 encoded words in headers, address lists,
 * RFC 2231 parameters, and the walk over the MIME tree that hands every
 * leaf part, transfer-decoded (base64, quoted-printable), to a callback.
 * Charset conversion goes through charset.c, also for the conversions
 * libetpan makes itself (its extended_charconv hook), so that every
 * label and fallback is handled in one place.  Encoded words and
 * quoted-printable are decoded here, the way readers do, where libetpan
 * does otherwise.  Nothing here is fatal: what cannot be decoded is kept
 * as text and counted.
 */

#include "phishmilter.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

struct walk {
	const struct mime_limits *w_limits;
	mime_part_fn		  w_fn;
	void			 *w_arg;
	unsigned int		  w_parts;
	unsigned int		  w_hits;	/* MIME_HIT_* */
	unsigned int		 *w_errors;
};

/* libetpan's charset conversions, done the way the rest of the body is. */
static int
mime_charconv(const char *tocode, const char *fromcode, const char *str,
    size_t len, char *result, size_t *result_len)
{
	char	*out;
	size_t	 outlen;

	if (strcasecmp(tocode, "utf-8") != 0)
		return MAIL_CHARCONV_ERROR_UNKNOWN_CHARSET;
	if ((out = charset_to_utf8(fromcode, str, len, &outlen, NULL)) == NULL)
		return MAIL_CHARCONV_ERROR_MEMORY;
	if (outlen > *result_len) {
		free(out);
		return MAIL_CHARCONV_ERROR_MEMORY;
	}
	memcpy(result, out, outlen);
	*result_len = outlen;
	free(out);
	return MAIL_CHARCONV_NO_ERROR;
}

void
mime_init(void)
{
	extended_charconv = mime_charconv;
}

/* Length of a well-formed encoded word at s (=?cs?B|Q?text?=), or 0. */
static size_t
mime_encoded_word(const char *s, size_t len)
{
	size_t	i = 2;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	while (i < len && s[i] != '?' && s[i] > ' ' && s[i] < 0x7f)
		i++;
	if (i == 2 || i + 3 >= len || s[i] != '?' ||
	    strchr("BbQq", s[i + 1]) == NULL || s[i + 2] != '?')
		return 0;
	for (i += 3; i + 1 < len; i++) {
		if (s[i] == '?' && s[i + 1] == '=')
			return i + 2;
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	}
	return 0;
}

static int
mime_is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Length of a run of encoded words separated only by whitespace, which
 * RFC 2047 says to join; the trailing whitespace is not part of it.
 */
static size_t
mime_encoded_run(const char *s, size_t len)
{
	size_t	end = 0, i = 0, w;

	while ((w = mime_encoded_word(s + i, len - i)) > 0) {
		end = i + w;
		i = end;
		while (i < len && mime_is_lwsp(s[i]))
			i++;
	}
	return end;
}

static int
mime_append(char **buf, size_t *len, size_t *size, const char *p, size_t n)
{
	char	*nb;
	size_t	 ns;

	if (*len + n + 1 > *size) {
		ns = *size ? *size : 128;
		while (ns < *len + n + 1)
			ns *= 2;
		if ((nb = realloc(*buf, ns)) == NULL)
			return -1;
		*buf = nb;
		*size = ns;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}


/*
 * Quoted-printable (and RFC 2047's Q with header set) into out, which
 * has room for len bytes; returns the length.  "=XX" is a byte, "=" at
 * the end of a line (blanks allowed) joins the lines, and any other "="
 * is kept as text, as RFC 2045 (6.7, note 2) advises and readers do:
 * libetpan's decoder makes "=XY" a NUL byte, which then passes for
 * UTF-16 and garbles the whole part.
 */
static size_t
mime_qp_decode(const char *in, size_t len, int header, char *out,
    unsigned int *errors)
{
	size_t	i, j, o = 0;
	int	hi, lo, bad = 0;

	for (i = 0; i < len; i++) {
		if (in[i] != '=') {
			out[o++] = header && in[i] == '_' ? ' ' : in[i];
			continue;
		}
		if (i + 2 < len &&
		    (hi = ascii_hexval((unsigned char)in[i + 1])) >= 0 &&
		    (lo = ascii_hexval((unsigned char)in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
			continue;
		}
		j = i + 1;
		while (j < len && (in[j] == ' ' || in[j] == '\t'))
			j++;
		if (j + 1 < len && in[j] == '\r' && in[j + 1] == '\n')
			j++;
		if (j == len || in[j] == '\n' || in[j] == '\r') {
			i = j;		/* soft line break */
			continue;
		}
		out[o++] = '=';
		bad = 1;
	}
	if (bad)
		(*errors)++;
	return o;
}

/* RFC 2047's B into out (room for len bytes), skipping stray bytes. */
static size_t
mime_b64_decode(const char *in, size_t len, char *out,
    unsigned int *errors)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*p;
	unsigned int		 acc = 0, bits = 0;
	size_t			 i, o = 0;
	int			 bad = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == '\0' || (p = strchr(b64, in[i])) == NULL) {
			bad |= in[i] != '=';
			continue;
		}
		acc = (acc << 6 | (unsigned int)(p - b64)) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits);
		}
	}
	if (bad)
		(*errors)++;
	return o;
}

/* Converts the bytes of words in one charset and appends them. */
static int
mime_run_flush(const char *charset, const char *bytes, size_t n,
    char **buf, size_t *len, size_t *size)
{
	char	*utf8;
	size_t	 ulen;
	int	 rc;

	if (n == 0)
		return 0;
	if ((utf8 = charset_to_utf8(charset, bytes, n, &ulen, NULL)) == NULL)
		return -1;
	rc = mime_append(buf, len, size, utf8, ulen);
	free(utf8);
	return rc;
}

/*
 * Decodes one run of encoded words.  The bytes of adjacent words in one
 * charset are joined before conversion, as readers do, so that a
 * character split between two words (each padded, which libetpan's
 * joining of the encoded text stops at) comes out whole.
 */
static int
mime_decode_run(const char *s, size_t n, char **buf, size_t *len,
    size_t *size, unsigned int *errors)
{
	char		*bytes, cs[64] = "";
	const char	*w, *q, *text;
	size_t		 i = 0, blen = 0, wlen, cslen, tlen;
	int		 rc = 0;

	if ((bytes = malloc(n + 1)) == NULL)
		return -1;
	while (i < n && rc == 0) {
		while (i < n && mime_is_lwsp(s[i]))
			i++;
		if ((wlen = mime_encoded_word(s + i, n - i)) == 0)
			break;
		w = s + i;
		q = memchr(w + 2, '?', wlen - 2);	/* checked: there */
		cslen = (size_t)(q - (w + 2));
		/* "charset*lang" (RFC 2231, section 5) */
		if ((text = memchr(w + 2, '*', cslen)) != NULL)
			cslen = (size_t)(text - (w + 2));
		text = q + 3;
		tlen = wlen - (size_t)(text - w) - 2;
		if (strlen(cs) != cslen || strncasecmp(cs, w + 2, cslen) != 0) {
			rc = mime_run_flush(cs, bytes, blen, buf, len, size);
			blen = 0;
			snprintf(cs, sizeof(cs), "%.*s", (int)cslen, w + 2);
		}
		blen += q[1] == 'B' || q[1] == 'b' ?
		    mime_b64_decode(text, tlen, bytes + blen, errors) :
		    mime_qp_decode(text, tlen, 1, bytes + blen, errors);
		i += wlen;
	}
	if (rc == 0)
		rc = mime_run_flush(cs, bytes, blen, buf, len, size);
	free(bytes);
	return rc;
}

/*
 * Decodes a header value as a reader shows it: folding removed, raw
 * 8-bit text converted (guessing its charset when it is not UTF-8), and
 * well-formed encoded words decoded; broken ones stay as text.  Returns a
 * new UTF-8 string, or NULL when memory ran out.
 */
char *
mime_decode_header(const char *raw, size_t rawlen, unsigned int *errors)
{
	char	*text, *buf = NULL;
	size_t	 tlen, len = 0, size = 0, i, n;

	if ((text = charset_to_utf8(NULL, raw, rawlen, &tlen, NULL)) == NULL)
		return NULL;
	for (i = 0; i < tlen; i += n) {
		if ((n = mime_encoded_run(text + i, tlen - i)) > 0) {
			if (mime_decode_run(text + i, n, &buf, &len, &size,
			    errors) == -1)
				break;
			continue;
		}
		n = 1;
		if (text[i] == '\r' || (text[i] == '\n' && i + 1 < tlen &&
		    (text[i + 1] == ' ' || text[i + 1] == '\t')))
			continue;	/* unfold */
		if (mime_append(&buf, &len, &size, text + i, 1) == -1)
			break;
	}
	free(text);
	if (i < tlen) {
		free(buf);
		return NULL;
	}
	return buf != NULL ? buf : strdup("");
}

static int
mime_append_mailbox(struct mailimf_mailbox *mb, char **buf, size_t *len,
    size_t *size, unsigned int *errors)
{
	char	*name = NULL;
	int	 rc = 0;

	if (*len > 0)
		rc |= mime_append(buf, len, size, ", ", 2);
	if (mb->mb_display_name != NULL && *mb->mb_display_name != '\0') {
		const char	*dn = mb->mb_display_name;
		size_t		 dnlen = strlen(dn);

		/* libetpan keeps the quotes round "=?...?=" alone. */
		if (dnlen >= 2 && dn[0] == '"' && dn[dnlen - 1] == '"') {
			dn++;
			dnlen -= 2;
		}
		name = mime_decode_header(dn, dnlen, errors);
		if (name == NULL)
			return -1;
		rc |= mime_append(buf, len, size, name, strlen(name));
		rc |= mime_append(buf, len, size, " ", 1);
		free(name);
	}
	rc |= mime_append(buf, len, size, "<", 1);
	if (mb->mb_addr_spec != NULL)
		rc |= mime_append(buf, len, size, mb->mb_addr_spec,
		    strlen(mb->mb_addr_spec));
	rc |= mime_append(buf, len, size, ">", 1);
	return rc ? -1 : 0;
}

static int
mime_append_address(struct mailimf_address *a, char **buf, size_t *len,
    size_t *size, unsigned int *errors)
{
	struct mailimf_mailbox_list	*ml;
	clistiter			*it;

	if (a->ad_type == MAILIMF_ADDRESS_MAILBOX)
		return mime_append_mailbox(a->ad_data.ad_mailbox, buf, len,
		    size, errors);
	if ((ml = a->ad_data.ad_group->grp_mb_list) == NULL)
		return 0;
	for (it = clist_begin(ml->mb_list); it != NULL; it = clist_next(it))
		if (mime_append_mailbox(clist_content(it), buf, len, size,
		    errors) == -1)
			return -1;
	return 0;
}

/*
 * An address header as "Display Name <addr>, <addr2>", names decoded.  A
 * value libetpan cannot parse as addresses is decoded as plain text.
 */
char *
mime_decode_addresses(const char *raw, size_t rawlen, unsigned int *errors)
{
	struct mailimf_address_list	*al = NULL;
	clistiter			*it;
	char				*buf = NULL;
	size_t				 idx = 0, len = 0, size = 0;

	if (mailimf_address_list_parse(raw, rawlen, &idx, &al) !=
	    MAILIMF_NO_ERROR)
		return mime_decode_header(raw, rawlen, errors);
	for (it = clist_begin(al->ad_list); it != NULL; it = clist_next(it))
		if (mime_append_address(clist_content(it), &buf, &len, &size,
		    errors) == -1) {
			free(buf);
			buf = NULL;
			break;
		}
	mailimf_address_list_free(al);
	if (it != NULL)
		return NULL;
	return buf != NULL ? buf : strdup("");
}

/* Appends an RFC 2231 piece, percent-decoding it when it is extended. */
static int
mime_2231_piece(const char *v, int extended, char **buf, size_t *len,
    size_t *size)
{
	char	c;

	for (; *v != '\0'; v++) {
		c = *v;
		if (extended && c == '%' && ascii_hexval(v[1]) >= 0 &&
		    ascii_hexval(v[2]) >= 0) {
			c = (char)(ascii_hexval(v[1]) * 16 + ascii_hexval(v[2]));
			v += 2;
		}
		if (mime_append(buf, len, size, &c, 1) == -1)
			return -1;
	}
	return 0;
}

/* The piece of name*N or name*N* (N given) or name* (N = -1) in params. */
static const struct mailmime_parameter *
mime_2231_find(clist *params, const char *name, int n, int *extended)
{
	clistiter	*it;
	char		 plain[96], ext[96];

	if (n < 0) {
		snprintf(ext, sizeof(ext), "%s*", name);
		plain[0] = '\0';
	} else {
		snprintf(plain, sizeof(plain), "%s*%d", name, n);
		snprintf(ext, sizeof(ext), "%s*%d*", name, n);
	}
	for (it = clist_begin(params); it != NULL; it = clist_next(it)) {
		const struct mailmime_parameter	*p = clist_content(it);

		if (p->pa_name == NULL || p->pa_value == NULL)
			continue;
		if ((*extended = strcasecmp(p->pa_name, ext) == 0) ||
		    strcasecmp(p->pa_name, plain) == 0)
			return p;
	}
	return NULL;
}

/* Converts the joined pieces from "charset'lang'" to UTF-8. */
static char *
mime_2231_finish(char *buf, size_t len, int extended)
{
	char	*q1, *q2, *out, cs[64];
	size_t	 outlen;

	if (!extended || (q1 = memchr(buf, '\'', len)) == NULL ||
	    (q2 = memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - buf))) == NULL)
		return buf;
	snprintf(cs, sizeof(cs), "%.*s", (int)(q1 - buf), buf);
	out = charset_to_utf8(cs, q2 + 1, len - (size_t)(q2 + 1 - buf),
	    &outlen, NULL);
	free(buf);
	return out;
}

/*
 * RFC 2231 parameter "name", with continuations (name*0*, name*1, ...)
 * and the charset of the first piece; NULL when absent.
 */
static char *
mime_param_2231(clist *params, const char *name)
{
	const struct mailmime_parameter	*p;
	char				*buf = NULL;
	size_t				 len = 0, size = 0;
	int				 n, ext, first_ext = 0;

	if (params == NULL)
		return NULL;
	if ((p = mime_2231_find(params, name, -1, &ext)) != NULL) {
		if (mime_2231_piece(p->pa_value, 1, &buf, &len, &size) == -1)
			return NULL;
		return mime_2231_finish(buf, len, 1);
	}
	for (n = 0; n < 1000; n++) {
		if ((p = mime_2231_find(params, name, n, &ext)) == NULL)
			break;
		if (n == 0)
			first_ext = ext;
		if (mime_2231_piece(p->pa_value, ext, &buf, &len, &size) == -1) {
			free(buf);
			return NULL;
		}
	}
	return buf != NULL ? mime_2231_finish(buf, len, first_ext) : NULL;
}

static void
mime_type_name(const struct mailmime_content *ct, char *buf, size_t size)
{
	const struct mailmime_type	*t;
	const char			*type = "application";
	char				*p;

	if (ct == NULL || (t = ct->ct_type) == NULL) {
		strlcpy(buf, "text/plain", size);
		return;
	}
	if (t->tp_type == MAILMIME_TYPE_DISCRETE_TYPE) {
		switch (t->tp_data.tp_discrete_type->dt_type) {
		case MAILMIME_DISCRETE_TYPE_TEXT:	type = "text"; break;
		case MAILMIME_DISCRETE_TYPE_IMAGE:	type = "image"; break;
		case MAILMIME_DISCRETE_TYPE_AUDIO:	type = "audio"; break;
		case MAILMIME_DISCRETE_TYPE_VIDEO:	type = "video"; break;
		case MAILMIME_DISCRETE_TYPE_EXTENSION:
			type = t->tp_data.tp_discrete_type->dt_extension;
			break;
		}
	} else if (t->tp_data.tp_composite_type->ct_type ==
	    MAILMIME_COMPOSITE_TYPE_MESSAGE)
		type = "message";
	else if (t->tp_data.tp_composite_type->ct_type ==
	    MAILMIME_COMPOSITE_TYPE_MULTIPART)
		type = "multipart";
	snprintf(buf, size, "%s/%s", type != NULL ? type : "x",
	    ct->ct_subtype != NULL ? ct->ct_subtype : "");
	for (p = buf; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* The charset parameter as declared, or NULL. */
static const char *
mime_charset(const struct mailmime_content *ct)
{
	clistiter	*it;

	if (ct == NULL || ct->ct_parameters == NULL)
		return NULL;
	for (it = clist_begin(ct->ct_parameters); it; it = clist_next(it)) {
		const struct mailmime_parameter	*p = clist_content(it);

		if (p->pa_name != NULL && strcasecmp(p->pa_name, "charset") == 0)
			return p->pa_value;
	}
	return NULL;
}

/* RFC 2231 over the generic parameters of a Content-Disposition. */
static char *
mime_disposition_2231(const struct mailmime_disposition *d, const char *name)
{
	clist		*params;
	clistiter	*it;
	char		*v;

	if (d == NULL || d->dsp_parms == NULL || (params = clist_new()) == NULL)
		return NULL;
	for (it = clist_begin(d->dsp_parms); it != NULL; it = clist_next(it)) {
		struct mailmime_disposition_parm	*dp = clist_content(it);

		if (dp->pa_type == MAILMIME_DISPOSITION_PARM_PARAMETER)
			clist_append(params, dp->pa_data.pa_parameter);
	}
	v = mime_param_2231(params, name);
	clist_free(params);	/* the parameters belong to the tree */
	return v;
}

/* The file name a reader shows for a part, decoded; NULL if none. */
static char *
mime_filename(const struct mailmime_single_fields *sf, unsigned int *errors)
{
	char	*v;

	if ((v = mime_disposition_2231(sf->fld_disposition, "filename")) != NULL)
		return v;
	if (sf->fld_disposition_filename != NULL)
		return mime_decode_header(sf->fld_disposition_filename,
		    strlen(sf->fld_disposition_filename), errors);
	if (sf->fld_content != NULL && (v = mime_param_2231(
	    sf->fld_content->ct_parameters, "name")) != NULL)
		return v;
	if (sf->fld_content_name != NULL)
		return mime_decode_header(sf->fld_content_name,
		    strlen(sf->fld_content_name), errors);
	return NULL;
}

/*
 * What a reader lists as an attachment: a part sent as one, a part with
 * a file name not marked inline, or anything that is not plain or HTML
 * text.
 */
static int
mime_is_attachment(const struct mailmime_single_fields *sf,
    const char *type, const char *filename)
{
	const struct mailmime_disposition	*d = sf->fld_disposition;
	int					 dt = -1;

	if (d != NULL && d->dsp_type != NULL)
		dt = d->dsp_type->dsp_type;
	if (dt == MAILMIME_DISPOSITION_TYPE_ATTACHMENT)
		return 1;
	if (filename != NULL && dt != MAILMIME_DISPOSITION_TYPE_INLINE)
		return 1;
	return strcmp(type, "text/plain") != 0 &&
	    strcmp(type, "text/html") != 0;
}

/* Hands one leaf part, transfer-decoded, to the callback. */
static int
mime_leaf(struct walk *w, struct mailmime *m)
{
	struct mailmime_single_fields	 sf;
	struct mime_part		 part;
	const struct mailmime_data	*b = m->mm_data.mm_single;
	char				*dec = NULL, *qp = NULL;
	size_t				 idx = 0, declen;
	int				 enc, rc;

	memset(&part, 0, sizeof(part));
	mailmime_single_fields_init(&sf, m->mm_mime_fields, m->mm_content_type);
	mime_type_name(m->mm_content_type, part.mp_type, sizeof(part.mp_type));
	part.mp_charset = mime_charset(m->mm_content_type);
	part.mp_filename = mime_filename(&sf, w->w_errors);
	part.mp_attachment = mime_is_attachment(&sf, part.mp_type,
	    part.mp_filename);
	if (b != NULL && b->dt_type == MAILMIME_DATA_TEXT) {
		part.mp_data = b->dt_data.dt_text.dt_data;
		part.mp_len = b->dt_data.dt_text.dt_length;
	}
	enc = sf.fld_encoding != NULL ? sf.fld_encoding->enc_type :
	    MAILMIME_MECHANISM_8BIT;
	if (part.mp_data != NULL &&
	    enc == MAILMIME_MECHANISM_QUOTED_PRINTABLE) {
		if ((qp = malloc(part.mp_len + 1)) != NULL) {
			part.mp_len = mime_qp_decode(part.mp_data, part.mp_len,
			    0, qp, w->w_errors);
			part.mp_data = qp;
		} else
			(*w->w_errors)++;	/* kept as it came */
	} else if (part.mp_data != NULL && enc == MAILMIME_MECHANISM_BASE64) {
		if (mailmime_part_parse(part.mp_data, part.mp_len, &idx, enc,
		    &dec, &declen) == MAILIMF_NO_ERROR) {
			part.mp_data = dec;
			part.mp_len = declen;
		} else
			(*w->w_errors)++;	/* kept as it came */
	}
	rc = w->w_fn(w->w_arg, &part);
	if (dec != NULL)
		mmap_string_unref(dec);
	free(qp);
	free(part.mp_filename);
	return rc;
}

/*
 * libetpan builds the whole MIME tree before the walk applies
 * max_mime_depth: recursively, so that a chain of 40,000 message/rfc822
 * parts (1.2 MB) overflows the stack, and with every multipart searching
 * the rest of its part for its boundary, so that time grows as depth
 * times size (1,000 levels over 9 MB: 16 s).  Every level of that tree
 * needs a Content-Type header naming a multipart or message/rfc822 (a
 * part of a digest is a message without one, so one header may give two
 * levels), and libetpan reads a header only at the start of a line or
 * right after the "--boundary" that opens a part.  Counting such headers
 * bounds the depth whatever the structure; past MIME_COMPOSITE_MAX more
 * than max_mime_depth, the rest are renamed in a copy ("Xontent-Type"),
 * which libetpan reads as unknown headers: those parts become plain text,
 * and the message counts as over max_mime_depth.  Real mail has a handful
 * (7 at most in the 2,600 messages of the test corpora).
 */
#define MIME_COMPOSITE_MAX	32

/* "Content-Type", blanks, a colon at p? */
static int
mime_is_ct(const char *p, const char *end)
{
	if ((size_t)(end - p) < 13 || strncasecmp(p, "content-type", 12) != 0)
		return 0;
	for (p += 12; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	return p < end && *p == ':';
}

/* Where the last "multipart" or "rfc822" in [p, end) starts, or NULL. */
static const char *
mime_last_composite(const char *p, const char *end)
{
	const char	*last = NULL;

	for (; p < end; p++)
		if (((size_t)(end - p) >= 9 && strncasecmp(p, "multipart", 9)
		    == 0) || ((size_t)(end - p) >= 6 &&
		    strncasecmp(p, "rfc822", 6) == 0))
			last = p;
	return last;
}

/* The end of the header whose first line ends at eol. */
static const char *
mime_header_end(const char *eol, const char *end)
{
	const char	*nl;

	while (eol < end && (*eol == ' ' || *eol == '\t')) {
		nl = memchr(eol, '\n', (size_t)(end - eol));
		eol = nl != NULL ? nl + 1 : end;
	}
	return eol;
}

/*
 * The message with the composite Content-Type headers past the first max
 * renamed, in a new buffer, or NULL when there were not that many (or
 * memory ran out: then libetpan gets the message as it is).
 */
static char *
mime_cap_composites(const char *msg, size_t len, unsigned int max)
{
	const char	*p, *q, *eol, *nl, *last, *end = msg + len;
	unsigned int	 n = 0;
	char		*out = NULL;
	int		 dashes;

	for (p = msg; p < end; p = eol) {
		nl = memchr(p, '\n', (size_t)(end - p));
		eol = nl != NULL ? nl + 1 : end;
		dashes = eol - p >= 2 && p[0] == '-' && p[1] == '-';
		if (!dashes && !mime_is_ct(p, eol))
			continue;
		last = mime_last_composite(p, mime_header_end(eol, end));
		/* At the start of the line, or anywhere after a "--". */
		for (q = p; q < eol && last != NULL && q <= last; q++) {
			if (!mime_is_ct(q, eol) || ++n <= max) {
				if (!dashes)
					break;
				continue;
			}
			if (out == NULL) {
				if ((out = malloc(len)) == NULL)
					return NULL;
				memcpy(out, msg, len);
			}
			out[q - msg] = 'X';	/* "Xontent-Type" */
			if (!dashes)
				break;
		}
	}
	return out;
}

static void
mime_walk_node(struct walk *w, struct mailmime *m, unsigned int depth)
{
	clistiter	*it;

	if (depth > w->w_limits->ml_depth) {
		w->w_hits |= MIME_HIT_DEPTH;
		return;
	}
	switch (m->mm_type) {
	case MAILMIME_SINGLE:
		if (++w->w_parts > w->w_limits->ml_parts) {
			w->w_hits |= MIME_HIT_PARTS;
			return;
		}
		if (mime_leaf(w, m) != 0)
			w->w_hits |= MIME_HIT_STOPPED;
		break;
	case MAILMIME_MULTIPLE:
		for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list);
		    it != NULL && !(w->w_hits & (MIME_HIT_PARTS |
		    MIME_HIT_STOPPED)); it = clist_next(it))
			mime_walk_node(w, clist_content(it), depth + 1);
		break;
	case MAILMIME_MESSAGE:
		if (m->mm_data.mm_message.mm_msg_mime != NULL)
			mime_walk_node(w, m->mm_data.mm_message.mm_msg_mime,
			    depth + 1);
		break;
	}
}

/*
 * Parses a whole message (headers and body) and calls fn for each leaf
 * part in reading order, within the depth and part limits.  Returns the
 * MIME_HIT_* bits of the limits that cut the walk.
 */
unsigned int
mime_walk(const char *msg, size_t len, const struct mime_limits *ml,
    mime_part_fn fn, void *arg, unsigned int *errors)
{
	struct mailmime	*mime = NULL;
	struct walk	 w = { ml, fn, arg, 0, 0, errors };
	size_t		 idx = 0;
	char		*capped;

	if ((capped = mime_cap_composites(msg, len, ml->ml_depth +
	    MIME_COMPOSITE_MAX)) != NULL) {
		msg = capped;
		w.w_hits |= MIME_HIT_DEPTH;
	}
	if (mailmime_parse(msg, len, &idx, &mime) != MAILIMF_NO_ERROR) {
		(*errors)++;
		free(capped);
		return w.w_hits | MIME_HIT_PARSE;
	}
	mime_walk_node(&w, mime, 0);
	mailmime_free(mime);
	free(capped);
	return w.w_hits;
}
