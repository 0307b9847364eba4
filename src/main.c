/*
 * phishmilter: parse the command line and dispatch.  -n checks a
 * configuration the way a worker would load it, -t runs messages through
 * the filters offline (offline.c); everything else runs the daemon
 * (parent.c).
 */

#include "phishmilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

static void __attribute__((__noreturn__))
usage(void)
{
	fprintf(stderr,
	    "usage: phishmilter [-dnv] [-f file] [-t message ...]\n");
	exit(1);
}

/* Loads and compiles everything, as a worker would; 0 when good. */
static int
check_config(const char *file, int verbose)
{
	struct config	*cf;
	struct ruleset	 rs;

	log_init(1, verbose ? LOG_DEBUG : LOG_INFO, NULL);
	if ((cf = config_load(file)) == NULL)
		return 1;
	if (rules_compile(&rs, cf) == -1) {
		config_free(cf);
		return 1;
	}
	if (privsep_lookup(cf) == -1)
		log_warnx("warning: the daemon will not start until user "
		    "\"%s\" exists", cf->cf_user);
	if (verbose)
		fprintf(stderr, "%s: %zu filters\n", file, cf->cf_nfilters);
	fprintf(stderr, "configuration OK\n");
	rules_free(&rs);
	config_free(cf);
	return 0;
}

int
main(int argc, char *argv[])
{
	const char	*file = PHISHMILTER_CONF;
	int		 ch, foreground = 0, check = 0, verbose = 0, test = 0;

	while ((ch = getopt(argc, argv, "df:ntv")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (test) {
		if (optind == argc || check || foreground)
			usage();
		return offline_main(file, argv + optind, argc - optind,
		    verbose);
	}
	if (optind != argc)
		usage();
	if (check)
		return check_config(file, verbose);
	/*
	 * Descriptors inherited from whatever started the daemon (a
	 * shell's, make's jobserver pipes) would live on in every worker:
	 * only the standard three and the sockets systemd passes stay.
	 */
	closefrom(STDERR_FILENO + 1 + listen_inherited());
	return parent_main(file, foreground, verbose);
}
