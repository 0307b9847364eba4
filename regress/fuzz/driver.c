/*
 * A harness without libFuzzer: each file named on the command line is
 * read and given to LLVMFuzzerTestOneInput() once, in a buffer of
 * exactly its size so that AddressSanitizer sees a read past the end.
 * "make check" builds the harnesses with it to replay their seeds and
 * every crash found so far (fuzz/t_seeds.sh); "make fuzz" defines
 * PM_LIBFUZZER and libFuzzer's main() takes its place.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef PM_LIBFUZZER

static unsigned char *
driver_read(const char *path, size_t *lenp)
{
	unsigned char	*buf = NULL, *nb;
	size_t		 len = 0, size = 0, n;
	FILE		*fp;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (len == size) {
			size = size ? size * 2 : 65536;
			if ((nb = realloc(buf, size)) == NULL)
				goto fail;
			buf = nb;
		}
		if ((n = fread(buf + len, 1, size - len, fp)) == 0)
			break;
		len += n;
	}
	if (ferror(fp))
		goto fail;
	fclose(fp);
	/* Exactly len bytes: one byte too many hides an overread. */
	if ((nb = malloc(len > 0 ? len : 1)) == NULL) {
		free(buf);
		return NULL;
	}
	memcpy(nb, buf, len);
	free(buf);
	*lenp = len;
	return nb;
 fail:
	free(buf);
	fclose(fp);
	return NULL;
}

int
main(int argc, char *argv[])
{
	unsigned char	*buf;
	size_t		 len;
	int		 i;

	(void)LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if ((buf = driver_read(argv[i], &len)) == NULL) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		(void)LLVMFuzzerTestOneInput(buf, len);
		free(buf);
	}
	return 0;
}

#endif /* !PM_LIBFUZZER */
