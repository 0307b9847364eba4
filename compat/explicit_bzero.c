/*
 * explicit_bzero(3) for systems without it: a memset the compiler may
 * not remove, through a volatile function pointer.
 */

#include "compat.h"

#include <string.h>

static void *(*const volatile memset_v)(void *, int, size_t) = memset;

void
explicit_bzero(void *p, size_t n)
{
	(void)memset_v(p, 0, n);
}
