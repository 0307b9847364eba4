/*
 * Prototypes of the openbsd-compat style replacements in compat/, used
 * only where the system lacks the function (configure decides).
 */

#ifndef COMPAT_H
#define COMPAT_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>

#ifndef HAVE_STRLCPY
size_t		 strlcpy(char *, const char *, size_t);
#endif
#ifndef HAVE_STRLCAT
size_t		 strlcat(char *, const char *, size_t);
#endif
#ifndef HAVE_STRTONUM
long long	 strtonum(const char *, long long, long long, const char **);
#endif
#ifndef HAVE_EXPLICIT_BZERO
void		 explicit_bzero(void *, size_t);
#endif
#ifndef HAVE_REALLOCARRAY
void		*reallocarray(void *, size_t, size_t);
#endif
#ifndef HAVE_CLOSEFROM
void		 closefrom(int);
#endif

#endif /* COMPAT_H */
