/*
 * The HTTP side of the reporter: one request at a time to the Spamhaus
 * submission API through libcurl's multi interface, so that the
 * reporter keeps reading the report pipe while a request is in flight.
 * TLS is verified (libcurl's default, never turned off), proxies come
 * from the environment as libcurl reads them, and connect and total
 * timeouts bound every request.
 */

#include "phishmilter.h"
#include "reporter.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBMIT_REASON_MAX	255	/* the API's limit, in characters */

static const char *const submit_kinds[] = { "", "ip", "url", "email" };

const char *
submit_kind_name(int kind)
{
	return kind >= REPORT_IP && kind <= REPORT_EMAIL ?
	    submit_kinds[kind] : "?";
}

const char *
submit_endpoint(const struct spamhaus_config *sh, int kind)
{
	if (kind == REPORT_URL)
		return sh->sh_url_endpoint;
	if (kind == REPORT_EMAIL)
		return sh->sh_email_endpoint;
	return sh->sh_url;
}

static size_t
submit_discard(char *data, size_t size, size_t n, void *arg)
{
	struct submit	*su = arg;
	size_t		 len = size * n, room;

	/* Keep the start of the answer for the log; drop the rest. */
	room = sizeof(su->su_resp) - 1 - su->su_resplen;
	if (room > len)
		room = len;
	memcpy(su->su_resp + su->su_resplen, data, room);
	su->su_resplen += room;
	su->su_resp[su->su_resplen] = '\0';
	return len;
}

int
submit_init(struct submit *su, const struct spamhaus_config *sh,
    const char *token)
{
	CURL			*e;
	struct curl_slist	*h = NULL, *t;
	char			 auth[1100];

	memset(su, 0, sizeof(*su));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (su->su_multi = curl_multi_init()) == NULL ||
	    (e = su->su_easy = curl_easy_init()) == NULL)
		return -1;
	if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token) >=
	    (int)sizeof(auth))
		return -1;
	if ((t = curl_slist_append(h, auth)) == NULL ||
	    (h = t, t = curl_slist_append(h,
	    "Content-Type: application/json")) == NULL ||
	    (h = t, t = curl_slist_append(h, "Accept: application/json")) ==
	    NULL) {
		explicit_bzero(auth, sizeof(auth));
		curl_slist_free_all(h);
		return -1;
	}
	explicit_bzero(auth, sizeof(auth));
	su->su_headers = t;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t);
	curl_easy_setopt(e, CURLOPT_USERAGENT, PACKAGE_NAME "/"
	    PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
	    (long)sh->sh_connect_timeout);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)sh->sh_request_timeout);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, submit_discard);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, su);
#if CURL_AT_LEAST_VERSION(7, 85, 0)
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP |
	    CURLPROTO_HTTPS));
#endif
	return 0;
}

void
submit_free(struct submit *su)
{
	if (su->su_busy)
		curl_multi_remove_handle(su->su_multi, su->su_easy);
	if (su->su_easy != NULL)
		curl_easy_cleanup(su->su_easy);
	if (su->su_multi != NULL)
		curl_multi_cleanup(su->su_multi);
	curl_slist_free_all(su->su_headers);
	free(su->su_body);
	memset(su, 0, sizeof(*su));
	curl_global_cleanup();
}

/*
 * JSON strings.  Bytes that are not UTF-8 (a message as received may
 * have any) are sent as the Latin-1 character of the same value, so the
 * body is always valid JSON.
 */

struct jbuf {
	char	*jb_p;
	size_t	 jb_len;
	size_t	 jb_size;
};

static void
jbuf_add(struct jbuf *jb, const char *s, size_t len)
{
	if (jb->jb_size - jb->jb_len <= len) {
		while (jb->jb_size - jb->jb_len <= len)
			jb->jb_size = jb->jb_size ? jb->jb_size * 2 : 256;
		jb->jb_p = xreallocarray(jb->jb_p, 1, jb->jb_size);
	}
	memcpy(jb->jb_p + jb->jb_len, s, len);
	jb->jb_len += len;
	jb->jb_p[jb->jb_len] = '\0';
}

static size_t
utf8_seqlen(const unsigned char *s, size_t len)
{
	size_t	n, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

static void
json_string(struct jbuf *jb, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 esc[8];
	size_t			 i, n;

	jbuf_add(jb, "\"", 1);
	for (i = 0; i < len; i += n) {
		n = 1;
		if (p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			jbuf_add(jb, esc, 2);
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			jbuf_add(jb, esc, 6);
		} else if (p[i] < 0x80)
			jbuf_add(jb, s + i, 1);
		else if ((n = utf8_seqlen(p + i, len - i)) > 0)
			jbuf_add(jb, s + i, n);
		else {
			n = 1;
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			jbuf_add(jb, esc, 6);
		}
	}
	jbuf_add(jb, "\"", 1);
}

/* Appends s, cutting at max characters (UTF-8 aware); the count left. */
static size_t
reason_add(struct jbuf *jb, const char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, chars = 0, n;

	while (p[i] != '\0' && chars < max) {
		n = p[i] < 0x80 ? 1 : utf8_seqlen(p + i, strlen(s + i));
		if (n == 0)
			n = 1;
		i += n;
		chars++;
	}
	jbuf_add(jb, s, i);
	return max - chars;
}

static const char *
submit_reason_field(char c, const struct spool_entry *se, char *one)
{
	switch (c) {
	case 'f':
		return se->se_filter;
	case 'v':
		return action_name((enum action)se->se_action);
	case 'q':
		return se->se_qid[0] ? se->se_qid : "-";
	case 'c':
		return se->se_addr;
	default:
		one[0] = c;		/* "%%" and unknown ones: as written */
		one[1] = '\0';
		return one;
	}
}

/*
 * The reason from its template (%f filter, %v verdict, %q queue id,
 * %c client), cut at the API's 255 characters.
 */
static char *
submit_reason(const char *tmpl, const struct spool_entry *se)
{
	struct jbuf	 jb = { NULL, 0, 0 };
	size_t		 left = SUBMIT_REASON_MAX, run;
	char		 one[2], *lit;
	const char	*p = tmpl;

	jbuf_add(&jb, "", 0);
	while (*p != '\0' && left > 0) {
		if (*p == '%' && p[1] != '\0') {
			left = reason_add(&jb, submit_reason_field(p[1], se,
			    one), left);
			p += 2;
			continue;
		}
		run = strcspn(p + 1, "%") + 1;
		lit = xmalloc(run + 1);
		memcpy(lit, p, run);
		lit[run] = '\0';
		left = reason_add(&jb, lit, left);
		free(lit);
		p += run;
	}
	return jb.jb_p;
}

/* The request body for one report. */
char *
submit_body(const struct spamhaus_config *sh, const struct spool_entry *se)
{
	struct jbuf	 jb = { NULL, 0, 0 };
	const char	*tt;
	char		*reason;

	tt = se->se_kind == REPORT_URL ? sh->sh_url_threat_type :
	    se->se_kind == REPORT_EMAIL ? sh->sh_email_threat_type :
	    sh->sh_threat_type;
	reason = submit_reason(sh->sh_reason, se);
	jbuf_add(&jb, "{\"threat_type\":", 15);
	json_string(&jb, tt, strlen(tt));
	jbuf_add(&jb, ",\"reason\":", 10);
	json_string(&jb, reason, strlen(reason));
	jbuf_add(&jb, ",\"source\":{\"object\":", 20);
	json_string(&jb, se->se_object, se->se_len);
	jbuf_add(&jb, "}}", 2);
	free(reason);
	return jb.jb_p;
}

/* Starts a POST of body (taken over) to url. */
int
submit_start(struct submit *su, const char *url, char *body)
{
	CURL	*e = su->su_easy;

	free(su->su_body);
	su->su_body = body;
	su->su_resplen = 0;
	su->su_resp[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	if (curl_multi_add_handle(su->su_multi, e) != CURLM_OK)
		return -1;
	su->su_busy = 1;
	su->su_started = now_ms();
	return 0;
}

/* The status of a finished answer, and its Retry-After if it has one. */
static void
submit_status(struct submit *su, struct submit_result *sr)
{
#if LIBCURL_VERSION_NUM >= 0x074200
	curl_off_t	ra = 0;
#endif

	curl_easy_getinfo(su->su_easy, CURLINFO_RESPONSE_CODE, &sr->sr_status);
#if LIBCURL_VERSION_NUM >= 0x074200
	/* Seconds or an HTTP date; libcurl turns both into seconds. */
	if (curl_easy_getinfo(su->su_easy, CURLINFO_RETRY_AFTER, &ra) ==
	    CURLE_OK && ra > 0)
		sr->sr_retry_after = (long long)ra;
#endif
}

/* Moves the transfer on; 1 when it finished, with *sr filled. */
int
submit_step(struct submit *su, struct submit_result *sr)
{
	CURLMsg	*msg;
	int	 running, left;

	if (!su->su_busy)
		return 0;
	(void)curl_multi_perform(su->su_multi, &running);
	while ((msg = curl_multi_info_read(su->su_multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		memset(sr, 0, sizeof(*sr));
		sr->sr_transport = (int)msg->data.result;
		if (msg->data.result == CURLE_OK)
			submit_status(su, sr);
		else
			strlcpy(sr->sr_error,
			    curl_easy_strerror(msg->data.result),
			    sizeof(sr->sr_error));
		curl_multi_remove_handle(su->su_multi, su->su_easy);
		su->su_busy = 0;
		return 1;
	}
	return 0;
}

/* Waits for the transfer or one of fds (readable), up to timeout ms. */
int
submit_wait(struct submit *su, int *fds, size_t nfds, int timeout)
{
	struct curl_waitfd	w[4];
	size_t			i;

	for (i = 0; i < nfds && i < 4; i++) {
		w[i].fd = fds[i];
		w[i].events = CURL_WAIT_POLLIN;
		w[i].revents = 0;
	}
	return curl_multi_poll(su->su_multi, w, (unsigned int)i, timeout,
	    NULL) == CURLM_OK ? 0 : -1;
}
