/*
 * A minimal TAP producer for the unit testers: plan, ok(), and a
 * summary exit status automake's tap-driver reads.
 */

#ifndef TAP_H
#define TAP_H

#include <stdio.h>

static int	tap_n, tap_failed;

#define ok(cond, ...) do {						\
	int tap_c = (cond) ? 1 : 0;					\
	tap_n++;							\
	if (!tap_c)							\
		tap_failed++;						\
	printf("%sok %d - ", tap_c ? "" : "not ", tap_n);		\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	if (!tap_c)							\
		printf("#   failed at %s:%d\n", __FILE__, __LINE__);	\
	fflush(stdout);							\
} while (0)

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* TAP_H */
