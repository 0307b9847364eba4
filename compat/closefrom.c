/*
 * closefrom(3) for systems without it: closes every descriptor from
 * lowfd up to the highest one the descriptor limit allows.
 */

#include "compat.h"

#include <limits.h>
#include <unistd.h>

void
closefrom(int lowfd)
{
	long	max, fd;

	if ((max = sysconf(_SC_OPEN_MAX)) == -1 || max > INT_MAX)
		max = INT_MAX;
	for (fd = lowfd < 0 ? 0 : lowfd; fd < max; fd++)
		(void)close((int)fd);
}
