/* strtonum: bounded decimal conversion with a reason on failure. */

#include "compat.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

long long
strtonum(const char *s, long long min, long long max, const char **errstr)
{
	long long	 v;
	char		*end;

	*errstr = NULL;
	if (min > max) {
		errno = EINVAL;
		*errstr = "invalid";
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (s == end || *end != '\0') {
		errno = EINVAL;
		*errstr = "invalid";
		return 0;
	}
	if ((v == LLONG_MIN && errno == ERANGE) || v < min) {
		errno = ERANGE;
		*errstr = "too small";
		return 0;
	}
	if ((v == LLONG_MAX && errno == ERANGE) || v > max) {
		errno = ERANGE;
		*errstr = "too large";
		return 0;
	}
	return v;
}
