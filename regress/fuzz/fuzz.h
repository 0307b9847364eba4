/*
 * What the fuzz harnesses share (common.c): a private temporary
 * directory, a configuration loaded from a text (as a worker starts,
 * for the harnesses that decode mail), quiet logging.  Each harness
 * defines the two libFuzzer entry points; driver.c calls them without
 * libFuzzer.
 */

#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct config;

/* The harness. */
int		 LLVMFuzzerInitialize(int *, char ***);
int		 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* common.c */
void		 fuzz_fatal(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
void		 fuzz_log_init(void);
const char	*fuzz_dir(void);
void		 fuzz_path(char *, size_t, const char *);
void		 fuzz_write(const char *, const void *, size_t);
struct config	*fuzz_config(const char *);
struct config	*fuzz_worker_config(const char *);

#endif /* FUZZ_H */
