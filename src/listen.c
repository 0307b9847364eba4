/*
 * Listening sockets, bound by the root parent before any child exists:
 * inet:HOST:PORT (or PORT@HOST, the libmilter way), inet6:[ADDR]:PORT,
 * unix:/path with owner, group and mode set before privileges drop, and
 * sockets handed over by systemd (LISTEN_FDS).
 */

#include "phishmilter.h"

#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LISTEN_BACKLOG	1024
#define SD_LISTEN_FDS_START 3

/* Splits "HOST:PORT", "[ADDR]:PORT" or "PORT@HOST" into its parts. */
static int
listen_split(char *rest, char **host, char **port)
{
	char	*p;

	if ((p = strchr(rest, '@')) != NULL) {
		*p = '\0';
		*port = rest;
		*host = p + 1;
	} else if (*rest == '[') {
		if ((p = strchr(rest, ']')) == NULL || p[1] != ':')
			return -1;
		*p = '\0';
		*host = rest + 1;
		*port = p + 2;
	} else if ((p = strrchr(rest, ':')) != NULL) {
		*p = '\0';
		*host = rest;
		*port = p + 1;
	} else {
		*host = NULL;		/* a bare port: every address */
		*port = rest;
	}
	return **port == '\0' ? -1 : 0;
}

static int
listen_inet(struct listener *l, char *rest, int family)
{
	struct addrinfo	 hints, *res;
	char		*host, *port;
	int		 fd, on = 1, rc;

	if (listen_split(rest, &host, &port) == -1) {
		log_warnx("listen %s: expected HOST:PORT", l->l_spec);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host != NULL && *host ? host : NULL, port,
	    &hints, &res)) != 0) {
		log_warnx("listen %s: %s", l->l_spec, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (res->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		log_warn("listen %s", l->l_spec);
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	l->l_family = res->ai_family;
	freeaddrinfo(res);
	return fd;
}

/* A socket file nobody answers on is stale and may go. */
static int
listen_unix_stale(const struct sockaddr_un *sun, const char *spec)
{
	struct stat	st;
	int		fd, rc;

	if (lstat(sun->sun_path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("listen %s: exists and is not a socket", spec);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0) {
		log_warnx("listen %s: another process answers on it", spec);
		return -1;
	}
	/* Only a refused connection proves nobody listens. */
	if (errno != ECONNREFUSED) {
		log_warn("listen %s: cannot tell whether it is in use", spec);
		return -1;
	}
	return unlink(sun->sun_path);
}

static int
listen_unix_perms(const char *path, const struct config *cf)
{
	struct passwd	*pw;
	struct group	*gr;
	uid_t		 uid = (uid_t)-1;
	gid_t		 gid = (gid_t)-1;

	if (cf->cf_socket_owner != NULL) {
		if ((pw = getpwnam(cf->cf_socket_owner)) == NULL) {
			log_warnx("socket_owner %s: no such user",
			    cf->cf_socket_owner);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (cf->cf_socket_group != NULL) {
		if ((gr = getgrnam(cf->cf_socket_group)) == NULL) {
			log_warnx("socket_group %s: no such group",
			    cf->cf_socket_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(path, uid, gid) == -1) {
		log_warn("chown %s", path);
		return -1;
	}
	if (chmod(path, cf->cf_socket_mode) == -1) {
		log_warn("chmod %s", path);
		return -1;
	}
	return 0;
}

static int
listen_unix(struct listener *l, const char *path, const struct config *cf)
{
	struct sockaddr_un	sun;
	mode_t			old;
	int			fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (*path != '/' || strlcpy(sun.sun_path, path,
	    sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		log_warnx("listen %s: needs an absolute path shorter than %zu",
		    l->l_spec, sizeof(sun.sun_path));
		return -1;
	}
	make_file_dir(path);
	if (listen_unix_stale(&sun, l->l_spec) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return -1;
	}
	/* No window in which the socket exists with a looser mode. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1) {
		log_warn("listen %s", l->l_spec);
		close(fd);
		return -1;
	}
	l->l_path = xstrdup(path);
	l->l_family = AF_UNIX;
	if (listen_unix_perms(path, cf) == -1) {
		close(fd);	/* listen_open() unlinks the path */
		return -1;
	}
	return fd;
}

static int
listen_bind(struct listener *l, const char *spec, const struct config *cf)
{
	char	*copy, *rest;
	int	 fd = -1;

	copy = xstrdup(spec);
	if ((rest = strchr(copy, ':')) == NULL)
		log_warnx("listen %s: expected inet:, inet6: or unix:", spec);
	else {
		*rest++ = '\0';
		if (strcmp(copy, "inet") == 0)
			fd = listen_inet(l, rest, AF_INET);
		else if (strcmp(copy, "inet6") == 0)
			fd = listen_inet(l, rest, AF_INET6);
		else if (strcmp(copy, "unix") == 0 ||
		    strcmp(copy, "local") == 0)
			fd = listen_unix(l, rest, cf);
		else
			log_warnx("listen %s: unknown socket type %s", spec,
			    copy);
	}
	free(copy);
	return fd;
}

/* Binds one configured address; 0, or -1 after logging why. */
int
listen_open(struct listener *l, const char *spec, const struct config *cf)
{
	int	fd;

	memset(l, 0, sizeof(*l));
	l->l_fd = -1;
	l->l_spec = xstrdup(spec);
	if ((fd = listen_bind(l, spec, cf)) == -1) {
		listen_close(l);
		return -1;
	}
	l->l_fd = fd;
	if (listen(fd, LISTEN_BACKLOG) == -1 || set_nonblock(fd) == -1) {
		log_warn("listen %s", spec);
		listen_close(l);
		return -1;
	}
	return 0;
}

/*
 * LISTEN_FDS when LISTEN_PID names us: 1 with *n set, 0 when the
 * variables are not for us, -1 when LISTEN_FDS is bad (*fds and *errstr
 * say how).
 */
static int
listen_env(long long max, long long *n, const char **fds,
    const char **errstr)
{
	const char	*pid;

	if ((pid = getenv("LISTEN_PID")) == NULL ||
	    (*fds = getenv("LISTEN_FDS")) == NULL ||
	    strtonum(pid, 1, INT32_MAX, errstr) != (long long)getpid())
		return 0;
	*n = strtonum(*fds, 0, max, errstr);
	return *errstr != NULL ? -1 : 1;
}

/*
 * How many sockets systemd passes us, from descriptor 3; 0 for none or
 * for bad variables, which listen_inherit() reports.
 */
int
listen_inherited(void)
{
	const char	*fds, *errstr;
	long long	 n;

	return listen_env(PM_MAXLISTEN, &n, &fds, &errstr) == 1 ? (int)n : 0;
}

/*
 * Sockets passed by systemd socket activation: LISTEN_PID names us and
 * LISTEN_FDS counts descriptors from 3.  Returns how many were taken.
 */
int
listen_inherit(struct listener *l, size_t max)
{
	const char		*fds, *errstr;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	long long		 n, i;
	int			 rc;

	if ((rc = listen_env((long long)max, &n, &fds, &errstr)) == 0)
		return 0;
	if (rc == -1) {
		log_warnx("LISTEN_FDS=%s: %s", fds, errstr);
		return -1;
	}
	for (i = 0; i < n; i++) {
		memset(&l[i], 0, sizeof(l[i]));
		l[i].l_fd = SD_LISTEN_FDS_START + (int)i;
		l[i].l_spec = xstrdup("systemd");
		l[i].l_inherited = 1;
		len = sizeof(ss);
		if (getsockname(l[i].l_fd, (struct sockaddr *)&ss, &len) == -1)
			fatal("LISTEN_FDS descriptor %d", l[i].l_fd);
		l[i].l_family = ss.ss_family;
		if (set_nonblock(l[i].l_fd) == -1 ||
		    set_cloexec(l[i].l_fd) == -1)
			fatal("LISTEN_FDS descriptor %d", l[i].l_fd);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

void
listen_close(struct listener *l)
{
	if (l->l_fd != -1)
		close(l->l_fd);
	if (l->l_path != NULL && !l->l_inherited)
		(void)unlink(l->l_path);
	free(l->l_path);
	free(l->l_spec);
	l->l_fd = -1;
	l->l_path = l->l_spec = NULL;
}
