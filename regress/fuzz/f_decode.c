/*
 * Fuzzes the decoding pipeline: the input is one message file.  It is
 * fed to a session by offline.c's offline_feed, as -t feeds a file
 * (headers one by one, folded lines joined by LF, then the body with
 * CRLF line ends), and every decoded target is asked for, as is and
 * with whitespace stripped, so that decode.c runs the MIME walk (mime.c,
 * libetpan), the charsets (charset.c), HTML (html.c), URLs (url.c) and
 * normalisation (text.c) on every message, whatever its headers.  Each
 * value must be valid UTF-8 (text.c repairs what is not).
 *
 * libFuzzer: -max_len=65536 -dict=decode.dict
 */

#include "phishmilter.h"
#include "session.h"

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
	cf = fuzz_worker_config(fuzz_conf);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct session	*s;
	struct cond	 c;
	char		*copy;
	int		 t;

	if ((s = session_new(cf, &rs, -1)) == NULL)
		fuzz_fatal("session_new failed");
	session_offline(s);
	/* offline_feed may change its buffer: the input is read-only. */
	if ((copy = malloc(len + 1)) == NULL)
		fuzz_fatal("out of memory");
	memcpy(copy, data, len);
	offline_feed(s, copy, len);
	memset(&c, 0, sizeof(c));
	for (t = TARGET_DECODED_FIRST; t < TARGET_MAX; t++) {
		c.c_target = (enum target)t;
		c.c_strip = 0;
		(void)session_each_value(s, &c, check_value, &c);
		c.c_strip = 1;
		(void)session_each_value(s, &c, check_value, &c);
	}
	session_free(s);
	free(copy);
	return 0;
}
