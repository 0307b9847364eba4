/*
 * phishmilter: shared types and the prototypes of every file, grouped by
 * file.  See DESIGN in the README for the process model.
 */

#ifndef PHISHMILTER_H
#define PHISHMILTER_H

/* First, so that _GNU_SOURCE and friends reach every system header. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "compat.h"

#ifndef PHISHMILTER_CONF
#define PHISHMILTER_CONF	"/etc/phishmilter/phishmilter.conf"
#endif
#ifndef PHISHMILTER_USER
#define PHISHMILTER_USER	"_phishmilter"
#endif
#ifndef PHISHMILTER_CHROOT
#define PHISHMILTER_CHROOT	""
#endif
#ifndef PHISHMILTER_PIDFILE
#define PHISHMILTER_PIDFILE	"/run/phishmilter/phishmilter.pid"
#endif

#define PM_MAXLISTEN		8

/* What a filter decides; also the names used in the configuration. */
enum action {
	ACTION_ACCEPT = 0,
	ACTION_WARN,
	ACTION_REJECT,
	ACTION_TEMPFAIL,
	ACTION_DISCARD,
	ACTION_QUARANTINE,
	ACTION_MAX
};

/* How a decision is carried out (mode): for real, as a mark, or logged. */
enum mode {
	MODE_ENFORCE = 0,
	MODE_WARN,		/* refusals become warnings */
	MODE_LOG,		/* decisions are only logged */
	MODE_MAX
};
#define MODE_UNSET		(-1)	/* a filter that follows its file's */

/* What a condition looks at (DESIGN.md, "Targets"). */
enum target {
	TARGET_HEADER = 0,	/* header_<name>: raw, every occurrence */
	TARGET_ENVELOPE_FROM,
	TARGET_ENVELOPE_RCPT,
	TARGET_REMOTE_IP,
	TARGET_REMOTE_HOST,
	TARGET_HELO,
	TARGET_MACRO,		/* macro_<name> */
	TARGET_DECODE_FROM,	/* decoded targets, from here on */
	TARGET_DECODE_TO,
	TARGET_DECODE_CC,
	TARGET_DECODE_REPLY_TO,
	TARGET_DECODE_SUBJECT,
	TARGET_DECODE_TEXT,
	TARGET_DECODE_HTML,
	TARGET_URL,
	TARGET_URL_HOST,
	TARGET_ATTACHMENT_NAME,
	TARGET_ATTACHMENT_TYPE,
	TARGET_MAX
};
#define TARGET_DECODED_FIRST	TARGET_DECODE_FROM
#define TARGET_IS_DECODED(t)	((t) >= TARGET_DECODED_FIRST)
#define DECODED_MAX		(TARGET_MAX - TARGET_DECODED_FIRST)

/* Protocol steps a configuration needs the MTA to send. */
#define NEED_HELO		0x01
#define NEED_RCPT		0x02
#define NEED_HEADERS		0x04
#define NEED_BODY		0x08
#define NEED_CHGHDRS		0x10	/* may rewrite Subject */
#define NEED_ADDHDRS		0x20	/* may add a warning header */
#define NEED_QUARANTINE		0x40
#define NEED_DECODE		0x80	/* MIME decoding at end of message */

/* One "target:regex" of a filter. */
struct cond {
	enum target	 c_target;
	char		*c_name;	/* header name (lower case), macro name */
	char		*c_pattern;	/* the regex as PCRE2 sees it */
	int		 c_negate;
	int		 c_strip;	/* whitespace = strip: match without any */
	pcre2_code	*c_re;		/* set by rules_compile() */
};

struct filter {
	char		*f_name;
	char		*f_file;	/* where it was defined */
	int		 f_line;
	struct cond	*f_match;	/* all must hold */
	size_t		 f_nmatch;
	struct cond	*f_any;		/* one must hold, if any given */
	size_t		 f_nany;
	enum action	 f_action;
	int		 f_mode;	/* enum mode, or MODE_UNSET */
	char		*f_reply;	/* "550 5.7.1 text"; NULL: default */
	char		*f_subject_prefix; /* warn; NULL: the global one */
	int		 f_report;
	char		**f_official;	/* extra official sender domains */
	size_t		 f_nofficial;
};

/* An address block from skip_networks or safe_address. */
struct cidr {
	sa_family_t	 cidr_family;
	uint8_t		 cidr_addr[16];
	unsigned int	 cidr_bits;
};

struct spamhaus_config {
	int		 sh_report;
	char		*sh_token_file;
	char		*sh_url;		/* IP reports */
	struct cidr	*sh_safe;
	size_t		 sh_nsafe;
	char		*sh_threat_type;
	char		*sh_reason;		/* template: %f %v %q %% */
	char		*sh_spool;
	size_t		 sh_spool_size;		/* bytes */
	int		 sh_report_private;	/* RFC 1918, loopback... */
	int		 sh_ttl;		/* seconds between repeats */
	int		 sh_rate;		/* requests per minute */
	int		 sh_connect_timeout;	/* seconds */
	int		 sh_request_timeout;	/* seconds */
	int		 sh_retry_min;		/* seconds, first backoff */
	int		 sh_retry_max;
	int		 sh_report_urls;
	char		*sh_url_endpoint;
	char		*sh_url_threat_type;
	int		 sh_max_urls;		/* per message */
	int		 sh_report_email;
	char		*sh_email_endpoint;
	char		*sh_email_threat_type;
	size_t		 sh_max_email_size;
};

struct config {
	char		*cf_file;
	char		*cf_listen[PM_MAXLISTEN];
	size_t		 cf_nlisten;
	char		*cf_user;
	uid_t		 cf_uid;	/* resolved from cf_user */
	gid_t		 cf_gid;
	char		*cf_chroot;	/* "" for none */
	char		*cf_pidfile;
	char		*cf_socket_owner; /* unix socket; NULL: keep */
	char		*cf_socket_group;
	mode_t		 cf_socket_mode;
	int		 cf_min_spare;
	int		 cf_max_spare;
	int		 cf_max_workers;
	int		 cf_max_requests;
	int		 cf_timeout;		/* seconds of MTA silence */
	int		 cf_grace;		/* seconds to drain on TERM */
	int		 cf_message_timeout;	/* seconds per message */
	size_t		 cf_max_message_size;
	enum action	 cf_oversize_action;
	enum action	 cf_error_action;	/* tempfail or accept */
	enum mode	 cf_mode;		/* unless a filter says */
	struct cidr	*cf_skip;
	size_t		 cf_nskip;
	char		**cf_skip_senders;	/* addresses and domains */
	size_t		 cf_nskip_senders;
	int		 cf_skip_authenticated;
	int		 cf_log_level;		/* LOG_ERR .. LOG_DEBUG */
	char		*cf_log_file;		/* NULL: syslog */
	char		*cf_log_facility;
	char		*cf_warn_header;
	char		*cf_subject_prefix;	/* "" for none */
	uint32_t	 cf_match_limit;
	uint32_t	 cf_depth_limit;
	unsigned int	 cf_max_mime_depth;
	unsigned int	 cf_max_mime_parts;
	unsigned int	 cf_max_headers;
	struct spamhaus_config cf_spamhaus;
	struct filter	*cf_filters;
	size_t		 cf_nfilters;
};

/* A listening socket, bound by the parent. */
struct listener {
	char		*l_spec;	/* as configured */
	int		 l_fd;
	int		 l_family;	/* AF_INET, AF_INET6, AF_UNIX */
	char		*l_path;	/* unix socket to unlink at exit */
	int		 l_inherited;	/* from systemd */
};

/* The values of the decoded targets of one message. */
struct valuelist {
	char		**vl_v;
	size_t		 *vl_len;
	size_t		  vl_n;
	size_t		  vl_size;
};

struct decoded {
	struct valuelist dc_v[DECODED_MAX];
	int		 dc_headers_done;
	int		 dc_body_done;
	unsigned int	 dc_hits;	/* MIME_HIT_* limits that cut it */
	unsigned int	 dc_errors;	/* decode failures, kept as text */
};

/* The MIME walk (mime.c): limits, and one leaf part as a reader sees it. */
struct mime_limits {
	unsigned int	 ml_depth;
	unsigned int	 ml_parts;
};

#define MIME_HIT_DEPTH		0x01
#define MIME_HIT_PARTS		0x02
#define MIME_HIT_PARSE		0x04	/* not parsable as MIME */
#define MIME_HIT_STOPPED	0x08	/* the callback asked to stop */
#define MIME_HIT_HEADERS	0x10	/* max_headers */
#define MIME_HIT_SIZE		0x20	/* max_message_size */

struct mime_part {
	char		 mp_type[128];	/* "text/plain", lower case */
	const char	*mp_charset;	/* as declared, or NULL */
	char		*mp_filename;	/* decoded, or NULL */
	int		 mp_attachment;
	const char	*mp_data;	/* transfer-decoded bytes */
	size_t		 mp_len;
};
typedef int	(*mime_part_fn)(void *, const struct mime_part *);

/* Status records, children to parent; one write(2) each. */
enum child_state {
	CHILD_READY = 1,	/* compiled, privileges dropped, idle */
	CHILD_BUSY,		/* holds an MTA connection */
	CHILD_IDLE		/* connection done, waiting again */
};

struct status_record {
	pid_t		 sr_pid;
	uint32_t	 sr_state;
};

/* The fixed descriptors a worker inherits. */
struct worker_fds {
	int		 wf_status;	/* write end of the status pipe */
	int		 wf_report;	/* write end of the report pipe, -1 */
	int		 wf_alive;	/* hangs up when the parent dies */
	struct listener	*wf_listen;
	size_t		 wf_nlisten;
};

/* A source of target values for the rule engine. */
typedef int	(*value_fn)(void *, const char *, size_t);
struct target_source {
	int		(*ts_each)(void *, const struct cond *, value_fn,
			    void *);
	void		*ts_ctx;
};

/* What the rules decided for one message. */
struct rules_result {
	const struct filter	 *rr_decider;	/* NULL: no decisive filter */
	const struct filter	**rr_warn;	/* warn filters that matched */
	size_t			  rr_nwarn;
	unsigned int		  rr_limit_hits; /* matches cut by limits */
	int			  rr_timeout;	/* budget spent: incomplete */
};

/* Per-process compiled state of the rule engine. */
struct rules_plan;
struct ruleset {
	const struct config	 *rs_config;
	pcre2_match_data	 *rs_md;
	pcre2_match_context	 *rs_mctx;
	pcre2_jit_stack		 *rs_jit;
	const struct filter	**rs_warn;
	unsigned int		  rs_needs;	/* NEED_* */
	long long		  rs_deadline;	/* now_ms() bound, 0: none */
	struct rules_plan	 *rs_plan;	/* evaluation order, prefilter */
	int			  rs_plain;	/* tests: without rs_plan */
};

/* compat.c and friends: see compat.h */

/* log.c */
void		 log_init(int, int, const char *);
int		 log_open_file(const char *);
void		 log_set_level(int);
int		 log_get_level(void);
void		 log_set_procname(const char *);
int		 log_facility_code(const char *);
void		 log_warn(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_warnx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_info(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_debug(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_vwrite(int, const char *, va_list)
		    __attribute__((__format__(printf, 2, 0)));
void		 fatal(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
void		 fatalx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
size_t		 log_escape(char *, size_t, const char *, size_t);

/* util.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);
int		 cidr_parse(const char *, struct cidr *);
int		 cidr_match(const struct cidr *, size_t,
		    const struct sockaddr *);
int		 addr_parse(const char *, uint8_t [16], int *);
int		 cidr_match_string(const struct cidr *, size_t, const char *);
int		 ascii_isalpha(int);
int		 ascii_isdigit(int);
int		 ascii_isalnum(int);
int		 ascii_tolower(int);
int		 ascii_hexval(int);
int		 set_nonblock(int);
int		 set_cloexec(int);
void		 make_file_dir(const char *);
long long	 now_ms(void);
long long	 now_us(void);
const char	*action_name(enum action);
const char	*mode_name(enum mode);
int		 mode_parse(const char *, enum mode *);
enum mode	 filter_mode(const struct config *, const struct filter *);
int		 action_parse(const char *, enum action *);
int		 address_in(const char *, size_t, char *const *, size_t);
int		 address_next(const char *, size_t, size_t *, const char **,
		    size_t *);

/* config.c */
struct config	*config_load(const char *);
void		 config_free(struct config *);
int		 config_target_parse(const char *, size_t, enum target *,
		    char **);
const char	*config_target_name(enum target);

/* What charset_to_utf8() did, in *how. */
enum charset_how {
	CHARSET_DECLARED = 0,	/* decoded as the label says */
	CHARSET_UTF8,		/* undeclared or mislabelled, valid UTF-8 */
	CHARSET_GUESSED,	/* a heuristic picked another charset */
	CHARSET_RAW		/* byte-wise windows-1252 fallback */
};

/* charset.c */
char		*charset_to_utf8(const char *, const char *, size_t, size_t *,
		    int *);
const char	*charset_canonical(const char *);
int		 charset_init(void);
void		 charset_cleanup(void);

/* mime.c */
void		 mime_init(void);
char		*mime_decode_header(const char *, size_t, unsigned int *);
char		*mime_decode_addresses(const char *, size_t, unsigned int *);
unsigned int	 mime_walk(const char *, size_t, const struct mime_limits *,
		    mime_part_fn, void *, unsigned int *);

/* html.c: the tokenizer html.c and url.c share. */
#define HTML_NAMEMAX	16

struct html_tag {
	char		 ht_name[HTML_NAMEMAX];	/* lower case; "" if longer */
	int		 ht_end;		/* </name> */
	int		 ht_selfclosing;	/* <name/> */
};

struct html_handler {
	int		(*hh_text)(void *, const char *, size_t,
			    const char *);
	int		(*hh_attr)(void *, const struct html_tag *,
			    const char *, size_t, const char *, size_t);
	int		(*hh_tag)(void *, const struct html_tag *);
	void		*hh_arg;
};

char		*html_unescape(const char *, size_t, size_t *);
char		*html_unescape_attr(const char *, size_t, size_t *);
char		*html_to_text(const char *, size_t, size_t *);
char		*html_to_text_tee(const char *, size_t, size_t *,
		    const struct html_handler *);
int		 html_walk(const char *, size_t, const struct html_handler *);

/* url.c */
typedef int	(*url_fn)(void *, const char *, size_t);

int		 url_extract_text(const char *, size_t, url_fn, void *);
int		 url_extract_html(const char *, size_t, url_fn, void *);
int		 url_extract_html_text(const char *, size_t, url_fn, void *,
		    char **, size_t *);
int		 url_host(const char *, size_t, char *, size_t);

/* text.c */
char		*text_normalize(const char *, size_t, int, size_t *);

/* rules.c */
int		 rules_check_pattern(const char *, char *, size_t);
int		 rules_prefilter_text(const char *, char *, size_t);
int		 rules_compile(struct ruleset *, struct config *);
void		 rules_free(struct ruleset *);
unsigned int	 rules_needs(const struct config *);
void		 rules_evaluate(struct ruleset *, const struct target_source *,
		    struct rules_result *);

/* listen.c */
int		 listen_open(struct listener *, const char *,
		    const struct config *);
int		 listen_inherit(struct listener *, size_t);
int		 listen_inherited(void);
void		 listen_close(struct listener *);

/* privsep.c */
void		 privsep_drop(const struct config *, const char *, int);
int		 privsep_lookup(struct config *);
int		 privsep_spool(const struct config *);

/* reporter.c */
void		 reporter_main(const struct config *, char *, size_t, int)
		    __attribute__((__noreturn__));

/* token.c */
#define TOKEN_MAX	1024
int		 token_read(const struct config *, char *, size_t);

/* session.c */
struct session;
struct session	*session_new(const struct config *, struct ruleset *, int);
void		 session_free(struct session *);
int		 session_serve(struct session *, volatile sig_atomic_t *, int);

/* worker.c */
void		 worker_main(struct config *, const struct worker_fds *,
		    unsigned int)
		    __attribute__((__noreturn__));

/* offline.c */
int		 offline_main(const char *, char **, int, int);
struct session	*offline_session(const struct config *, struct ruleset *,
		    const char *);
void		 offline_feed(struct session *, char *, size_t);

/* parent.c */
int		 parent_main(const char *, int, int);

#endif /* PHISHMILTER_H */
