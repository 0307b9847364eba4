/*
 * The configuration file: libconfuse parses it, the callbacks here check
 * every value where it is read, so that each error names its file and
 * line, and config_load() copies the result into a struct config that
 * owns all its memory.  Only the parent calls this, at start and on
 * SIGHUP; libconfuse's lexer is global, so loads never overlap.
 *
 * Two libconfuse 3.3 defects are worked around by handing it each file
 * with its comments already blanked out: a comment inside a list is a
 * syntax error there, and each comment adds to the line count, which
 * makes all later line numbers wrong.  include() is ours as well: it
 * globs, and it parses each file completely before the next one, so
 * filters keep the order of the sorted file names.
 */

#include "phishmilter.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <confuse.h>

#define CONF_MAXDEPTH	16			/* include nesting */
#define CONF_MAXFILE	(64 * 1024 * 1024)	/* bytes in one file */
#define CONF_MAXREPLY	450			/* an SMTP line holds 512 */

#if LONG_MAX >= 4294967295
#define CONF_U32MAX	4294967295LL
#else
#define CONF_U32MAX	((long long)LONG_MAX)
#endif

/* What a load needs between libconfuse callbacks, which take no cookie. */
struct conf_state {
	cfg_t		*cs_root;
	int		 cs_depth;	/* files being included */
	cfg_t		*cs_sec;	/* filter section being read */
	int		 cs_sec_line;	/* line of its opening brace */
	struct filter	*cs_filters;	/* checked filters, in file order */
	size_t		 cs_nfilters;
	size_t		 cs_maxfilters;
	int		 cs_mode;	/* of the file being included, or unset */
};

static struct conf_state	*conf_cur;

/* Bounds of the numeric options; all are decimal. */
static const struct {
	const char	*cr_name;
	long long	 cr_min;
	long long	 cr_max;
} conf_ranges[] = {
	{ "min_spare",		1,	1024 },
	{ "max_spare",		1,	4096 },
	{ "max_workers",	1,	4096 },
	{ "max_requests",	1,	1000000000 },
	{ "timeout",		1,	3600 },
	{ "message_timeout",	1,	3600 },
	{ "shutdown_timeout",	0,	3600 },
	{ "match_limit",	1,	CONF_U32MAX },
	{ "depth_limit",	1,	CONF_U32MAX },
	{ "max_mime_depth",	1,	1000 },
	{ "max_mime_parts",	1,	100000 },
	{ "max_headers",	1,	100000 },
	{ "ttl",		0,	31536000 },	/* spamhaus */
	{ "rate",		1,	100000 },
	{ "connect_timeout",	1,	300 },
	{ "request_timeout",	1,	3600 },
	{ "retry_min",		1,	86400 },
	{ "retry_max",		1,	86400 },
	{ "max_urls",		0,	100 },
};

#define ACTIONS_ALL	((1U << ACTION_MAX) - 1)
#define ACTION_BIT(a)	(1U << (a))

/* The verdicts each action option may name. */
static const struct {
	const char	*ca_name;
	unsigned int	 ca_allowed;
	const char	*ca_list;
} conf_actions[] = {
	{ "action", ACTIONS_ALL,
	    "accept, warn, reject, tempfail, discard or quarantine" },
	{ "oversize_action", ACTION_BIT(ACTION_ACCEPT) |
	    ACTION_BIT(ACTION_TEMPFAIL) | ACTION_BIT(ACTION_REJECT),
	    "accept, tempfail or reject" },
	{ "error_action", ACTION_BIT(ACTION_TEMPFAIL) |
	    ACTION_BIT(ACTION_ACCEPT), "tempfail or accept" },
};

static const struct {
	const char	*cl_name;
	int		 cl_level;
} conf_levels[] = {
	{ "err",	LOG_ERR },
	{ "warning",	LOG_WARNING },
	{ "notice",	LOG_NOTICE },
	{ "info",	LOG_INFO },
	{ "debug",	LOG_DEBUG },
};

static const char *const target_names[TARGET_MAX] = {
	[TARGET_HEADER] = "header_",
	[TARGET_ENVELOPE_FROM] = "envelope_from",
	[TARGET_ENVELOPE_RCPT] = "envelope_rcpt",
	[TARGET_REMOTE_IP] = "remote_ip",
	[TARGET_REMOTE_HOST] = "remote_host",
	[TARGET_HELO] = "helo",
	[TARGET_MACRO] = "macro_",
	[TARGET_DECODE_FROM] = "decode_from",
	[TARGET_DECODE_TO] = "decode_to",
	[TARGET_DECODE_CC] = "decode_cc",
	[TARGET_DECODE_REPLY_TO] = "decode_reply_to",
	[TARGET_DECODE_SUBJECT] = "decode_subject",
	[TARGET_DECODE_TEXT] = "decode_text",
	[TARGET_DECODE_HTML] = "decode_html",
	[TARGET_URL] = "url",
	[TARGET_URL_HOST] = "url_host",
	[TARGET_ATTACHMENT_NAME] = "attachment_name",
	[TARGET_ATTACHMENT_TYPE] = "attachment_type",
};

static void	conf_verror(cfg_t *, const char *, va_list)
		    __attribute__((__format__(printf, 2, 0)));
static void	conf_error(cfg_t *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	conf_errorx(const char *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static int	conf_parse_number(cfg_t *, cfg_opt_t *, const char *, void *);
static int	conf_parse_size(cfg_t *, cfg_opt_t *, const char *, void *);
static int	conf_parse_mode(cfg_t *, cfg_opt_t *, const char *, void *);
static int	conf_parse_level(cfg_t *, cfg_opt_t *, const char *, void *);
static int	conf_parse_action(cfg_t *, cfg_opt_t *, const char *, void *);
static int	conf_parse_whitespace(cfg_t *, cfg_opt_t *, const char *,
		    void *);
static int	conf_parse_modename(cfg_t *, cfg_opt_t *, const char *,
		    void *);
static int	conf_include(cfg_t *, cfg_opt_t *, int, const char **);

/* libconfuse wants writable strings for the defaults it parses. */
static char	def_listen[] = "{\"inet:127.0.0.1:8898\"}";
static char	def_skip[] = "{\"127.0.0.0/8\", \"::1/128\"}";

static cfg_opt_t filter_opts[] = {
	CFG_STR_LIST("match", NULL, CFGF_NONE),
	CFG_STR_LIST("any", NULL, CFGF_NONE),
	CFG_INT_CB("action", 0, CFGF_NODEFAULT, conf_parse_action),
	CFG_STR("reply", NULL, CFGF_NODEFAULT),
	CFG_BOOL("report", cfg_false, CFGF_NODEFAULT),
	CFG_STR("subject_prefix", NULL, CFGF_NODEFAULT),
	CFG_INT_CB("whitespace", 0, CFGF_NONE, conf_parse_whitespace),
	CFG_INT_CB("mode", MODE_ENFORCE, CFGF_NODEFAULT, conf_parse_modename),
	CFG_END()
};

static cfg_opt_t spamhaus_opts[] = {
	CFG_BOOL("report", cfg_false, CFGF_NONE),
	CFG_STR("token_file", PHISHMILTER_TOKEN, CFGF_NONE),
	CFG_STR("url",
	    "https://submit.spamhaus.org/portal/api/v1/submissions/add/ip",
	    CFGF_NONE),
	CFG_STR_LIST("safe_address", NULL, CFGF_NONE),
	CFG_STR("threat_type", "source-of-spam", CFGF_NONE),
	CFG_STR("reason", "phishing mail matched filter %f", CFGF_NONE),
	CFG_STR("spool", PHISHMILTER_SPOOL, CFGF_NONE),
	CFG_INT_CB("spool_size", 10 * 1024 * 1024, CFGF_NONE,
	    conf_parse_size),
	CFG_BOOL("report_private", cfg_false, CFGF_NONE),
	CFG_INT_CB("ttl", 86400, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("rate", 60, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("connect_timeout", 10, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("request_timeout", 30, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("retry_min", 10, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("retry_max", 3600, CFGF_NONE, conf_parse_number),
	CFG_BOOL("report_urls", cfg_false, CFGF_NONE),
	CFG_STR("url_endpoint",
	    "https://submit.spamhaus.org/portal/api/v1/submissions/add/url",
	    CFGF_NONE),
	CFG_STR("url_threat_type", "phish", CFGF_NONE),
	CFG_INT_CB("max_urls", 5, CFGF_NONE, conf_parse_number),
	CFG_BOOL("report_email", cfg_false, CFGF_NONE),
	CFG_STR("email_endpoint",
	    "https://submit.spamhaus.org/portal/api/v1/submissions/add/email",
	    CFGF_NONE),
	CFG_STR("email_threat_type", "phish", CFGF_NONE),
	CFG_INT_CB("max_email_size", 256 * 1024, CFGF_NONE, conf_parse_size),
	CFG_END()
};

/* official FILTER { domains = { ... } }: a site's own brand domains. */
static cfg_opt_t official_opts[] = {
	CFG_STR_LIST("domains", NULL, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t conf_opts[] = {
	CFG_STR_LIST("listen", def_listen, CFGF_NONE),
	CFG_STR("user", PHISHMILTER_USER, CFGF_NONE),
	CFG_STR("chroot", PHISHMILTER_CHROOT, CFGF_NONE),
	CFG_STR("pidfile", PHISHMILTER_PIDFILE, CFGF_NONE),
	CFG_STR("socket_owner", NULL, CFGF_NONE),
	CFG_STR("socket_group", NULL, CFGF_NONE),
	CFG_INT_CB("socket_mode", 0660, CFGF_NONE, conf_parse_mode),
	CFG_INT_CB("min_spare", 2, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("max_spare", 8, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("max_workers", 64, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("max_requests", 1000, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("timeout", 30, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("message_timeout", 20, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("shutdown_timeout", 30, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("max_message_size", 10 * 1024 * 1024, CFGF_NONE,
	    conf_parse_size),
	CFG_INT_CB("oversize_action", ACTION_ACCEPT, CFGF_NONE,
	    conf_parse_action),
	CFG_INT_CB("error_action", ACTION_TEMPFAIL, CFGF_NONE,
	    conf_parse_action),
	CFG_STR_LIST("skip_networks", def_skip, CFGF_NONE),
	CFG_STR_LIST("skip_senders", NULL, CFGF_NONE),
	CFG_BOOL("skip_authenticated", cfg_true, CFGF_NONE),
	CFG_INT_CB("log_level", LOG_INFO, CFGF_NONE, conf_parse_level),
	CFG_STR("log_file", NULL, CFGF_NONE),
	CFG_STR("log_facility", "mail", CFGF_NONE),
	CFG_STR("warn_header", "X-Phishing-Warning", CFGF_NONE),
	CFG_STR("subject_prefix", "", CFGF_NONE),
	CFG_INT_CB("mode", MODE_ENFORCE, CFGF_NONE, conf_parse_modename),
	CFG_INT_CB("match_limit", 1000000, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("depth_limit", 10000, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("max_mime_depth", 32, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("max_mime_parts", 1000, CFGF_NONE, conf_parse_number),
	CFG_INT_CB("max_headers", 1000, CFGF_NONE, conf_parse_number),
	CFG_SEC("spamhaus", spamhaus_opts, CFGF_NONE),
	CFG_SEC("filter", filter_opts,
	    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("official", official_opts,
	    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_FUNC("include", conf_include),
	CFG_END()
};

/*
 * Error reporting.  libconfuse's own messages and ours take the same
 * road: "file:line: [section: ]message", logged with log_warnx().
 */

static const char *
conf_filename(cfg_t *cfg)
{
	/* Sections made at cfg_init() time, like spamhaus, have no name. */
	if (cfg != NULL && cfg->filename != NULL)
		return cfg->filename;
	if (conf_cur != NULL && conf_cur->cs_root->filename != NULL)
		return conf_cur->cs_root->filename;
	return "(configuration)";
}

static void
conf_errorx(const char *file, int line, const char *fmt, ...)
{
	char	msg[2048];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		log_warnx("%s:%d: %s", file, line, msg);
	else
		log_warnx("%s: %s", file, msg);
}

static const struct filter *
conf_filter_find(const char *name)
{
	size_t	i;

	for (i = 0; conf_cur != NULL && i < conf_cur->cs_nfilters; i++)
		if (strcmp(conf_cur->cs_filters[i].f_name, name) == 0)
			return &conf_cur->cs_filters[i];
	return NULL;
}

/*
 * libconfuse says "found duplicate title 'x'" for a second filter x;
 * say which filter and where the first one is.
 */
static int
conf_duplicate(cfg_t *cfg, const char *fmt, va_list ap)
{
	const struct filter	*f;
	const char		*title;
	va_list			 ap2;

	if (strcmp(fmt, "found duplicate title '%s'") != 0)
		return 0;
	va_copy(ap2, ap);
	title = va_arg(ap2, const char *);
	va_end(ap2);
	if ((f = conf_filter_find(title)) == NULL)
		return 0;
	conf_errorx(conf_filename(cfg), cfg->line,
	    "duplicate filter name '%s' (first defined at %s:%d)", title,
	    f->f_file, f->f_line);
	return 1;
}

/* The error function of libconfuse, and ours through conf_error(). */
static void
conf_verror(cfg_t *cfg, const char *fmt, va_list ap)
{
	char	 msg[2048];
	char	 where[256] = "";

	if (conf_duplicate(cfg, fmt, ap))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cfg->name != NULL && strcmp(cfg->name, "root") != 0) {
		if (cfg->title != NULL)
			snprintf(where, sizeof(where), "%s %s: ", cfg->name,
			    cfg->title);
		else
			snprintf(where, sizeof(where), "%s: ", cfg->name);
	}
	conf_errorx(conf_filename(cfg), cfg->line, "%s%s", where, msg);
}

static void
conf_error(cfg_t *cfg, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	conf_verror(cfg, fmt, ap);
	va_end(ap);
}

/*
 * Value parsers: libconfuse hands over the text as written, quoted or
 * not, and takes a long.
 */

static int
conf_parse_number(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	const char	*name = cfg_opt_name(opt), *errstr;
	long long	 n;
	size_t		 i;

	for (i = 0; i < sizeof(conf_ranges) / sizeof(conf_ranges[0]); i++)
		if (strcmp(conf_ranges[i].cr_name, name) == 0)
			break;
	if (i == sizeof(conf_ranges) / sizeof(conf_ranges[0])) {
		conf_error(cfg, "%s: no range defined", name);
		return -1;
	}
	n = strtonum(value, conf_ranges[i].cr_min, conf_ranges[i].cr_max,
	    &errstr);
	if (errstr != NULL) {
		conf_error(cfg, "%s: \"%s\" is %s (want %lld to %lld)", name,
		    value, errstr, conf_ranges[i].cr_min,
		    conf_ranges[i].cr_max);
		return -1;
	}
	*(long *)result = (long)n;
	return 0;
}

/* "10M": a byte count with an optional K, M or G (powers of 1024). */
static int
conf_parse_size(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	char		 num[32];
	const char	*errstr;
	long long	 mult = 1, n;
	size_t		 len = strlen(value);

	if (len > 0) {
		switch (value[len - 1]) {
		case 'k': case 'K':
			mult = 1024;
			break;
		case 'm': case 'M':
			mult = 1024 * 1024;
			break;
		case 'g': case 'G':
			mult = 1024 * 1024 * 1024;
			break;
		}
	}
	if (mult != 1)
		len--;
	errstr = "invalid";
	n = 0;
	if (len > 0 && len < sizeof(num)) {
		memcpy(num, value, len);
		num[len] = '\0';
		n = strtonum(num, mult == 1 ? 1024 : 1,
		    1024LL * 1024 * 1024 / mult, &errstr);
	}
	if (errstr != NULL) {
		conf_error(cfg, "%s: \"%s\" is not a size from 1K to 1G",
		    cfg_opt_name(opt), value);
		return -1;
	}
	*(long *)result = (long)(n * mult);
	return 0;
}

/* An octal file mode, as chmod(1) takes it: "0660". */
static int
conf_parse_mode(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	size_t	len = strlen(value);
	long	mode;

	if (len == 0 || len > 4 || strspn(value, "01234567") != len ||
	    (mode = strtol(value, NULL, 8)) > 0777) {
		conf_error(cfg, "%s: \"%s\" is not an octal mode from 0 to "
		    "0777", cfg_opt_name(opt), value);
		return -1;
	}
	*(long *)result = mode;
	return 0;
}

static int
conf_parse_level(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	size_t	i;

	for (i = 0; i < sizeof(conf_levels) / sizeof(conf_levels[0]); i++)
		if (strcmp(conf_levels[i].cl_name, value) == 0) {
			*(long *)result = conf_levels[i].cl_level;
			return 0;
		}
	conf_error(cfg, "%s: \"%s\" is not err, warning, notice, info or "
	    "debug", cfg_opt_name(opt), value);
	return -1;
}

/* mode = enforce, warn or log. */
static int
conf_parse_modename(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	enum mode	m;

	if (mode_parse(value, &m) == -1) {
		conf_error(cfg, "mode: \"%s\" is not enforce, warn or log",
		    value);
		return -1;
	}
	*(long *)result = (long)m;
	return 0;
}

/* whitespace = collapse (1 space per run, the default) or strip (none). */
static int
conf_parse_whitespace(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	if (strcmp(value, "collapse") == 0)
		*(long *)result = 0;
	else if (strcmp(value, "strip") == 0)
		*(long *)result = 1;
	else {
		conf_error(cfg, "whitespace: \"%s\" is not collapse or strip",
		    value);
		return -1;
	}
	return 0;
}

static int
conf_parse_action(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	const char	*name = cfg_opt_name(opt);
	enum action	 a;
	size_t		 i;

	for (i = 0; i < sizeof(conf_actions) / sizeof(conf_actions[0]); i++)
		if (strcmp(conf_actions[i].ca_name, name) == 0)
			break;
	if (i == sizeof(conf_actions) / sizeof(conf_actions[0])) {
		conf_error(cfg, "%s: no actions defined", name);
		return -1;
	}
	if (action_parse(value, &a) != 0 ||
	    (conf_actions[i].ca_allowed & ACTION_BIT(a)) == 0) {
		conf_error(cfg, "%s: \"%s\" is not %s", name, value,
		    conf_actions[i].ca_list);
		return -1;
	}
	*(long *)result = (long)a;
	return 0;
}

/*
 * Validators, called by libconfuse right after a value is stored (for a
 * list: after each element, and again at the closing brace), so that
 * cfg->line is the line of the value.
 */

/* The value just stored: the last one of a list. */
static const char *
conf_last(cfg_opt_t *opt)
{
	unsigned int	n = cfg_opt_size(opt);

	return n == 0 ? NULL : cfg_opt_getnstr(opt, n - 1);
}

static int
conf_has_crlf(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

static int
conf_check_text(cfg_t *cfg, cfg_opt_t *opt)
{
	if (conf_has_crlf(conf_last(opt))) {
		conf_error(cfg, "%s: must not contain CR or LF",
		    cfg_opt_name(opt));
		return -1;
	}
	return 0;
}

static int
conf_check_nonempty(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = conf_last(opt);

	if (s == NULL || *s == '\0') {
		conf_error(cfg, "%s: must not be empty", cfg_opt_name(opt));
		return -1;
	}
	return conf_check_text(cfg, opt);
}

static int
conf_check_chroot(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = conf_last(opt);

	if (s != NULL && *s != '\0' && *s != '/') {
		conf_error(cfg, "chroot: \"%s\" is not an absolute path", s);
		return -1;
	}
	return 0;
}

/* Only the form; listen.c resolves and binds. */
static int
conf_listen_ok(const char *s)
{
	const char	*rest;

	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
		rest = strchr(s, ':') + 1;
		return rest[0] == '/' && rest[1] != '\0';
	}
	if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0) {
		rest = strchr(s, ':') + 1;
		return *rest != '\0' && strpbrk(rest, ":@") != NULL;
	}
	return 0;
}

static int
conf_check_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = conf_last(opt);

	if (cfg_opt_size(opt) > PM_MAXLISTEN) {
		conf_error(cfg, "listen: more than %d addresses",
		    PM_MAXLISTEN);
		return -1;
	}
	if (s != NULL && !conf_listen_ok(s)) {
		conf_error(cfg, "listen: \"%s\" is not inet:HOST:PORT, "
		    "inet:PORT@HOST, inet6:[ADDR]:PORT, inet6:PORT@ADDR, "
		    "unix:/PATH or local:/PATH", s);
		return -1;
	}
	return 0;
}

static int
conf_check_cidr(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = conf_last(opt);
	struct cidr	 c;

	if (s != NULL && cidr_parse(s, &c) != 0) {
		conf_error(cfg, "%s: \"%s\" is not an address or "
		    "address/prefix", cfg_opt_name(opt), s);
		return -1;
	}
	return 0;
}

static int
conf_check_facility(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = conf_last(opt);

	if (s == NULL || log_facility_code(s) == -1) {
		conf_error(cfg, "log_facility: unknown facility \"%s\"",
		    s == NULL ? "" : s);
		return -1;
	}
	return 0;
}

/* RFC 5322 field name: printable ASCII but the colon. */
static int
conf_field_name_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 ||
		    s[i] == ':')
			return 0;
	return 1;
}

static int
conf_check_header(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = conf_last(opt);

	if (s == NULL || !conf_field_name_ok(s, strlen(s))) {
		conf_error(cfg, "%s: \"%s\" is not a header field name",
		    cfg_opt_name(opt), s == NULL ? "" : s);
		return -1;
	}
	return 0;
}

static int
conf_check_url(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = conf_last(opt);

	if (s == NULL || (strncmp(s, "https://", 8) != 0 &&
	    strncmp(s, "http://", 7) != 0) || strpbrk(s, " \t\"\\") != NULL) {
		conf_error(cfg, "%s: \"%s\" is not an http(s) URL",
		    cfg_opt_name(opt), s == NULL ? "" : s);
		return -1;
	}
	/* Allowed for tests and local relays, but the token goes in clear. */
	if (strncmp(s, "http://", 7) == 0)
		conf_errorx(conf_filename(cfg), cfg->line, "warning: %s: "
		    "\"%s\" is plain http: the API token is sent unencrypted",
		    cfg_opt_name(opt), s);
	return conf_check_text(cfg, opt);
}

static int
conf_check_spool(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = conf_last(opt);

	if (s == NULL || *s != '/') {
		conf_error(cfg, "%s: \"%s\" is not an absolute path",
		    cfg_opt_name(opt), s == NULL ? "" : s);
		return -1;
	}
	return conf_check_text(cfg, opt);
}


/*
 * Targets and conditions.
 */

/* For header_ and macro_ the prefix, which c_name completes. */
const char *
config_target_name(enum target t)
{
	if ((unsigned int)t >= TARGET_MAX)
		return "unknown";
	return target_names[t];
}

/* Macro names as the MTA sends them, case kept: "{auth_authen}", "i". */
static char *
conf_macro_name(const char *s, size_t len)
{
	char	*name;
	size_t	 i;

	if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
		s++;
		len -= 2;
	}
	if (len == 0)
		return NULL;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("_-.", s[i]) == NULL)
			return NULL;
	name = xmalloc(len + 1);
	memcpy(name, s, len);
	name[len] = '\0';
	return name;
}

static char *
conf_header_name(const char *s, size_t len)
{
	char	*name;
	size_t	 i;

	if (!conf_field_name_ok(s, len))
		return NULL;
	name = xmalloc(len + 1);
	for (i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)s[i]);
	name[len] = '\0';
	return name;
}

/*
 * Parses the target part of a condition, s[0..len).  Returns 0 and sets
 * *t (and *name, allocated, for header_<name> and macro_<name>; NULL
 * otherwise), or -1 for an unknown target.
 */
int
config_target_parse(const char *s, size_t len, enum target *t, char **name)
{
	size_t	i;

	*name = NULL;
	if (len > 7 && strncmp(s, "header_", 7) == 0) {
		*t = TARGET_HEADER;
		*name = conf_header_name(s + 7, len - 7);
		return *name == NULL ? -1 : 0;
	}
	if (len > 6 && strncmp(s, "macro_", 6) == 0) {
		*t = TARGET_MACRO;
		*name = conf_macro_name(s + 6, len - 6);
		return *name == NULL ? -1 : 0;
	}
	for (i = 0; i < TARGET_MAX; i++)
		if (i != TARGET_HEADER && i != TARGET_MACRO &&
		    strlen(target_names[i]) == len &&
		    strncmp(target_names[i], s, len) == 0) {
			*t = (enum target)i;
			return 0;
		}
	return -1;
}

/* "TARGET:REGEX" or "TARGET:!REGEX" into c; err says why not. */
static int
conf_cond_parse(const char *s, struct cond *c, char *err, size_t errlen)
{
	const char	*colon, *re;
	int		 rv;

	memset(c, 0, sizeof(*c));
	if ((colon = strchr(s, ':')) == NULL) {
		snprintf(err, errlen, "condition '%s' is not TARGET:REGEX", s);
		return -1;
	}
	rv = config_target_parse(s, colon - s, &c->c_target, &c->c_name);
	if (rv != 0) {
		snprintf(err, errlen, "unknown target %.*s", (int)(colon - s),
		    s);
		return -1;
	}
	re = colon + 1;
	if (*re == '!') {
		c->c_negate = 1;
		re++;
	}
	if (*re == '\0') {
		snprintf(err, errlen, "condition '%s' has an empty regex", s);
		free(c->c_name);
		c->c_name = NULL;
		return -1;
	}
	c->c_pattern = xstrdup(re);
	return 0;
}

static void
conf_cond_clear(struct cond *c)
{
	free(c->c_name);
	free(c->c_pattern);
	memset(c, 0, sizeof(*c));
}

/*
 * A filter's start: every option of a filter calls this, and while its
 * section is read, the root's line is still that of the opening brace.
 */
static int
conf_filter_note(cfg_t *sec, cfg_opt_t *opt)
{
	if (conf_cur != NULL && conf_cur->cs_sec != sec) {
		conf_cur->cs_sec = sec;
		conf_cur->cs_sec_line = conf_cur->cs_root->line;
	}
	return 0;
}

static int
conf_check_cond(cfg_t *sec, cfg_opt_t *opt)
{
	const char	*s = conf_last(opt);
	struct cond	 c;
	char		 err[512];

	conf_filter_note(sec, opt);
	if (s == NULL)
		return 0;
	if (conf_cond_parse(s, &c, err, sizeof(err)) == -1) {
		conf_error(sec, "%s", err);
		return -1;
	}
	if (rules_check_pattern(c.c_pattern, err, sizeof(err)) == -1) {
		conf_error(sec, "bad regex '%s': %s", c.c_pattern, err);
		conf_cond_clear(&c);
		return -1;
	}
	conf_cond_clear(&c);
	return 0;
}

static int
conf_check_filter_text(cfg_t *sec, cfg_opt_t *opt)
{
	conf_filter_note(sec, opt);
	return conf_check_text(sec, opt);
}

/*
 * Whole filters, checked at their closing brace, when the action and
 * every other option are known.
 */

static int
conf_name_ok(const char *s)
{
	return *s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-") == strlen(s);
}

/* "X.Y.Z" of RFC 3463: class digit, 1-3 digits, 1-3 digits. */
static size_t
conf_status_len(const char *s)
{
	size_t	a, b;

	if (!isdigit((unsigned char)s[0]) || s[1] != '.')
		return 0;
	a = strspn(s + 2, "0123456789");
	if (a < 1 || a > 3 || s[2 + a] != '.')
		return 0;
	b = strspn(s + 3 + a, "0123456789");
	if (b < 1 || b > 3)
		return 0;
	return 3 + a + b;
}

/* "CODE[ X.Y.Z][ text]" in class cls ('4' or '5'); NULL when good. */
static const char *
conf_reply_error(const char *r, char cls)
{
	size_t	n;

	if (strlen(r) > CONF_MAXREPLY)
		return "longer than 450 bytes";
	if (strspn(r, "0123456789") != 3 || (r[3] != '\0' && r[3] != ' '))
		return "no three-digit SMTP code first";
	if (r[0] != cls)
		return cls == '5' ? "reject needs a 5xx code" :
		    "tempfail needs a 4xx code";
	if (r[3] == '\0' || !isdigit((unsigned char)r[4]) || r[5] != '.')
		return NULL;
	if ((n = conf_status_len(r + 4)) == 0 ||
	    (r[4 + n] != '\0' && r[4 + n] != ' '))
		return "malformed enhanced status code";
	if (r[4] != cls)
		return cls == '5' ? "a 5xx code needs a 5.x.x status" :
		    "a 4xx code needs a 4.x.x status";
	return NULL;
}

/* MilterAgent's matching: decoded values with every space removed. */
static void
conf_filter_strip(struct filter *f)
{
	size_t	i;

	for (i = 0; i < f->f_nmatch; i++)
		f->f_match[i].c_strip = 1;
	for (i = 0; i < f->f_nany; i++)
		f->f_any[i].c_strip = 1;
}

/* What reply and subject_prefix may say for the action of f. */
static int
conf_filter_texts(const struct filter *f, cfg_t *sec)
{
	const char	*why = NULL, *reply = cfg_getstr(sec, "reply");

	if (reply != NULL) {
		if (f->f_action == ACTION_REJECT)
			why = conf_reply_error(reply, '5');
		else if (f->f_action == ACTION_TEMPFAIL)
			why = conf_reply_error(reply, '4');
		else if (f->f_action != ACTION_QUARANTINE)
			why = "only reject, tempfail and quarantine take one";
	}
	if (why != NULL) {
		conf_errorx(f->f_file, f->f_line, "filter %s: reply \"%s\": %s",
		    f->f_name, reply, why);
		return -1;
	}
	if (cfg_getstr(sec, "subject_prefix") != NULL &&
	    f->f_action != ACTION_WARN) {
		conf_errorx(f->f_file, f->f_line, "filter %s: subject_prefix "
		    "is only for warn", f->f_name);
		return -1;
	}
	return 0;
}

static int
conf_filter_conds(cfg_t *sec, const char *opt, struct cond **cp,
    size_t *np)
{
	char		err[512];
	unsigned int	i, n = cfg_size(sec, opt);

	*cp = n == 0 ? NULL : xcalloc(n, sizeof(**cp));
	*np = 0;
	for (i = 0; i < n; i++) {
		if (conf_cond_parse(cfg_getnstr(sec, opt, i), &(*cp)[i], err,
		    sizeof(err)) == -1) {
			conf_error(sec, "%s", err);
			return -1;
		}
		(*np)++;
	}
	return 0;
}

static void
conf_filter_clear(struct filter *f)
{
	size_t	i;

	for (i = 0; i < f->f_nmatch; i++)
		conf_cond_clear(&f->f_match[i]);
	for (i = 0; i < f->f_nany; i++)
		conf_cond_clear(&f->f_any[i]);
	free(f->f_match);
	free(f->f_any);
	free(f->f_name);
	free(f->f_file);
	free(f->f_reply);
	free(f->f_subject_prefix);
	for (i = 0; i < f->f_nofficial; i++)
		free(f->f_official[i]);
	free(f->f_official);
	memset(f, 0, sizeof(*f));
}

static int
conf_filter_build(cfg_t *sec, struct filter *f)
{
	const char	*s;

	if (!conf_name_ok(f->f_name)) {
		conf_errorx(f->f_file, f->f_line, "filter %s: a name is made "
		    "of letters, digits, '_', '.' and '-'", f->f_name);
		return -1;
	}
	if (cfg_size(sec, "action") == 0) {
		conf_errorx(f->f_file, f->f_line, "filter %s: no action",
		    f->f_name);
		return -1;
	}
	f->f_action = (enum action)cfg_getint(sec, "action");
	if (cfg_size(sec, "match") + cfg_size(sec, "any") == 0) {
		conf_errorx(f->f_file, f->f_line, "filter %s: no condition in "
		    "match or any", f->f_name);
		return -1;
	}
	if (conf_filter_texts(f, sec) == -1 ||
	    conf_filter_conds(sec, "match", &f->f_match, &f->f_nmatch) == -1 ||
	    conf_filter_conds(sec, "any", &f->f_any, &f->f_nany) == -1)
		return -1;
	if ((s = cfg_getstr(sec, "reply")) != NULL)
		f->f_reply = xstrdup(s);
	if ((s = cfg_getstr(sec, "subject_prefix")) != NULL)
		f->f_subject_prefix = xstrdup(s);
	if (cfg_getint(sec, "whitespace") == 1)
		conf_filter_strip(f);
	f->f_mode = cfg_size(sec, "mode") > 0 ? (int)cfg_getint(sec, "mode") :
	    conf_cur->cs_mode;
	if (cfg_size(sec, "report") > 0)
		f->f_report = cfg_getbool(sec, "report") == cfg_true;
	else
		f->f_report = f->f_action == ACTION_REJECT;
	return 0;
}

static void
conf_filter_add(struct conf_state *cs, struct filter *f)
{
	if (cs->cs_nfilters == cs->cs_maxfilters) {
		cs->cs_maxfilters = cs->cs_maxfilters == 0 ? 16 :
		    cs->cs_maxfilters * 2;
		cs->cs_filters = xreallocarray(cs->cs_filters,
		    cs->cs_maxfilters, sizeof(*cs->cs_filters));
	}
	cs->cs_filters[cs->cs_nfilters++] = *f;
}

/*
 * Validator of the filter section, at its closing brace.  Sections are
 * only ever appended (duplicate titles are refused), so the last one is
 * the filter just read.
 */
static int
conf_filter_done(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_state	*cs = conf_cur;
	struct filter		 f;
	cfg_t			*sec;

	if (cs == NULL || cfg_opt_size(opt) == 0)
		return 0;
	sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	memset(&f, 0, sizeof(f));
	f.f_name = xstrdup(cfg_title(sec));
	f.f_file = xstrdup(conf_filename(sec));
	f.f_line = cs->cs_sec == sec ? cs->cs_sec_line : cfg->line;
	cs->cs_sec = NULL;
	if (conf_filter_build(sec, &f) == -1) {
		conf_filter_clear(&f);
		return -1;
	}
	conf_filter_add(cs, &f);
	return 0;
}

/* A sender entry: "user@domain" or "domain", nothing else. */
static int
conf_sender_ok(const char *v)
{
	const char	*at = strchr(v, '@');

	if (*v == '\0' || strpbrk(v, " \t<>,;\"'") != NULL)
		return 0;
	if (at == NULL)
		return strchr(v, '.') != NULL;
	return at != v && strchr(at + 1, '@') == NULL && at[1] != '\0';
}

static int
conf_check_sender(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*v = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);

	if (v != NULL && !conf_sender_ok(v)) {
		conf_error(cfg, "%s: \"%s\" is not an address or a domain",
		    cfg_opt_name(opt), v);
		return -1;
	}
	return 0;
}

/* Adds the domains of an official section to filter f. */
static int
conf_official_add(cfg_t *cfg, cfg_t *sec, struct filter *f)
{
	const char	*d;
	unsigned int	 i, n = cfg_size(sec, "domains");

	for (i = 0; i < n; i++) {
		d = cfg_getnstr(sec, "domains", i);
		if (!conf_sender_ok(d) || strchr(d, '@') != NULL) {
			conf_error(cfg, "official %s: \"%s\" is not a domain",
			    cfg_title(sec), d);
			return -1;
		}
		f->f_official = xreallocarray(f->f_official,
		    f->f_nofficial + 1, sizeof(*f->f_official));
		f->f_official[f->f_nofficial++] = xstrdup(d);
	}
	return 0;
}

/* The filter called name, or one of its family (name_body, name_link). */
static int
conf_official_names(const char *fname, const char *name)
{
	size_t	len = strlen(name);

	return strncmp(fname, name, len) == 0 &&
	    (fname[len] == '\0' || fname[len] == '_');
}

/*
 * Validator of an official section, at its closing brace: a filter of
 * that name must be defined above it; it and the filters named after it
 * (phish_mufg_body for phish_mufg) get the domains, which exempt a
 * sender there.
 */
static int
conf_official_done(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_state	*cs = conf_cur;
	cfg_t			*sec;
	size_t			 i, found = 0;

	if (cs == NULL || cfg_opt_size(opt) == 0)
		return 0;
	sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	for (i = 0; i < cs->cs_nfilters; i++) {
		if (!conf_official_names(cs->cs_filters[i].f_name,
		    cfg_title(sec)))
			continue;
		if (conf_official_add(cfg, sec, &cs->cs_filters[i]) == -1)
			return -1;
		found++;
	}
	if (found == 0) {
		conf_error(cfg, "official %s: no filter of that name above",
		    cfg_title(sec));
		return -1;
	}
	return 0;
}

/* A string list option as a new array of copies. */
static char **
conf_strlist(cfg_t *cfg, const char *name, size_t *np)
{
	unsigned int	 i, n = cfg_size(cfg, name);
	char		**v = xcalloc(n + 1, sizeof(*v));

	for (i = 0; i < n; i++)
		v[i] = xstrdup(cfg_getnstr(cfg, name, i));
	*np = n;
	return v;
}

/*
 * Reading files.  Each one is read whole, its comments are blanked out
 * (keeping every newline, so lines count right), and libconfuse parses
 * it from memory.
 */

enum strip_state { STRIP_CODE, STRIP_DQ, STRIP_SQ, STRIP_LINE, STRIP_BLOCK };

/*
 * Removes the comments libconfuse knows ("#", "//", C-style) outside
 * quoted strings.  In both kinds of string a backslash protects the
 * next character, as libconfuse's lexer has it.  Returns the new
 * length, or 0 with *why and *line set.
 */
static size_t
conf_strip(char *buf, size_t len, const char **why, int *line)
{
	enum strip_state	 st = STRIP_CODE;
	size_t			 i, o = 0;
	int			 ln = 1, start = 0;
	char			 c, next;

	for (i = 0; i < len; i++) {
		c = buf[i];
		next = i + 1 < len ? buf[i + 1] : '\0';
		if (c == '\n')
			ln++;
		switch (st) {
		case STRIP_CODE:
			start = ln;
			if (c == '"' || c == '\'')
				st = c == '"' ? STRIP_DQ : STRIP_SQ;
			else if (c == '#' || (c == '/' && next == '/')) {
				st = STRIP_LINE;
				continue;
			} else if (c == '/' && next == '*') {
				st = STRIP_BLOCK;
				i++;
				continue;
			}
			break;
		case STRIP_DQ:
		case STRIP_SQ:
			if (c == '\\' && i + 1 < len) {
				buf[o++] = c;
				c = buf[++i];
				if (c == '\n')
					ln++;
			} else if (c == (st == STRIP_DQ ? '"' : '\''))
				st = STRIP_CODE;
			break;
		case STRIP_LINE:
			if (c != '\n')
				continue;
			st = STRIP_CODE;
			break;
		case STRIP_BLOCK:
			if (c == '*' && next == '/') {
				/* A comment separates tokens. */
				st = STRIP_CODE;
				i++;
				c = ' ';
			} else if (c != '\n')
				continue;
			break;
		}
		if (c == '\0') {
			*why = "NUL byte in the file";
			*line = ln;
			return 0;
		}
		buf[o++] = c;
	}
	if (st == STRIP_DQ || st == STRIP_SQ || st == STRIP_BLOCK) {
		*why = st == STRIP_BLOCK ? "unterminated comment" :
		    "unterminated string";
		*line = start;
		return 0;
	}
	*why = NULL;
	return o;
}

/* A whole regular file into memory; NULL with *why when not. */
static char *
conf_read(const char *path, size_t *lenp, const char **why)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, cap;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		*why = strerror(errno);
		goto fail;
	}
	*why = !S_ISREG(st.st_mode) ? "not a regular file" :
	    st.st_size > CONF_MAXFILE ? "file too large" : NULL;
	if (*why != NULL)
		goto fail;
	cap = (size_t)st.st_size + 1;
	buf = xmalloc(cap);
	while ((n = read(fd, buf + len, cap - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || (len += (size_t)n) > CONF_MAXFILE) {
			*why = n == -1 ? strerror(errno) : "file too large";
			goto fail;
		}
		if (len == cap)
			buf = xreallocarray(buf, cap *= 2, 1);
	}
	close(fd);
	*lenp = len;
	return buf;
fail:
	if (fd != -1)
		close(fd);
	free(buf);
	return NULL;
}

/* Parses buf, the text of path, into cfg; 0, or -1 once reported. */
static int
conf_parse_buf(cfg_t *cfg, const char *path, char *buf, size_t len)
{
	const char	*why;
	char		*saved_file = cfg->filename;
	int		 saved_line = cfg->line, line, rv;
	FILE		*fp;

	if ((len = conf_strip(buf, len, &why, &line)) == 0) {
		if (why == NULL)
			return 0;
		conf_errorx(path, line, "%s", why);
		return -1;
	}
	if ((fp = fmemopen(buf, len, "r")) == NULL) {
		conf_errorx(path, 0, "fmemopen: %s", strerror(errno));
		return -1;
	}
	cfg->filename = xstrdup(path);
	rv = cfg_parse_fp(cfg, fp);
	fclose(fp);
	free(cfg->filename);
	cfg->filename = saved_file;
	cfg->line = saved_line;
	return rv == CFG_SUCCESS ? 0 : -1;
}

static int
conf_include_file(cfg_t *cfg, const char *path)
{
	const char	*why;
	char		*buf;
	size_t		 len;
	int		 rv;

	if (conf_cur->cs_depth >= CONF_MAXDEPTH) {
		conf_error(cfg, "include %s: nested too deeply (a loop?)",
		    path);
		return -1;
	}
	if ((buf = conf_read(path, &len, &why)) == NULL) {
		conf_error(cfg, "include %s: %s", path, why);
		return -1;
	}
	log_debug("%s: reading %s", conf_filename(cfg), path);
	conf_cur->cs_depth++;
	rv = conf_parse_buf(cfg, path, buf, len);
	conf_cur->cs_depth--;
	free(buf);
	return rv;
}

/*
 * pat as seen from the file from: a relative pattern is taken in the
 * directory of from.  With escape set, that directory's own glob
 * characters are escaped, so that only pat's are wildcards.
 */
static char *
conf_path_join(const char *from, const char *pat, int escape)
{
	const char	*slash;
	char		*path;
	size_t		 i, o = 0, dirlen;

	if (pat[0] == '/' || (slash = strrchr(from, '/')) == NULL)
		return xstrdup(pat);
	dirlen = slash - from;
	path = xmalloc(2 * dirlen + strlen(pat) + 2);
	for (i = 0; i < dirlen; i++) {
		if (escape && strchr("*?[\\", from[i]) != NULL)
			path[o++] = '\\';
		path[o++] = from[i];
	}
	path[o++] = '/';
	strcpy(path + o, pat);
	return path;
}

static int	conf_glob_errno;

/* A missing directory matches nothing; any other error stops the glob. */
static int
conf_glob_error(const char *path, int err)
{
	conf_glob_errno = err;
	return err != ENOENT && err != ENOTDIR;
}

static int
conf_include_glob(cfg_t *cfg, const char *pattern)
{
	glob_t	g;
	size_t	i;
	int	rv;

	conf_glob_errno = 0;
	switch (glob(pattern, 0, conf_glob_error, &g)) {
	case 0:
		break;
	case GLOB_NOMATCH:
		log_debug("%s: include %s: no file matches",
		    conf_filename(cfg), pattern);
		return 0;
	case GLOB_ABORTED:
		conf_error(cfg, "include %s: %s", pattern,
		    strerror(conf_glob_errno));
		globfree(&g);
		return -1;
	default:
		conf_error(cfg, "include %s: glob failed", pattern);
		globfree(&g);
		return -1;
	}
	/* glob(3) returns the names sorted. */
	for (i = 0, rv = 0; i < g.gl_pathc && rv == 0; i++)
		rv = conf_include_file(cfg, g.gl_pathv[i]);
	globfree(&g);
	return rv;
}

/*
 * include("file") and include("dir/ *.conf"): each file is parsed to
 * its end before the next, into the same root, so filters are kept in
 * the order of the sorted file names.  libconfuse's cfg_include() stacks
 * files in its lexer instead: it does not glob, and its stack holds 10.
 */
static int
conf_include(cfg_t *cfg, cfg_opt_t *opt, int argc, const char **argv)
{
	char		*path;
	int		 rv, saved;
	enum mode	 m;

	if (argc < 1 || argc > 2 || *argv[0] == '\0') {
		conf_error(cfg, "include: wants a file name or pattern, and "
		    "optionally a mode");
		return -1;
	}
	if (conf_cur == NULL)
		return -1;
	if (argc == 2 && mode_parse(argv[1], &m) == -1) {
		conf_error(cfg, "include: mode \"%s\" is not enforce, warn or "
		    "log", argv[1]);
		return -1;
	}
	/* The filters of the included files follow that mode. */
	saved = conf_cur->cs_mode;
	if (argc == 2)
		conf_cur->cs_mode = (int)m;
	if (strpbrk(argv[0], "*?[") == NULL) {
		path = conf_path_join(conf_filename(cfg), argv[0], 0);
		rv = conf_include_file(cfg, path);
	} else {
		path = conf_path_join(conf_filename(cfg), argv[0], 1);
		rv = conf_include_glob(cfg, path);
	}
	conf_cur->cs_mode = saved;
	free(path);
	return rv;
}

/*
 * From the parsed tree to struct config.
 */

static char *
conf_strdup(cfg_t *cfg, const char *name, int empty_is_null)
{
	const char	*s = cfg_getstr(cfg, name);

	if (s == NULL || (empty_is_null && *s == '\0'))
		return NULL;
	return xstrdup(s);
}

static void
conf_cidrs(cfg_t *cfg, const char *name, struct cidr **out, size_t *np)
{
	unsigned int	i, n = cfg_size(cfg, name);

	*out = n == 0 ? NULL : xcalloc(n, sizeof(**out));
	*np = 0;
	for (i = 0; i < n; i++)
		if (cidr_parse(cfg_getnstr(cfg, name, i), &(*out)[*np]) == 0)
			(*np)++;
}

static void
conf_build_process(cfg_t *cfg, struct config *cf)
{
	unsigned int	i;

	cf->cf_nlisten = cfg_size(cfg, "listen");
	if (cf->cf_nlisten > PM_MAXLISTEN)
		cf->cf_nlisten = PM_MAXLISTEN;
	for (i = 0; i < cf->cf_nlisten; i++)
		cf->cf_listen[i] = xstrdup(cfg_getnstr(cfg, "listen", i));
	cf->cf_user = conf_strdup(cfg, "user", 0);
	cf->cf_chroot = xstrdup(cfg_getstr(cfg, "chroot") == NULL ? "" :
	    cfg_getstr(cfg, "chroot"));
	cf->cf_pidfile = xstrdup(cfg_getstr(cfg, "pidfile") == NULL ? "" :
	    cfg_getstr(cfg, "pidfile"));
	cf->cf_socket_owner = conf_strdup(cfg, "socket_owner", 1);
	cf->cf_socket_group = conf_strdup(cfg, "socket_group", 1);
	cf->cf_socket_mode = (mode_t)cfg_getint(cfg, "socket_mode");
	cf->cf_min_spare = (int)cfg_getint(cfg, "min_spare");
	cf->cf_max_spare = (int)cfg_getint(cfg, "max_spare");
	cf->cf_max_workers = (int)cfg_getint(cfg, "max_workers");
	cf->cf_max_requests = (int)cfg_getint(cfg, "max_requests");
}

static void
conf_build_message(cfg_t *cfg, struct config *cf)
{
	cf->cf_timeout = (int)cfg_getint(cfg, "timeout");
	cf->cf_message_timeout = (int)cfg_getint(cfg, "message_timeout");
	cf->cf_grace = (int)cfg_getint(cfg, "shutdown_timeout");
	cf->cf_max_message_size = (size_t)cfg_getint(cfg, "max_message_size");
	cf->cf_oversize_action =
	    (enum action)cfg_getint(cfg, "oversize_action");
	cf->cf_error_action = (enum action)cfg_getint(cfg, "error_action");
	conf_cidrs(cfg, "skip_networks", &cf->cf_skip, &cf->cf_nskip);
	cf->cf_skip_senders = conf_strlist(cfg, "skip_senders",
	    &cf->cf_nskip_senders);
	cf->cf_skip_authenticated =
	    cfg_getbool(cfg, "skip_authenticated") == cfg_true;
	cf->cf_log_level = (int)cfg_getint(cfg, "log_level");
	cf->cf_log_file = conf_strdup(cfg, "log_file", 1);
	cf->cf_log_facility = conf_strdup(cfg, "log_facility", 0);
	cf->cf_warn_header = conf_strdup(cfg, "warn_header", 0);
	cf->cf_subject_prefix = xstrdup(cfg_getstr(cfg, "subject_prefix") ==
	    NULL ? "" : cfg_getstr(cfg, "subject_prefix"));
	cf->cf_match_limit = (uint32_t)cfg_getint(cfg, "match_limit");
	cf->cf_depth_limit = (uint32_t)cfg_getint(cfg, "depth_limit");
	cf->cf_mode = (enum mode)cfg_getint(cfg, "mode");
	cf->cf_max_mime_depth = (unsigned int)cfg_getint(cfg,
	    "max_mime_depth");
	cf->cf_max_mime_parts = (unsigned int)cfg_getint(cfg,
	    "max_mime_parts");
	cf->cf_max_headers = (unsigned int)cfg_getint(cfg, "max_headers");
}

static void
conf_build_spamhaus(cfg_t *cfg, struct config *cf)
{
	struct spamhaus_config	*sh = &cf->cf_spamhaus;
	cfg_t			*sec = cfg_getsec(cfg, "spamhaus");

	sh->sh_report = cfg_getbool(sec, "report") == cfg_true;
	sh->sh_token_file = conf_strdup(sec, "token_file", 0);
	sh->sh_url = conf_strdup(sec, "url", 0);
	conf_cidrs(sec, "safe_address", &sh->sh_safe, &sh->sh_nsafe);
	sh->sh_threat_type = conf_strdup(sec, "threat_type", 0);
	sh->sh_reason = conf_strdup(sec, "reason", 0);
	sh->sh_spool = conf_strdup(sec, "spool", 0);
	sh->sh_spool_size = (size_t)cfg_getint(sec, "spool_size");
	sh->sh_report_private = cfg_getbool(sec, "report_private") ==
	    cfg_true;
	sh->sh_ttl = (int)cfg_getint(sec, "ttl");
	sh->sh_rate = (int)cfg_getint(sec, "rate");
	sh->sh_connect_timeout = (int)cfg_getint(sec, "connect_timeout");
	sh->sh_request_timeout = (int)cfg_getint(sec, "request_timeout");
	sh->sh_retry_min = (int)cfg_getint(sec, "retry_min");
	sh->sh_retry_max = (int)cfg_getint(sec, "retry_max");
	sh->sh_report_urls = cfg_getbool(sec, "report_urls") == cfg_true;
	sh->sh_url_endpoint = conf_strdup(sec, "url_endpoint", 0);
	sh->sh_url_threat_type = conf_strdup(sec, "url_threat_type", 0);
	sh->sh_max_urls = (int)cfg_getint(sec, "max_urls");
	sh->sh_report_email = cfg_getbool(sec, "report_email") == cfg_true;
	sh->sh_email_endpoint = conf_strdup(sec, "email_endpoint", 0);
	sh->sh_email_threat_type = conf_strdup(sec, "email_threat_type", 0);
	sh->sh_max_email_size = (size_t)cfg_getint(sec, "max_email_size");
}

/* What no single value shows: how values relate to each other. */
static int
conf_check_whole(const struct config *cf)
{
	int	errors = 0;

	if (cf->cf_nlisten == 0) {
		conf_errorx(cf->cf_file, 0, "listen: no address");
		errors++;
	}
	if (cf->cf_min_spare > cf->cf_max_spare) {
		conf_errorx(cf->cf_file, 0, "min_spare %d is more than "
		    "max_spare %d", cf->cf_min_spare, cf->cf_max_spare);
		errors++;
	}
	if (cf->cf_spamhaus.sh_retry_min > cf->cf_spamhaus.sh_retry_max) {
		conf_errorx(cf->cf_file, 0, "spamhaus: retry_min %d is more "
		    "than retry_max %d", cf->cf_spamhaus.sh_retry_min,
		    cf->cf_spamhaus.sh_retry_max);
		errors++;
	}
	if (cf->cf_max_spare > cf->cf_max_workers) {
		conf_errorx(cf->cf_file, 0, "max_spare %d is more than "
		    "max_workers %d", cf->cf_max_spare, cf->cf_max_workers);
		errors++;
	}
	return errors == 0 ? 0 : -1;
}

static struct config *
conf_build(cfg_t *cfg, struct conf_state *cs, const char *path)
{
	struct config	*cf;

	cf = xcalloc(1, sizeof(*cf));
	cf->cf_file = xstrdup(path);
	conf_build_process(cfg, cf);
	conf_build_message(cfg, cf);
	conf_build_spamhaus(cfg, cf);
	cf->cf_filters = cs->cs_filters;
	cf->cf_nfilters = cs->cs_nfilters;
	cs->cs_filters = NULL;
	cs->cs_nfilters = cs->cs_maxfilters = 0;
	if (conf_check_whole(cf) == -1) {
		config_free(cf);
		return NULL;
	}
	return cf;
}

/* Checks that need a callback where each value is read. */
static const struct {
	const char		*cv_name;
	cfg_validate_callback_t	 cv_fn;
} conf_validators[] = {
	{ "listen",			conf_check_listen },
	{ "user",			conf_check_nonempty },
	{ "chroot",			conf_check_chroot },
	{ "pidfile",			conf_check_text },
	{ "socket_owner",		conf_check_text },
	{ "socket_group",		conf_check_text },
	{ "skip_networks",		conf_check_cidr },
	{ "log_file",			conf_check_text },
	{ "log_facility",		conf_check_facility },
	{ "warn_header",		conf_check_header },
	{ "subject_prefix",		conf_check_text },
	{ "spamhaus|token_file",	conf_check_nonempty },
	{ "spamhaus|url",		conf_check_url },
	{ "spamhaus|safe_address",	conf_check_cidr },
	{ "spamhaus|threat_type",	conf_check_nonempty },
	{ "spamhaus|reason",		conf_check_text },
	{ "spamhaus|spool",		conf_check_spool },
	{ "spamhaus|url_endpoint",	conf_check_url },
	{ "spamhaus|url_threat_type",	conf_check_nonempty },
	{ "spamhaus|email_endpoint",	conf_check_url },
	{ "spamhaus|email_threat_type",	conf_check_nonempty },
	{ "filter",			conf_filter_done },
	{ "filter|match",		conf_check_cond },
	{ "filter|any",			conf_check_cond },
	{ "filter|action",		conf_filter_note },
	{ "filter|report",		conf_filter_note },
	{ "official",			conf_official_done },
	{ "skip_senders",		conf_check_sender },
	{ "filter|reply",		conf_check_filter_text },
	{ "filter|subject_prefix",	conf_check_filter_text },
};

static cfg_t *
conf_init(void)
{
	cfg_t	*cfg;
	size_t	 i;

	if ((cfg = cfg_init(conf_opts, CFGF_NONE)) == NULL)
		return NULL;
	cfg_set_error_function(cfg, conf_verror);
	for (i = 0; i < sizeof(conf_validators) /
	    sizeof(conf_validators[0]); i++)
		cfg_set_validate_func(cfg, conf_validators[i].cv_name,
		    conf_validators[i].cv_fn);
	return cfg;
}

/*
 * Reads path and every file it includes.  NULL once every problem found
 * has been logged (libconfuse stops at the first syntax error).
 */
struct config *
config_load(const char *path)
{
	struct conf_state	 cs;
	struct config		*cf = NULL;
	const char		*why;
	char			*buf;
	size_t			 len, i;
	cfg_t			*cfg;

	if ((buf = conf_read(path, &len, &why)) == NULL) {
		log_warnx("%s: %s", path, why);
		return NULL;
	}
	if ((cfg = conf_init()) == NULL) {
		log_warn("%s: cfg_init", path);
		free(buf);
		return NULL;
	}
	memset(&cs, 0, sizeof(cs));
	cs.cs_root = cfg;
	cs.cs_mode = MODE_UNSET;
	conf_cur = &cs;
	if (conf_parse_buf(cfg, path, buf, len) == 0)
		cf = conf_build(cfg, &cs, path);
	conf_cur = NULL;
	cfg_free(cfg);
	free(buf);
	for (i = 0; i < cs.cs_nfilters; i++)
		conf_filter_clear(&cs.cs_filters[i]);
	free(cs.cs_filters);
	return cf;
}

void
config_free(struct config *cf)
{
	struct spamhaus_config	*sh;
	size_t			 i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->cf_nlisten && i < PM_MAXLISTEN; i++)
		free(cf->cf_listen[i]);
	for (i = 0; i < cf->cf_nfilters; i++)
		conf_filter_clear(&cf->cf_filters[i]);
	free(cf->cf_filters);
	free(cf->cf_file);
	free(cf->cf_user);
	free(cf->cf_chroot);
	free(cf->cf_pidfile);
	free(cf->cf_socket_owner);
	free(cf->cf_socket_group);
	free(cf->cf_skip);
	for (i = 0; i < cf->cf_nskip_senders; i++)
		free(cf->cf_skip_senders[i]);
	free(cf->cf_skip_senders);
	free(cf->cf_log_file);
	free(cf->cf_log_facility);
	free(cf->cf_warn_header);
	free(cf->cf_subject_prefix);
	sh = &cf->cf_spamhaus;
	free(sh->sh_url_endpoint);
	free(sh->sh_url_threat_type);
	free(sh->sh_email_endpoint);
	free(sh->sh_email_threat_type);
	free(sh->sh_token_file);
	free(sh->sh_url);
	free(sh->sh_safe);
	free(sh->sh_threat_type);
	free(sh->sh_reason);
	free(sh->sh_spool);
	free(cf);
}
