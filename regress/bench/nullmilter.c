/*
 * nullmilter: the floor of what the milter protocol costs, for make
 * bench.  A libmilter filter that registers every callback, so that the
 * MTA (here phishmilter-client) sends every step and waits for every
 * reply, and decides nothing: each callback continues, the end of the
 * message accepts.  libmilter serves each connection in a thread of its
 * own.  Built by "make bench" only, never installed.
 *
 *	nullmilter inet:PORT@127.0.0.1 | unix:/path
 *
 * SIGTERM, SIGINT and SIGHUP stop it (libmilter's signal thread).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>

#define NULL_BACKLOG	256	/* listen(2) backlog, above bench.sh's -c */
#define NULL_TIMEOUT	30	/* seconds, as Postfix waits for a reply */

static sfsistat
null_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_helo(SMFICTX *ctx, char *helo)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_envfrom(SMFICTX *ctx, char **argv)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_envrcpt(SMFICTX *ctx, char **argv)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_data(SMFICTX *ctx)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_unknown(SMFICTX *ctx, const char *cmd)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_header(SMFICTX *ctx, char *name, char *value)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_eoh(SMFICTX *ctx)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_eom(SMFICTX *ctx)
{
	return (SMFIS_ACCEPT);
}

static sfsistat
null_abort(SMFICTX *ctx)
{
	return (SMFIS_CONTINUE);
}

static sfsistat
null_close(SMFICTX *ctx)
{
	return (SMFIS_CONTINUE);
}

/*
 * Asks for every step and for a reply to each: no SMFIP_NO* and no
 * SMFIP_NR_* flags, which is what a filter that needs to see everything
 * costs the MTA.  No modification actions.
 */
static sfsistat
null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	*pf0 = 0;
	*pf1 = 0;
	*pf2 = 0;
	*pf3 = 0;
	return (SMFIS_CONTINUE);
}

static char null_name[] = "nullmilter";	/* xxfi_name is not const */

static struct smfiDesc null_desc = {
	.xxfi_name = null_name,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_connect = null_connect,
	.xxfi_helo = null_helo,
	.xxfi_envfrom = null_envfrom,
	.xxfi_envrcpt = null_envrcpt,
	.xxfi_header = null_header,
	.xxfi_eoh = null_eoh,
	.xxfi_body = null_body,
	.xxfi_eom = null_eom,
	.xxfi_abort = null_abort,
	.xxfi_close = null_close,
	.xxfi_unknown = null_unknown,
	.xxfi_data = null_data,
	.xxfi_negotiate = null_negotiate,
};

int
main(int argc, char *argv[])
{
	if (argc != 2 || argv[1][0] == '\0') {
		fprintf(stderr, "usage: nullmilter socket\n");
		return (1);
	}
	if (smfi_setconn(argv[1]) == MI_FAILURE ||
	    smfi_setbacklog(NULL_BACKLOG) == MI_FAILURE ||
	    smfi_settimeout(NULL_TIMEOUT) == MI_FAILURE ||
	    smfi_register(null_desc) == MI_FAILURE) {
		fprintf(stderr, "nullmilter: cannot set up %s\n", argv[1]);
		return (1);
	}
	/* Fails here, not in smfi_main(), when the port is taken. */
	if (smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "nullmilter: cannot listen on %s\n", argv[1]);
		return (1);
	}
	return (smfi_main() == MI_SUCCESS ? 0 : 1);
}
