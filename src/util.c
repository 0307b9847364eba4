/*
 * Small helpers shared by every process: allocation that fails loudly at
 * start-up, CIDR blocks, descriptor flags, clocks and action names.
 */

#include "phishmilter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

static const char *const action_names[ACTION_MAX] = {
	[ACTION_ACCEPT] = "accept",
	[ACTION_WARN] = "warn",
	[ACTION_REJECT] = "reject",
	[ACTION_TEMPFAIL] = "tempfail",
	[ACTION_DISCARD] = "discard",
	[ACTION_QUARANTINE] = "quarantine",
};

static const char *const mode_names[MODE_MAX] = {
	[MODE_ENFORCE] = "enforce",
	[MODE_WARN] = "warn",
	[MODE_LOG] = "log",
};

void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		fatal("malloc");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		fatal("calloc");
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t size)
{
	void	*p;

	if ((p = reallocarray(old, n == 0 ? 1 : n, size == 0 ? 1 : size))
	    == NULL)
		fatal("reallocarray");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return p;
}

/* Parses "addr" or "addr/bits" for IPv4 and IPv6; 0 or -1. */
int
cidr_parse(const char *s, struct cidr *c)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash;
	const char	*errstr;
	unsigned int	 max;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->cidr_addr) == 1) {
		c->cidr_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->cidr_addr) == 1) {
		c->cidr_family = AF_INET6;
		max = 128;
	} else
		return -1;
	c->cidr_bits = max;
	if (slash != NULL) {
		c->cidr_bits = (unsigned int)strtonum(slash, 0, max, &errstr);
		if (errstr != NULL)
			return -1;
	}
	return 0;
}

static int
cidr_contains(const struct cidr *c, sa_family_t family, const uint8_t *addr)
{
	unsigned int	full, rest;
	uint8_t		mask;

	if (c->cidr_family != family)
		return 0;
	full = c->cidr_bits / 8;
	rest = c->cidr_bits % 8;
	if (memcmp(c->cidr_addr, addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (c->cidr_addr[full] & mask) == (addr[full] & mask);
}

/* An IPv4-mapped IPv6 address is tested as the IPv4 address it carries. */
static int
cidr_match_raw(const struct cidr *list, size_t n, sa_family_t family,
    const uint8_t *addr)
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	size_t			i;

	if (family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
		family = AF_INET;
		addr += 12;
	}
	for (i = 0; i < n; i++)
		if (cidr_contains(&list[i], family, addr))
			return 1;
	return 0;
}

int
cidr_match(const struct cidr *list, size_t n, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		return cidr_match_raw(list, n, AF_INET,
		    (const uint8_t *)&sin->sin_addr);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		return cidr_match_raw(list, n, AF_INET6,
		    sin6->sin6_addr.s6_addr);
	default:
		return 0;
	}
}

/*
 * An address as text, as MTAs write one ("192.0.2.1", "IPv6:2001:db8::1",
 * "[::1]"), into addr (4 or 16 bytes) and *family; an IPv4-mapped IPv6
 * address comes out as the IPv4 address it carries.  -1 if it is none.
 */
int
addr_parse(const char *s, uint8_t addr[16], int *family)
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	char			buf[INET6_ADDRSTRLEN + 8];
	size_t			len;

	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	if (*s == '[')
		s++;
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == ']')
		buf[len - 1] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, addr) != 1)
		return -1;
	*family = AF_INET6;
	if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
		memmove(addr, addr + 12, 4);
		*family = AF_INET;
	}
	return 0;
}

/* Matches an address as text, as addr_parse() reads it. */
int
cidr_match_string(const struct cidr *list, size_t n, const char *s)
{
	uint8_t	addr[16];
	int	family;

	if (addr_parse(s, addr, &family) == -1)
		return 0;
	return cidr_match_raw(list, n, (sa_family_t)family, addr);
}

int
set_nonblock(int fd)
{
	int	flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int
set_cloexec(int fd)
{
	int	flags;

	if ((flags = fcntl(fd, F_GETFD)) == -1)
		return -1;
	return fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/*
 * ASCII character classes, whatever the locale: protocol and markup
 * syntax (HTML, URLs, MIME) is ASCII, and <ctype.h> is undefined for
 * the negative chars of UTF-8 text.
 */
int
ascii_isalpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int
ascii_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

int
ascii_isalnum(int c)
{
	return ascii_isalpha(c) || ascii_isdigit(c);
}

int
ascii_tolower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* The value of a hexadecimal digit, or -1. */
int
ascii_hexval(int c)
{
	if (ascii_isdigit(c))
		return c - '0';
	c = ascii_tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *
action_name(enum action a)
{
	if ((unsigned int)a >= ACTION_MAX)
		return "unknown";
	return action_names[a];
}

int
action_parse(const char *s, enum action *a)
{
	int	i;

	for (i = 0; i < ACTION_MAX; i++)
		if (strcasecmp(s, action_names[i]) == 0) {
			*a = (enum action)i;
			return 0;
		}
	return -1;
}

const char *
mode_name(enum mode m)
{
	if ((unsigned int)m >= MODE_MAX)
		return "unknown";
	return mode_names[m];
}

int
mode_parse(const char *s, enum mode *m)
{
	int	i;

	for (i = 0; i < MODE_MAX; i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum mode)i;
			return 0;
		}
	return -1;
}

/* The mode a filter's decisions are carried out in. */
enum mode
filter_mode(const struct config *cf, const struct filter *f)
{
	return f->f_mode == MODE_UNSET ? cf->cf_mode : (enum mode)f->f_mode;
}

/* Whether domain (of length len) is d or a subdomain of d. */
static int
domain_under(const char *domain, size_t len, const char *d)
{
	size_t	dl = strlen(d);

	if (len < dl || strncasecmp(domain + len - dl, d, dl) != 0)
		return 0;
	return len == dl || domain[len - dl - 1] == '.';
}

/*
 * The next "<addr>" of a decoded address list ("Name <a@b>, <c@d>") at
 * or after *pos: sets addr and alen, moves *pos past it; 0 at the end.
 */
int
address_next(const char *v, size_t len, size_t *pos, const char **addr,
    size_t *alen)
{
	const char	*lt, *gt;

	if (*pos >= len || (lt = memchr(v + *pos, '<', len - *pos)) == NULL ||
	    (gt = memchr(lt, '>', len - (size_t)(lt - v))) == NULL)
		return 0;
	*addr = lt + 1;
	*alen = (size_t)(gt - lt - 1);
	*pos = (size_t)(gt - v) + 1;
	return 1;
}

/*
 * Whether an address matches a list of addresses ("user@example.com",
 * compared whole) and domains ("example.com", its subdomains too).
 */
int
address_in(const char *addr, size_t len, char *const *list, size_t n)
{
	const char	*at = NULL, *p;
	size_t		 i;

	for (p = addr; p < addr + len; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (strchr(list[i], '@') != NULL) {
			if (strlen(list[i]) == len &&
			    strncasecmp(list[i], addr, len) == 0)
				return 1;
		} else if (domain_under(at + 1, len - (size_t)(at + 1 - addr),
		    list[i]))
			return 1;
	}
	return 0;
}

/*
 * Creates the directory a file (pid file, unix socket) is to be made in
 * when it is missing, mode 0755 whatever the umask, so that the MTA can
 * reach a socket in it.  Only the last component: a mistyped path stays
 * an error, which the caller's open or bind then reports.
 */
void
make_file_dir(const char *path)
{
	char	dir[1024], *slash;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) == 0)
		(void)chmod(dir, 0755);
	else if (errno != EEXIST && errno != ENOENT)
		log_warn("mkdir %s", dir);
}
