/*
 * Fuzzes the reporter's reader (reporter.c, report.c, spool.c): what it
 * takes from the report pipe, written by workers but read as untrusted,
 * and what it finds in its spool after a restart.  The first byte picks
 * the road: even, the rest is a stream of pipe bytes (records of 2048
 * bytes, any garbage between them) taken into an empty spool; odd, the
 * rest is one spool file, loaded as a restarted reporter loads it.
 * Either way every report that ends in the spool must be one the
 * reporter can send: a known kind, an object of the stated length, and
 * for an address report a canonical address.
 *
 * libFuzzer: -max_len=16384
 */

#include "phishmilter.h"
#include "reporter.h"

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static struct config	*cf;
static char		 spooldir[1024];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	text[2048];

	fuzz_log_init();
	fuzz_path(spooldir, sizeof(spooldir), "spool");
	if (mkdir(spooldir, 0700) == -1 && access(spooldir, W_OK) == -1)
		fuzz_fatal("mkdir %s", spooldir);
	snprintf(text, sizeof(text), "spamhaus {\n"
	    "\tspool = \"%s\"\n\tspool_size = 8K\n"
	    "\tsafe_address = { \"198.51.100.0/24\" }\n}\n", spooldir);
	if ((cf = fuzz_config(text)) == NULL)
		fuzz_fatal("the harness's configuration does not load");
	return 0;
}

/* Empties the spool directory: each input starts from nothing. */
static void
fuzz_spool_clear(void)
{
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(spooldir)) == NULL)
		fuzz_fatal("opendir %s", spooldir);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			(void)unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

static void
fuzz_check_entry(const struct spool_entry *se)
{
	char	addr[64];
	int	family;

	if (se->se_kind < REPORT_IP || se->se_kind > REPORT_EMAIL)
		fuzz_fatal("spool entry of kind %d", se->se_kind);
	if (se->se_object == NULL || se->se_action < 0 ||
	    se->se_action >= ACTION_MAX)
		fuzz_fatal("spool entry without object or with a bad action");
	if (memchr(se->se_filter, '\0', sizeof(se->se_filter)) == NULL ||
	    memchr(se->se_addr, '\0', sizeof(se->se_addr)) == NULL)
		fuzz_fatal("spool entry with an unterminated string");
	if (se->se_kind == REPORT_IP && (strlen(se->se_object) != se->se_len ||
	    report_addr_normalize(se->se_object, addr, sizeof(addr),
	    &family) == -1))
		fuzz_fatal("address report of a non-address");
}

static void
fuzz_check_spool(struct spool *sp)
{
	size_t	i, size = 0;

	for (i = sp->sp_head; i < sp->sp_n; i++) {
		fuzz_check_entry(&sp->sp_q[i]);
		size += sp->sp_q[i].se_size;
	}
	if (size != sp->sp_size || sp->sp_size > sp->sp_max)
		fuzz_fatal("spool accounting: %zu counted, %zu kept, bound %zu",
		    size, sp->sp_size, sp->sp_max);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reporter	*r;
	char		 path[1100];
	int		 fd;

	if (size == 0)
		return 0;
	fuzz_spool_clear();
	if (data[0] & 1) {
		snprintf(path, sizeof(path), "%s/%016x.%08x", spooldir, 1, 1);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) ==
		    -1 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
			fuzz_fatal("write %s", path);
		close(fd);
	}
	if ((r = reporter_intake_new(cf)) == NULL)
		fuzz_fatal("reporter_intake_new");
	if (!(data[0] & 1))
		reporter_intake(r, data + 1, size - 1);
	fuzz_check_spool(reporter_intake_spool(r));
	reporter_intake_free(r);
	return 0;
}
