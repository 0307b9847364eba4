/* strlcpy: copy with truncation, always NUL-terminated when size > 0. */

#include "compat.h"

#include <string.h>

size_t
strlcpy(char *dst, const char *src, size_t size)
{
	size_t	len = strlen(src);

	if (size > 0) {
		size_t	n = len >= size ? size - 1 : len;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
