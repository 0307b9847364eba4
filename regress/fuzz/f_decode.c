/*
 * Fuzzes the decoding pipeline: the input is one message file.  It is
 * fed to a session as offline.c feeds one (headers one by one, folded
 * lines joined by LF, then the body with CRLF line ends), and every
 * decoded target is asked for, as is and with whitespace stripped, so
 * that decode.c runs the MIME walk (mime.c, libetpan), the charsets
 * (charset.c), HTML (html.c), URLs (url.c) and normalisation (text.c)
 * on every message, whatever its headers.  Each value must be valid
 * UTF-8 (text.c repairs what is not).
 *
 * libFuzzer: -max_len=65536 -dict=decode.dict
 */

#include "phishmilter.h"
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#include "fuzz.h"

/* Small limits, so that short inputs reach them too. */
static const char fuzz_conf[] =
	"max_message_size = 48K\n"
	"max_headers = 100\n"
	"max_mime_depth = 10\n"
	"max_mime_parts = 40\n";

static struct config	*cf;
static struct ruleset	 rs;	/* unused: no verdict here */

/* The end of the line at p: after its LF, or the end of the buffer. */
static const char *
feed_eol(const char *p, const char *end)
{
	const char	*nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

/* The line without its LF or CRLF. */
static size_t
feed_chomp(const char *p, const char *eol)
{
	size_t	len = (size_t)(eol - p);

	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

/* Where the header at p ends, after its continuation lines. */
static const char *
feed_header_end(const char *p, const char *end)
{
	const char	*eol = feed_eol(p, end);

	while (eol < end && (*eol == ' ' || *eol == '\t'))
		eol = feed_eol(eol, end);
	return eol;
}

/*
 * One header, sent as an MTA sends it: the name, and the value with its
 * folded lines joined by a bare LF.  A line without a colon is dropped,
 * as offline.c drops it.  Returns where the next header starts.
 */
static const char *
feed_header(struct session *s, const char *p, const char *end)
{
	const char	*next = feed_header_end(p, end), *colon, *v, *eol;
	char		*name, *value;
	size_t		 vlen = 0;

	colon = memchr(p, ':', feed_chomp(p, feed_eol(p, end)));
	if (colon == NULL || colon == p)
		return next;
	if ((name = strndup(p, (size_t)(colon - p))) == NULL ||
	    (value = malloc((size_t)(next - colon))) == NULL)
		fuzz_fatal("out of memory");
	for (v = colon + 1; v < next; v = eol) {
		eol = feed_eol(v, end);
		if (v != colon + 1)
			value[vlen++] = '\n';
		memcpy(value + vlen, v, feed_chomp(v, eol));
		vlen += feed_chomp(v, eol);
	}
	value[vlen] = '\0';
	/* A NUL ends a string, as on the wire: the name may be empty. */
	if (*name != '\0')
		session_add_header(s, name, value);
	free(name);
	free(value);
	return next;
}

static void
feed_message(struct session *s, const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *eol;
	size_t		 n;

	while (p < end && *p != '\r' && *p != '\n')
		p = feed_header(s, p, end);
	if (p >= end)
		return;
	session_add_body(s, "", 0);
	for (p = feed_eol(p, end); p < end; p = eol) {
		eol = feed_eol(p, end);
		n = feed_chomp(p, eol);
		session_add_body(s, p, n);
		if (eol > p + n)
			session_add_body(s, "\r\n", 2);
	}
}

/* Reads every byte of a value, and checks that it is valid UTF-8. */
static int
check_value(void *arg, const char *v, size_t len)
{
	const struct cond	*c = arg;

	if (u8_check((const uint8_t *)v, len) != NULL)
		fuzz_fatal("%s: a value of %zu bytes is not valid UTF-8",
		    config_target_name(c->c_target), len);
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_log_init();
	mime_init();
	/* As in a worker: text in a charset without one is undeclared. */
	if (charset_init() == -1)
		fprintf(stderr, "fuzz: some charset converters are missing\n");
	cf = fuzz_config(fuzz_conf);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct session	*s;
	struct cond	 c;
	int		 t;

	if ((s = session_new(cf, &rs, -1)) == NULL)
		fuzz_fatal("session_new failed");
	session_offline(s);
	feed_message(s, (const char *)data, len);
	memset(&c, 0, sizeof(c));
	for (t = TARGET_DECODED_FIRST; t < TARGET_MAX; t++) {
		c.c_target = (enum target)t;
		c.c_strip = 0;
		(void)session_each_value(s, &c, check_value, &c);
		c.c_strip = 1;
		(void)session_each_value(s, &c, check_value, &c);
	}
	session_free(s);
	return 0;
}
