/*
 * Logging: syslog (facility mail by default), a log file, or stderr in
 * the foreground.  relayd's log_warn/log_warnx/log_info/log_debug/fatal
 * family; every process logs through here with its own name.
 */

#include "phishmilter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int		 log_to_stderr;
static int		 log_fd = -1;
static int		 log_level = LOG_INFO;
static const char	*log_procname = "parent";

static const struct {
	const char	*name;
	int		 code;
} facilities[] = {
	{ "mail", LOG_MAIL },	{ "daemon", LOG_DAEMON },
	{ "user", LOG_USER },	{ "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

int
log_facility_code(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].code;
	return -1;
}

/* Foreground logs to stderr; otherwise syslog until a file is opened. */
void
log_init(int foreground, int level, const char *facility)
{
	int	code = facility ? log_facility_code(facility) : LOG_MAIL;

	log_to_stderr = foreground;
	log_level = level;
	if (!foreground)
		openlog("phishmilter", LOG_PID | LOG_NDELAY,
		    code == -1 ? LOG_MAIL : code);
	tzset();
}

/* Opens (or reopens, after rotation) the log file; NULL goes back to syslog. */
int
log_open_file(const char *path)
{
	int	fd;

	if (path == NULL || *path == '\0') {
		if (log_fd != -1)
			close(log_fd);
		log_fd = -1;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

void
log_set_procname(const char *name)
{
	log_procname = name;
}

static void
log_file_write(int fd, int pri, const char *msg)
{
	char		 line[8192], stamp[32];
	struct tm	 tm;
	time_t		 t = time(NULL);
	int		 n;

	localtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	if (fd == STDERR_FILENO)
		n = snprintf(line, sizeof(line), "phishmilter[%ld]: %s: %s\n",
		    (long)getpid(), log_procname, msg);
	else
		n = snprintf(line, sizeof(line),
		    "%s phishmilter[%ld]: %s: %s\n", stamp, (long)getpid(),
		    log_procname, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line: lines of several processes never interleave. */
	(void)write(fd, line, (size_t)n);
}

void
log_vwrite(int pri, const char *fmt, va_list ap)
{
	char	msg[4096];
	int	saved = errno;

	if (pri > log_level) {
		errno = saved;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_stderr)
		log_file_write(STDERR_FILENO, pri, msg);
	else if (log_fd != -1)
		log_file_write(log_fd, pri, msg);
	else
		syslog(pri, "%s: %s", log_procname, msg);
	errno = saved;
}

static void
log_emit(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(pri, fmt, ap);
	va_end(ap);
}

static void
log_with_errno(int pri, const char *fmt, va_list ap)
{
	char	buf[4096];
	int	saved = errno;

	if (fmt == NULL) {
		log_emit(pri, "%s", strerror(saved));
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_emit(pri, "%s: %s", buf, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_with_errno(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_with_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * Copies src into dst with control characters and backslash written as
 * \n, \\ or \xNN, so that a peer can neither forge log lines nor hide
 * text in them; UTF-8 passes, so Japanese subjects stay readable.
 * Returns the length written.
 */
size_t
log_escape(char *dst, size_t size, const char *src, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;

	if (size == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char	c = (unsigned char)src[i];
		char		e[4];
		size_t		n;

		if ((c >= 0x20 && c != 0x7f && c != '\\')) {
			e[0] = (char)c;
			n = 1;
		} else if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
			e[0] = '\\';
			e[1] = c == '\\' ? '\\' : c == '\n' ? 'n' :
			    c == '\r' ? 'r' : 't';
			n = 2;
		} else {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 0xf];
			n = 4;
		}
		if (o + n >= size)
			break;
		memcpy(dst + o, e, n);
		o += n;
	}
	dst[o] = '\0';
	return o;
}
