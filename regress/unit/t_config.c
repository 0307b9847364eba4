/*
 * Unit tests of the configuration (config.c): defaults and values, the
 * shipped file, conditions and targets, comments and line numbers,
 * include order and paths, and one refused file per error, whose log
 * line must name the right file and line; the address lists (skip,
 * safe_address) against addresses as MTAs write them.
 */

#include "phishmilter.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "report.h"
#include "tap.h"

/* Does s end with suffix? */
static int
ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static char	dir[256];		/* this run's temporary directory */
static char	logbuf[16384];		/* what the last load logged */

static void
put(const char *name, const char *text)
{
	char	path[PATH_MAX];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF) {
		perror(path);
		exit(1);
	}
}

static void
subdir(const char *name)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
}

/* config_load() with stderr, where log.c writes, caught in logbuf. */
static struct config *
load_path(const char *path)
{
	struct config	*cf;
	char		 tmpl[PATH_MAX];
	ssize_t		 n;
	int		 fd, saved;

	snprintf(tmpl, sizeof(tmpl), "%s/log.XXXXXX", dir);
	if ((fd = mkstemp(tmpl)) == -1 || unlink(tmpl) == -1) {
		perror(tmpl);
		exit(1);
	}
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	cf = config_load(path);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, logbuf, sizeof(logbuf) - 1);
	logbuf[n > 0 ? n : 0] = '\0';
	close(fd);
	return cf;
}

static struct config *
load(const char *name)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return load_path(path);
}

/* Loads text as name; the configuration, or NULL. */
static struct config *
load_text(const char *name, const char *text)
{
	put(name, text);
	return load(name);
}

/* s with "@D" replaced by the temporary directory. */
static void
subst(char *out, size_t size, const char *s)
{
	const char	*at;
	size_t		 o = 0;

	while ((at = strstr(s, "@D")) != NULL && o < size) {
		o += snprintf(out + o, size - o, "%.*s%s", (int)(at - s), s,
		    dir);
		s = at + 2;
	}
	if (o < size)
		snprintf(out + o, size - o, "%s", s);
}

/* Whether the log has "DIR/file:line: msg" ("DIR/file: msg" for 0). */
static int
logged(const char *file, int line, const char *msg)
{
	char	want[2048], m[1024];

	subst(m, sizeof(m), msg);
	if (line > 0)
		snprintf(want, sizeof(want), "%s/%s:%d: %s", dir, file, line,
		    m);
	else
		snprintf(want, sizeof(want), "%s/%s: %s", dir, file, m);
	if (strstr(logbuf, want) != NULL)
		return 1;
	printf("# wanted: %s\n# logged: %s", want, logbuf);
	return 0;
}

static const struct filter *
find(const struct config *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->cf_nfilters; i++)
		if (strcmp(cf->cf_filters[i].f_name, name) == 0)
			return &cf->cf_filters[i];
	return NULL;
}

static void
test_defaults(void)
{
	struct config	*cf;

	cf = load_text("empty.conf", "");
	ok(cf != NULL, "an empty file is a valid configuration");
	if (cf == NULL)
		return;
	ok(cf->cf_nlisten == 1 &&
	    strcmp(cf->cf_listen[0], "inet:127.0.0.1:8898") == 0,
	    "listen defaults to inet:127.0.0.1:8898");
	ok(strcmp(cf->cf_user, PHISHMILTER_USER) == 0 &&
	    strcmp(cf->cf_chroot, PHISHMILTER_CHROOT) == 0 &&
	    strcmp(cf->cf_pidfile, PHISHMILTER_PIDFILE) == 0,
	    "user, chroot and pidfile default to the built-in values");
	ok(cf->cf_socket_owner == NULL && cf->cf_socket_group == NULL &&
	    cf->cf_socket_mode == 0660, "socket owner, group and mode");
	ok(cf->cf_min_spare == 2 && cf->cf_max_spare == 8 &&
	    cf->cf_max_workers == 64 && cf->cf_max_requests == 1000,
	    "pool defaults 2, 8, 64, 1000");
	ok(cf->cf_timeout == 30 && cf->cf_message_timeout == 20 &&
	    cf->cf_grace == 30, "timeouts 30, 20, 30");
	ok(cf->cf_max_message_size == 10 * 1024 * 1024 &&
	    cf->cf_oversize_action == ACTION_ACCEPT &&
	    cf->cf_error_action == ACTION_TEMPFAIL,
	    "10M, oversize accept, error tempfail");
	ok(cf->cf_nskip == 2 && cf->cf_skip[0].cidr_family == AF_INET &&
	    cf->cf_skip[0].cidr_bits == 8 &&
	    cf->cf_skip[1].cidr_family == AF_INET6 &&
	    cf->cf_skip[1].cidr_bits == 128 && cf->cf_skip_authenticated,
	    "skip 127.0.0.0/8 and ::1/128, and authenticated clients");
	ok(cf->cf_log_level == LOG_INFO && cf->cf_log_file == NULL &&
	    strcmp(cf->cf_log_facility, "mail") == 0,
	    "log at info to syslog mail");
	ok(strcmp(cf->cf_warn_header, "X-Phishing-Warning") == 0 &&
	    strcmp(cf->cf_subject_prefix, "") == 0,
	    "warn header and no subject prefix");
	ok(cf->cf_match_limit == 1000000 && cf->cf_depth_limit == 10000,
	    "PCRE2 limits 1000000 and 10000");
	/* The paths follow configure's sysconfdir and localstatedir. */
	ok(!cf->cf_spamhaus.sh_report && cf->cf_spamhaus.sh_nsafe == 0 &&
	    ends_with(cf->cf_spamhaus.sh_token_file,
	    "/phishmilter/spamhaus.token") &&
	    strncmp(cf->cf_spamhaus.sh_url, "https://submit.spamhaus.org/",
	    28) == 0 &&
	    strcmp(cf->cf_spamhaus.sh_threat_type, "source-of-spam") == 0 &&
	    strcmp(cf->cf_spamhaus.sh_reason,
	    "phishing mail matched filter %f") == 0 &&
	    ends_with(cf->cf_spamhaus.sh_spool, "/spool/phishmilter") &&
	    cf->cf_spamhaus.sh_spool_size == 10 * 1024 * 1024 &&
	    !cf->cf_spamhaus.sh_report_private &&
	    cf->cf_spamhaus.sh_ttl == 86400 && cf->cf_spamhaus.sh_rate == 60 &&
	    cf->cf_spamhaus.sh_connect_timeout == 10 &&
	    cf->cf_spamhaus.sh_request_timeout == 30 &&
	    cf->cf_spamhaus.sh_retry_min == 10 &&
	    cf->cf_spamhaus.sh_retry_max == 3600 &&
	    !cf->cf_spamhaus.sh_report_urls && !cf->cf_spamhaus.sh_report_email &&
	    cf->cf_spamhaus.sh_max_urls == 5 &&
	    cf->cf_spamhaus.sh_max_email_size == 256 * 1024,
	    "spamhaus defaults");
	ok(cf->cf_nfilters == 0 && strstr(cf->cf_file, "empty.conf") != NULL,
	    "no filters; cf_file is the path");
	config_free(cf);
}

static const char values_conf[] =
	"listen = { \"unix:/run/pm.sock\", \"inet6:[::1]:8898\" }\n"
	"listen += \"inet:8899@127.0.0.1\"\n"
	"user = \"nobody\"\n"
	"chroot = \"/var/empty\"\n"
	"pidfile = \"\"\n"
	"socket_owner = postfix\n"
	"socket_group = \"mail\"\n"
	"socket_mode = 0600\n"
	"min_spare = 1\nmax_spare = 4\nmax_workers = 4\n"
	"max_requests = 1000000000\n"
	"timeout = 3600\nmessage_timeout = 5\nshutdown_timeout = 0\n"
	"max_message_size = 512K\n"
	"oversize_action = tempfail\nerror_action = accept\n"
	"skip_networks = \"192.0.2.1\"\n"
	"skip_authenticated = no\n"
	"log_level = debug\nlog_file = \"/tmp/pm.log\"\n"
	"log_facility = local3\n"
	"warn_header = \"X-Phish\"\nsubject_prefix = \"[!] \"\n"
	"match_limit = 4294967295\ndepth_limit = 1\n"
	"spamhaus {\n"
	"\treport = true\n"
	"\ttoken_file = \"/etc/t\"\n"
	"\turl = \"http://localhost:8080/x\"\n"
	"\tsafe_address = { \"192.0.2.0/24\", \"2001:db8::/32\" }\n"
	"\tthreat_type = \"phish\"\n"
	"\treason = \"filter %f\"\n"
	"\tspool = \"/tmp/spool\"\n"
	"}\n";

static void
test_values(void)
{
	struct config		*cf;
	struct spamhaus_config	*sh;

	cf = load_text("values.conf", values_conf);
	ok(cf != NULL, "every option set");
	if (cf == NULL)
		return;
	ok(cf->cf_nlisten == 3 &&
	    strcmp(cf->cf_listen[0], "unix:/run/pm.sock") == 0 &&
	    strcmp(cf->cf_listen[1], "inet6:[::1]:8898") == 0 &&
	    strcmp(cf->cf_listen[2], "inet:8899@127.0.0.1") == 0,
	    "listen list, and += appends");
	ok(strcmp(cf->cf_user, "nobody") == 0 &&
	    strcmp(cf->cf_chroot, "/var/empty") == 0 &&
	    strcmp(cf->cf_pidfile, "") == 0, "user, chroot, empty pidfile");
	ok(strcmp(cf->cf_socket_owner, "postfix") == 0 &&
	    strcmp(cf->cf_socket_group, "mail") == 0 &&
	    cf->cf_socket_mode == 0600, "socket owner (unquoted), group, "
	    "mode");
	ok(cf->cf_min_spare == 1 && cf->cf_max_spare == 4 &&
	    cf->cf_max_workers == 4 && cf->cf_max_requests == 1000000000,
	    "pool sizes at their bounds");
	ok(cf->cf_timeout == 3600 && cf->cf_message_timeout == 5 &&
	    cf->cf_grace == 0, "timeouts; shutdown_timeout may be 0");
	ok(cf->cf_max_message_size == 512 * 1024, "512K is 524288 bytes");
	ok(cf->cf_oversize_action == ACTION_TEMPFAIL &&
	    cf->cf_error_action == ACTION_ACCEPT, "oversize and error action");
	ok(cf->cf_nskip == 1 && cf->cf_skip[0].cidr_bits == 32 &&
	    !cf->cf_skip_authenticated,
	    "a single address is a /32; skip_authenticated = no");
	ok(cf->cf_log_level == LOG_DEBUG &&
	    strcmp(cf->cf_log_file, "/tmp/pm.log") == 0 &&
	    strcmp(cf->cf_log_facility, "local3") == 0, "logging");
	ok(strcmp(cf->cf_warn_header, "X-Phish") == 0 &&
	    strcmp(cf->cf_subject_prefix, "[!] ") == 0,
	    "warn header and subject prefix");
	ok(cf->cf_match_limit == 4294967295U && cf->cf_depth_limit == 1,
	    "match_limit up to 2^32-1");
	sh = &cf->cf_spamhaus;
	ok(sh->sh_report && strcmp(sh->sh_token_file, "/etc/t") == 0 &&
	    strcmp(sh->sh_url, "http://localhost:8080/x") == 0 &&
	    sh->sh_nsafe == 2 && sh->sh_safe[1].cidr_family == AF_INET6 &&
	    strcmp(sh->sh_threat_type, "phish") == 0 &&
	    strcmp(sh->sh_reason, "filter %f") == 0 &&
	    strcmp(sh->sh_spool, "/tmp/spool") == 0, "spamhaus section");
	config_free(cf);

	cf = load_text("size.conf", "max_message_size = \"1G\"\n");
	ok(cf != NULL && cf->cf_max_message_size == 1024UL * 1024 * 1024,
	    "a quoted size, 1G");
	config_free(cf);
	cf = load_text("size.conf", "max_message_size = 1024\n");
	ok(cf != NULL && cf->cf_max_message_size == 1024,
	    "a size in bytes, 1024");
	config_free(cf);
}

static const char filters_conf[] =
	"# comments before, to check the line numbers after them\n"
	"# (libconfuse 3.3 counts each comment line twice)\n"
	"/* and a C-style\n"
	"   comment */\n"
	"filter mufg {\t\t\t\t# line 5\n"
	"\tmatch = {\n"
	"\t\t# a comment inside a list\n"
	"\t\t'header_From:(?i)\\bmufg\\b',\t# and after a value\n"
	"\t\t'header_from:!@(.*\\.)?mufg\\.jp>?$'\n"
	"\t}\n"
	"\taction = reject\n"
	"\treply = \"550 5.7.1 Phishing: impersonates MUFG (100% sure)\"\n"
	"}\n"
	"filter w.1 {\n"
	"\tany = { 'header_subject:it\\'s \\\\d', \"helo:\\\\.example$\" }\n"
	"\tany += 'macro_{auth_authen}:^$'\n"
	"\taction = warn\n"
	"\tsubject_prefix = \"[warn]\"\n"
	"}\n"
	"filter q-1 {\n"
	"\tmatch = 'envelope_rcpt:x'\t// one value, no braces\n"
	"\tany = { 'remote_ip:^192\\.0\\.2\\.', 'remote_host:x',\n"
	"\t    'envelope_from:y', 'macro_i:z' }\n"
	"\taction = quarantine\n"
	"\treply = \"held: looks odd\"\n"
	"}\n"
	"filter t_2 {\n"
	"\tmatch = 'helo:x'\n"
	"\taction = tempfail\n"
	"\treply = \"451 4.7.0 Try later\"\n"
	"\treport = true\n"
	"}\n"
	"filter r {\n"
	"\tmatch = 'helo:x'\n"
	"\taction = REJECT\n"
	"\treport = false\n"
	"}\n";

static int
cond_is(const struct cond *c, enum target t, const char *name,
    const char *pattern, int negate)
{
	if (c->c_target != t || c->c_negate != negate ||
	    strcmp(c->c_pattern, pattern) != 0)
		return 0;
	if (name == NULL)
		return c->c_name == NULL;
	return c->c_name != NULL && strcmp(c->c_name, name) == 0;
}

static void
test_filters(void)
{
	struct config		*cf;
	const struct filter	*f;
	char			 path[PATH_MAX];

	cf = load_text("filters.conf", filters_conf);
	ok(cf != NULL, "filters with comments everywhere");
	if (cf == NULL)
		return;
	ok(cf->cf_nfilters == 5 &&
	    strcmp(cf->cf_filters[0].f_name, "mufg") == 0 &&
	    strcmp(cf->cf_filters[4].f_name, "r") == 0, "five, in order");
	f = &cf->cf_filters[0];
	snprintf(path, sizeof(path), "%s/filters.conf", dir);
	ok(strcmp(f->f_file, path) == 0 && f->f_line == 5,
	    "f_file and f_line point at the filter (line %d)", f->f_line);
	ok(f->f_nmatch == 2 && f->f_nany == 0 &&
	    cond_is(&f->f_match[0], TARGET_HEADER, "from", "(?i)\\bmufg\\b",
	    0) && cond_is(&f->f_match[1], TARGET_HEADER, "from",
	    "@(.*\\.)?mufg\\.jp>?$", 1),
	    "header names lower-cased; ! negates; regexes as written");
	ok(f->f_action == ACTION_REJECT && f->f_report == 1 &&
	    strcmp(f->f_reply,
	    "550 5.7.1 Phishing: impersonates MUFG (100% sure)") == 0,
	    "reject reports by default; reply kept");
	f = &cf->cf_filters[1];
	ok(f->f_nany == 3 && cond_is(&f->f_any[0], TARGET_HEADER, "subject",
	    "it's \\d", 0) && cond_is(&f->f_any[1], TARGET_HELO, NULL,
	    "\\.example$", 0) && cond_is(&f->f_any[2], TARGET_MACRO,
	    "auth_authen", "^$", 0),
	    "single quotes: \\' and \\\\ only; double quotes: C escapes; "
	    "macro braces dropped; += appends");
	ok(f->f_action == ACTION_WARN && f->f_report == 0 &&
	    strcmp(f->f_subject_prefix, "[warn]") == 0 && f->f_reply == NULL,
	    "warn: no report by default, own subject prefix");
	f = &cf->cf_filters[2];
	ok(f->f_nmatch == 1 && f->f_nany == 4 &&
	    cond_is(&f->f_match[0], TARGET_ENVELOPE_RCPT, NULL, "x", 0) &&
	    cond_is(&f->f_any[0], TARGET_REMOTE_IP, NULL, "^192\\.0\\.2\\.",
	    0) && cond_is(&f->f_any[1], TARGET_REMOTE_HOST, NULL, "x", 0) &&
	    cond_is(&f->f_any[2], TARGET_ENVELOPE_FROM, NULL, "y", 0) &&
	    cond_is(&f->f_any[3], TARGET_MACRO, "i", "z", 0),
	    "every target; a list may be a single value");
	ok(f->f_action == ACTION_QUARANTINE &&
	    strcmp(f->f_reply, "held: looks odd") == 0,
	    "quarantine takes a free-text reason");
	f = &cf->cf_filters[3];
	ok(f->f_action == ACTION_TEMPFAIL && f->f_report == 1 &&
	    strcmp(f->f_reply, "451 4.7.0 Try later") == 0 &&
	    f->f_line == 27, "tempfail with 4xx reply, report = true");
	f = &cf->cf_filters[4];
	ok(f->f_action == ACTION_REJECT && f->f_report == 0,
	    "report = false on reject; actions ignore case");
	config_free(cf);
}

/* main.conf: a filter, an include of rules.d, a filter; 12 rule files. */
static void
write_include_tree(void)
{
	char	name[64], text[256];
	int	i;

	subdir("inc");
	subdir("inc/rules.d");
	subdir("inc/rules.d/sub");
	put("inc/main.conf",
	    "filter first {\n\tmatch = 'helo:a'\n\taction = accept\n}\n"
	    "include(\"rules.d/*.conf\")\n"
	    "filter last {\n\tmatch = 'helo:z'\n\taction = accept\n}\n");
	/* Written out of order; more than libconfuse's 10 include slots. */
	for (i = 12; i >= 1; i--) {
		snprintf(name, sizeof(name), "inc/rules.d/%02d.conf", i);
		snprintf(text, sizeof(text), "\n\nfilter f%02d {\n"
		    "\tany = 'helo:%d'\n\taction = discard\n}\n", i, i);
		put(name, text);
	}
	put("inc/rules.d/05.conf", "filter f05 {\n\tmatch = 'helo:5'\n"
	    "\taction = warn\n}\ninclude(\"sub/nested.conf\")\n");
	put("inc/rules.d/sub/nested.conf",
	    "filter nested {\n\tmatch = 'helo:n'\n\taction = warn\n}\n"
	    "include(\"none/*.conf\")\ninclude(\"*.none\")\n");
	put("inc/rules.d/README", "not a .conf file, not read\n");
}

static void
test_include(void)
{
	static const char	*order[] = { "first", "f01", "f02", "f03",
				    "f04", "f05", "nested", "f06", "f07",
				    "f08", "f09", "f10", "f11", "f12",
				    "last" };
	struct config		*cf;
	const struct filter	*f;
	char			 path[PATH_MAX];
	size_t			 i;
	int			 good;

	write_include_tree();
	cf = load("inc/main.conf");
	ok(cf != NULL, "include of a glob, 12 files, one nested include, "
	    "globs matching nothing");
	if (cf == NULL)
		return;
	good = cf->cf_nfilters == sizeof(order) / sizeof(order[0]);
	for (i = 0; good && i < cf->cf_nfilters; i++)
		good = strcmp(cf->cf_filters[i].f_name, order[i]) == 0;
	ok(good, "filters in sorted file order, each file in place");
	f = find(cf, "f07");
	snprintf(path, sizeof(path), "%s/inc/rules.d/07.conf", dir);
	ok(f != NULL && strcmp(f->f_file, path) == 0 && f->f_line == 3,
	    "an included filter knows its file and line");
	f = find(cf, "nested");
	snprintf(path, sizeof(path), "%s/inc/rules.d/sub/nested.conf", dir);
	ok(f != NULL && strcmp(f->f_file, path) == 0 && f->f_line == 1,
	    "a nested include is relative to the including file");
	f = find(cf, "last");
	snprintf(path, sizeof(path), "%s/inc/main.conf", dir);
	ok(f != NULL && strcmp(f->f_file, path) == 0 && f->f_line == 6,
	    "after the include, file and line are the includer's again");
	config_free(cf);

	put("inc/rules.d/09.conf", "filter f09 {\n\tmatch = {\n"
	    "\t\t'helo:ok',\n\t\t'helo:(bad'\n\t}\n\taction = reject\n}\n");
	ok(load("inc/main.conf") == NULL &&
	    logged("inc/rules.d/09.conf", 4, "filter f09: bad regex '(bad'"),
	    "an error in an included file names that file and line");
	put("inc/rules.d/09.conf", "filter f09 {\n\tmatch = 'helo:1'\n}\n");
	ok(load("inc/main.conf") == NULL &&
	    logged("inc/rules.d/09.conf", 1, "filter f09: no action"),
	    "a filter-level error in an included file");
	put("inc/rules.d/09.conf", "filter f01 {\n\tmatch = 'helo:1'\n"
	    "\taction = accept\n}\n");
	ok(load("inc/main.conf") == NULL &&
	    logged("inc/rules.d/09.conf", 1, "duplicate filter name 'f01' "
	    "(first defined at @D/inc/rules.d/01.conf:3)"),
	    "a duplicate across files names both places");
	put("inc/rules.d/09.conf", "include(\"../missing.conf\")\n");
	ok(load("inc/main.conf") == NULL &&
	    logged("inc/rules.d/09.conf", 1, "include "
	    "@D/inc/rules.d/../missing.conf: No such file or directory"),
	    "a missing plain include is an error, at the include");
	put("inc/rules.d/09.conf", "include(\"09.conf\")\n");
	ok(load("inc/main.conf") == NULL && strstr(logbuf,
	    "nested too deeply") != NULL, "an include loop is an error");
}

static void
test_shipped(void)
{
	struct config	*cf;
	const char	*top = getenv("top_srcdir");
	char		 path[PATH_MAX];

	if (top == NULL) {
		ok(1, "# SKIP top_srcdir not set: shipped file not checked");
		return;
	}
	snprintf(path, sizeof(path), "%s/conf/phishmilter.conf", top);
	cf = load_path(path);
	ok(cf != NULL && cf->cf_nlisten == 1 &&
	    strcmp(cf->cf_listen[0], "inet:127.0.0.1:8898") == 0 &&
	    cf->cf_nfilters > 0, "the shipped phishmilter.conf and its "
	    "rules.d load (%zu filters)", cf == NULL ? 0 : cf->cf_nfilters);
	if (cf == NULL)
		printf("# %s", logbuf);
	config_free(cf);
}

static void
test_targets(void)
{
	enum target	 t;
	char		*name;
	const char	*s;

	s = "header_Reply-To";
	ok(config_target_parse(s, strlen(s), &t, &name) == 0 &&
	    t == TARGET_HEADER && strcmp(name, "reply-to") == 0,
	    "header_Reply-To is header reply-to");
	free(name);
	s = "macro_{Auth_Authen}";
	ok(config_target_parse(s, strlen(s), &t, &name) == 0 &&
	    t == TARGET_MACRO && strcmp(name, "Auth_Authen") == 0,
	    "macro names lose their braces and keep their case");
	free(name);
	s = "envelope_rcpt:x";
	ok(config_target_parse(s, 13, &t, &name) == 0 &&
	    t == TARGET_ENVELOPE_RCPT && name == NULL &&
	    strcmp(config_target_name(t), "envelope_rcpt") == 0,
	    "envelope_rcpt, parsed from a prefix of a condition");
	ok(strcmp(config_target_name(TARGET_HEADER), "header_") == 0 &&
	    strcmp(config_target_name(TARGET_MACRO), "macro_") == 0,
	    "prefixed targets are named by their prefix");
	ok(config_target_parse("url", 3, &t, &name) == 0 &&
	    t == TARGET_URL &&
	    config_target_parse("decode_subject", 14, &t, &name) == 0 &&
	    t == TARGET_DECODE_SUBJECT &&
	    config_target_parse("attachment_type", 15, &t, &name) == 0 &&
	    t == TARGET_ATTACHMENT_TYPE,
	    "decoded targets are known");
	ok(config_target_parse("decode_body", 11, &t, &name) == -1,
	    "a decoded target DESIGN.md does not name is unknown");
	ok(config_target_parse("subject", 7, &t, &name) == -1 &&
	    config_target_parse("header_", 7, &t, &name) == -1 &&
	    config_target_parse("macro_{}", 8, &t, &name) == -1 &&
	    config_target_parse("helo2", 5, &t, &name) == -1,
	    "unknown targets (-1)");
}

/* One refused file each; line 0: the message names the file only. */
static const struct bad {
	const char	*b_desc;
	const char	*b_text;
	int		 b_line;
	const char	*b_msg;
} bad[] = {
	{ "unknown option, after comments",
	    "# one\n# two\n\nbogus = 1\n", 4, "no such option 'bogus'" },
	{ "number below its range", "max_workers = 0\n", 1,
	    "max_workers: \"0\" is too small (want 1 to 4096)" },
	{ "number above its range", "timeout = 3601\n", 1,
	    "timeout: \"3601\" is too large" },
	{ "not a number", "max_requests = 1e3\n", 1,
	    "max_requests: \"1e3\" is invalid" },
	{ "min_spare above max_spare", "min_spare = 9\n", 0,
	    "min_spare 9 is more than max_spare 8" },
	{ "max_spare above max_workers", "max_spare = 8\nmax_workers = 4\n",
	    0, "max_spare 8 is more than max_workers 4" },
	{ "size too large", "max_message_size = 2G\n", 1,
	    "max_message_size: \"2G\" is not a size from 1K to 1G" },
	{ "size too small", "max_message_size = 1000\n", 1,
	    "max_message_size: \"1000\" is not a size" },
	{ "size with a bad suffix", "max_message_size = 10MB\n", 1,
	    "max_message_size: \"10MB\" is not a size" },
	{ "mode not octal", "socket_mode = 0778\n", 1,
	    "socket_mode: \"0778\" is not an octal mode" },
	{ "mode too large", "socket_mode = 1777\n", 1,
	    "socket_mode: \"1777\" is not an octal mode" },
	{ "listen of an unknown kind", "listen = {\n\t\"inet:127.0.0.1:1\",\n"
	    "\t\"tcp:1\"\n}\n", 3, "listen: \"tcp:1\" is not inet:HOST:PORT" },
	{ "relative unix socket", "listen = \"unix:sock\"\n", 1,
	    "listen: \"unix:sock\" is not" },
	{ "empty listen", "listen = {}\n", 0, "listen: no address" },
	{ "nine listen addresses", "listen = { \"unix:/1\", \"unix:/2\", "
	    "\"unix:/3\", \"unix:/4\", \"unix:/5\", \"unix:/6\", \"unix:/7\", "
	    "\"unix:/8\", \"unix:/9\" }\n", 1,
	    "listen: more than 8 addresses" },
	{ "bad CIDR", "skip_networks = {\n\t\"10.0.0.0/8\",\n"
	    "\t\"10.0.0.0/33\"\n}\n", 3,
	    "skip_networks: \"10.0.0.0/33\" is not an address or "
	    "address/prefix" },
	{ "bad safe_address", "spamhaus {\n\tsafe_address = \"example.com\"\n"
	    "}\n", 2, "spamhaus: safe_address: \"example.com\" is not" },
	{ "bad spamhaus url", "spamhaus {\n\treport = true\n"
	    "\turl = \"ftp://x\"\n}\n", 3, "spamhaus: url: \"ftp://x\"" },
	{ "unknown spamhaus option", "spamhaus {\n\ttoken = \"x\"\n}\n", 2,
	    "spamhaus: no such option 'token'" },
	{ "bad boolean", "skip_authenticated = maybe\n", 1,
	    "invalid boolean value for option 'skip_authenticated'" },
	{ "bad log level", "log_level = loud\n", 1,
	    "log_level: \"loud\" is not err, warning, notice, info or debug" },
	{ "bad facility", "log_facility = \"kern\"\n", 1,
	    "log_facility: unknown facility \"kern\"" },
	{ "colon in warn_header", "warn_header = \"X-A: b\"\n", 1,
	    "warn_header: \"X-A: b\" is not a header field name" },
	{ "CR in subject_prefix", "subject_prefix = \"a\\rb\"\n", 1,
	    "subject_prefix: must not contain CR or LF" },
	{ "warn as oversize_action", "oversize_action = warn\n", 1,
	    "oversize_action: \"warn\" is not accept, tempfail or reject" },
	{ "reject as error_action", "error_action = reject\n", 1,
	    "error_action: \"reject\" is not tempfail or accept" },
	{ "relative chroot", "chroot = \"var/empty\"\n", 1,
	    "chroot: \"var/empty\" is not an absolute path" },
	{ "empty user", "user = \"\"\n", 1, "user: must not be empty" },
	{ "unterminated string", "user = \"x\n\nmax_workers = 3\n", 1,
	    "unterminated string" },
	{ "unterminated comment", "\n/* x\n\n", 2, "unterminated comment" },
	{ "missing include", "\ninclude(\"nope.conf\")\n", 2,
	    "include @D/nope.conf: No such file or directory" },
	{ "include of a directory", "include(\"inc\")\n", 1,
	    "include @D/inc: not a regular file" },
	{ "include with a bad mode", "include(\"a\", \"b\")\n", 1,
	    "include: mode \"b\" is not enforce, warn or log" },
	{ "include with three arguments", "include(\"a\", \"log\", \"c\")\n",
	    1, "include: wants a file name or pattern, and optionally a mode" },
	{ "official for no filter", "official nosuch {\n\tdomains = "
	    "{ \"a.example\" }\n}\n", 3,
	    "official nosuch: no filter of that name above" },
	{ "official with an address", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n}\nofficial f {\n\tdomains = "
	    "{ \"a@b.example\" }\n}\n", 7,
	    "official f: \"a@b.example\" is not a domain" },
	{ "bad trusted sender", "skip_senders = { \"<a@b.example>\" }\n", 1,
	    "skip_senders: \"<a@b.example>\" is not an address or a domain" },
	{ "bad global mode", "mode = loud\n", 1,
	    "mode: \"loud\" is not enforce, warn or log" },
	{ "include inside a filter", "filter f {\n\tinclude(\"x\")\n}\n", 2,
	    "filter f: no such option 'include'" },

	{ "bad regex", "filter f {\n\tmatch = { 'helo:x',\n"
	    "\t\t'header_from:(unclosed' }\n\taction = reject\n}\n", 3,
	    "filter f: bad regex '(unclosed': missing closing parenthesis" },
	{ "unknown target", "filter f {\n\tmatch = 'sender:x'\n"
	    "\taction = reject\n}\n", 2, "filter f: unknown target sender" },
	{ "bad whitespace mode", "filter f {\n\tany = 'decode_subject:x'\n"
	    "\twhitespace = squeeze\n\taction = reject\n}\n", 3,
	    "filter f: whitespace: \"squeeze\" is not collapse or strip" },
	{ "condition without a target", "filter f {\n\tmatch = 'nocolon'\n"
	    "\taction = reject\n}\n", 2,
	    "filter f: condition 'nocolon' is not TARGET:REGEX" },
	{ "empty regex", "filter f {\n\tmatch = 'helo:!'\n"
	    "\taction = reject\n}\n", 2,
	    "filter f: condition 'helo:!' has an empty regex" },
	{ "no action", "filter f {\n\tmatch = 'helo:x'\n}\n", 1,
	    "filter f: no action" },
	{ "unknown action", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = nuke\n}\n", 3,
	    "filter f: action: \"nuke\" is not accept, warn, reject" },
	{ "no condition", "filter f {\n\taction = reject\n}\n", 1,
	    "filter f: no condition in match or any" },
	{ "empty filter", "filter f {\n}\n", 2, "filter f: no action" },
	{ "duplicate filter", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n}\n\nfilter f {\n\tmatch = 'helo:y'\n"
	    "\taction = reject\n}\n", 6, "duplicate filter name 'f' (first "
	    "defined at @D/bad.conf:1)" },
	{ "bad filter name", "filter \"a b\" {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n}\n", 1, "filter a b: a name is made of" },
	{ "4xx reply on reject", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n\treply = \"451 4.7.1 x\"\n}\n", 1,
	    "filter f: reply \"451 4.7.1 x\": reject needs a 5xx code" },
	{ "4.x.x status on a 5xx reply", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n\treply = \"550 4.7.1 x\"\n}\n", 1,
	    "filter f: reply \"550 4.7.1 x\": a 5xx code needs a 5.x.x "
	    "status" },
	{ "5xx reply on tempfail", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = tempfail\n\treply = \"550 x\"\n}\n", 1,
	    "filter f: reply \"550 x\": tempfail needs a 4xx code" },
	{ "reply without a code", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n\treply = \"Go away\"\n}\n", 1,
	    "filter f: reply \"Go away\": no three-digit SMTP code first" },
	{ "malformed status", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n\treply = \"550 5.7 x\"\n}\n", 1,
	    "filter f: reply \"550 5.7 x\": malformed enhanced status code" },
	{ "reply on warn", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = warn\n\treply = \"550 5.7.1 x\"\n}\n", 1,
	    "filter f: reply \"550 5.7.1 x\": only reject, tempfail and "
	    "quarantine take one" },
	{ "line break in a reply", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n\treply = \"550 5.7.1 a\\nb\"\n}\n", 4,
	    "filter f: reply: must not contain CR or LF" },
	{ "subject_prefix on reject", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n\tsubject_prefix = \"[x]\"\n}\n", 1,
	    "filter f: subject_prefix is only for warn" },
	{ "unknown filter option", "filter f {\n\tmatch = 'helo:x'\n"
	    "\taction = reject\n\n\tbogus = 1\n}\n", 5,
	    "filter f: no such option 'bogus'" },
	{ "filter without a name", "filter {\n\tmatch = 'helo:x'\n}\n", 1,
	    "missing title for section 'filter'" },
};

static void
test_bad(void)
{
	struct config	*cf;
	size_t		 i;

	subdir("inc");		/* for "include of a directory" */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cf = load_text("bad.conf", bad[i].b_text);
		ok(cf == NULL && logged("bad.conf", bad[i].b_line,
		    bad[i].b_msg), "refused: %s", bad[i].b_desc);
		config_free(cf);
	}
	ok(load("nonexistent.conf") == NULL && strstr(logbuf,
	    "nonexistent.conf: No such file or directory") != NULL,
	    "a missing configuration file");
	/* Errors leave libconfuse's lexer in a clean state. */
	cf = load_text("again.conf", values_conf);
	ok(cf != NULL && cf->cf_nlisten == 3, "a good file loads after "
	    "%zu bad ones", sizeof(bad) / sizeof(bad[0]));
	config_free(cf);
}

/* Addresses as MTAs and the report pipe write them. */
static void
test_addresses(void)
{
	struct cidr	 list[3];
	char		 out[INET6_ADDRSTRLEN];
	int		 family;
	static const struct {
		const char	*a_text;
		int		 a_in;
	} addrs[] = {
		{ "192.0.2.5", 1 }, { "192.0.3.5", 0 },
		{ "IPv6:2001:db8::1", 1 }, { "ipv6:[2001:DB8::2]", 1 },
		{ "[::1]", 1 }, { "::2", 0 },
		{ "::ffff:192.0.2.7", 1 }, { "IPv6:::ffff:192.0.3.7", 0 },
		{ "client.example", 0 }, { "", 0 }, { "[", 0 },
		{ "192.0.2.5/24", 0 },
	};
	size_t		 i;

	ok(cidr_parse("192.0.2.0/24", &list[0]) == 0 &&
	    cidr_parse("2001:db8::/32", &list[1]) == 0 &&
	    cidr_parse("::1", &list[2]) == 0, "three networks parse");
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		ok(cidr_match_string(list, 3, addrs[i].a_text) ==
		    addrs[i].a_in, "'%s' is %sin the list", addrs[i].a_text,
		    addrs[i].a_in ? "" : "not ");
	ok(report_addr_normalize("IPv6:2001:DB8:0:0::1", out, sizeof(out),
	    &family) == 0 && strcmp(out, "2001:db8::1") == 0 &&
	    family == AF_INET6, "IPv6:2001:DB8:0:0::1 is reported as %s", out);
	ok(report_addr_normalize("[::ffff:10.1.2.3]", out, sizeof(out),
	    &family) == 0 && strcmp(out, "10.1.2.3") == 0 &&
	    family == AF_INET, "[::ffff:10.1.2.3] is reported as %s", out);
	ok(report_addr_normalize("10.1.2", out, sizeof(out), &family) == -1,
	    "10.1.2 is no address");
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
main(void)
{
	const char	*tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/t_config.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	log_init(1, LOG_DEBUG, NULL);
	test_defaults();
	test_values();
	test_filters();
	test_targets();
	test_include();
	test_shipped();
	test_bad();
	test_addresses();
	/* When something failed, the files are left for a look. */
	if (tap_failed == 0)
		(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		printf("# files kept in %s\n", dir);
	return tap_done();
}
