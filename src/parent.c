/*
 * The parent: stays root, never reads mail.  It owns the configuration,
 * the log, the pid file and the listening sockets, and keeps a pool of
 * workers between min_spare and max_spare idle ones (never more than
 * max_workers) from the busy/idle records children write to one shared
 * status pipe, the Postfix master way.  Signal handlers only set a flag
 * and write to a self-pipe; everything happens in the loop.
 *
 * Reload starts a new generation: new workers with the new rules, while
 * the old ones get SIGHUP, finish the connection they hold and exit.
 */

#include "phishmilter.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define THROTTLE_MIN_MS		1000
#define THROTTLE_MAX_MS		60000
#define STARTUP_WINDOW_MS	2000	/* dying sooner is a start-up failure */
#define TRIM_INTERVAL_MS	1000	/* at most one idle worker retired */

struct child {
	pid_t		 c_pid;
	unsigned int	 c_gen;
	int		 c_state;	/* 0: starting, else CHILD_* */
	int		 c_retiring;	/* SIGHUP sent */
	long long	 c_started;
};

struct parent {
	const char	*p_conffile;
	struct config	*p_cf;
	unsigned int	 p_gen;
	struct listener	 p_listen[PM_MAXLISTEN];
	size_t		 p_nlisten;
	int		 p_inherited;	/* sockets came from systemd */
	struct child	*p_child;
	size_t		 p_nchild;
	size_t		 p_childsize;
	int		 p_status[2];	/* children -> parent */
	unsigned char	 p_statbuf[sizeof(struct status_record) * 64];
	size_t		 p_statlen;
	int		 p_pidfd;
	int		 p_verbose;	/* -v: debug whatever the file says */
	long long	 p_throttle_until;
	long long	 p_throttle_ms;
	unsigned long	 p_spawned;
	unsigned long	 p_crashed;
	int		 p_report[2];	/* workers -> reporter */
	int		 p_alive[2];	/* never written: hangs up on our death */
	long long	 p_trim_at;	/* when an idle worker may retire */
	int		 p_idle_min;	/* the fewest idle since, -1: none */
	pid_t		 p_reporter;	/* 0: none running */
	int		 p_rep_restart;	/* SIGTERM sent for a reload */
	long long	 p_rep_started;
	long long	 p_rep_until;	/* throttled: no start before */
	long long	 p_rep_throttle_ms;
};

static volatile sig_atomic_t	sig_hup, sig_term, sig_chld, sig_usr1;
static int			self_pipe[2] = { -1, -1 };

static void
parent_signal(int sig)
{
	int	saved = errno;

	switch (sig) {
	case SIGHUP:
		sig_hup = 1;
		break;
	case SIGTERM:
	case SIGINT:
		sig_term = 1;
		break;
	case SIGCHLD:
		sig_chld = 1;
		break;
	case SIGUSR1:
		sig_usr1 = 1;
		break;
	}
	(void)write(self_pipe[1], "", 1);
	errno = saved;
}

static void
parent_signals(void)
{
	struct sigaction	sa;

	if (pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = parent_signal;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

/* Opens every configured listener, reusing those already open. */
static int
parent_listen(struct parent *p, const struct config *cf,
    struct listener *out, size_t *nout)
{
	size_t	i, j;

	*nout = 0;
	for (i = 0; i < cf->cf_nlisten; i++) {
		for (j = 0; j < p->p_nlisten; j++)
			if (p->p_listen[j].l_spec != NULL &&
			    strcmp(p->p_listen[j].l_spec, cf->cf_listen[i]) == 0)
				break;
		if (j < p->p_nlisten) {
			out[(*nout)++] = p->p_listen[j];
			p->p_listen[j].l_spec = NULL;	/* moved */
			continue;
		}
		if (listen_open(&out[*nout], cf->cf_listen[i], cf) == -1)
			return -1;
		(*nout)++;
	}
	return 0;
}

static void
parent_listen_replace(struct parent *p, struct listener *nl, size_t n)
{
	size_t	i;

	for (i = 0; i < p->p_nlisten; i++)
		if (p->p_listen[i].l_spec != NULL) {
			log_info("no longer listening on %s",
			    p->p_listen[i].l_spec);
			listen_close(&p->p_listen[i]);
		}
	memcpy(p->p_listen, nl, n * sizeof(*nl));
	p->p_nlisten = n;
}

static int
parent_open_listeners(struct parent *p, const struct config *cf)
{
	struct listener	nl[PM_MAXLISTEN];
	size_t		n, i;

	if (p->p_inherited)
		return 0;
	if (parent_listen(p, cf, nl, &n) == -1) {
		/* Give back what was moved, close what was opened. */
		for (i = 0; i < n; i++) {
			size_t	j;

			for (j = 0; j < p->p_nlisten; j++)
				if (p->p_listen[j].l_spec == NULL &&
				    p->p_listen[j].l_fd == nl[i].l_fd)
					break;
			if (j < p->p_nlisten)
				p->p_listen[j].l_spec = nl[i].l_spec;
			else
				listen_close(&nl[i]);
		}
		return -1;
	}
	parent_listen_replace(p, nl, n);
	return 0;
}

static struct child *
parent_child(struct parent *p, pid_t pid)
{
	size_t	i;

	for (i = 0; i < p->p_nchild; i++)
		if (p->p_child[i].c_pid == pid)
			return &p->p_child[i];
	return NULL;
}

/* Counts the current generation's workers by state. */
static void
parent_count(const struct parent *p, int *starting, int *idle, int *total)
{
	size_t	i;

	*starting = *idle = *total = 0;
	for (i = 0; i < p->p_nchild; i++) {
		const struct child	*c = &p->p_child[i];

		if (c->c_gen != p->p_gen || c->c_retiring)
			continue;
		(*total)++;
		if (c->c_state == 0)
			(*starting)++;
		else if (c->c_state != CHILD_BUSY)
			(*idle)++;
	}
}

/*
 * What no child needs of the parent's descriptors.  The write end of the
 * alive pipe first: only the parent may hold it, so that its read end
 * hangs up when the parent dies, however it dies, on every system.
 */
static void
parent_child_close(struct parent *p)
{
	close(p->p_alive[1]);
	close(self_pipe[0]);
	close(self_pipe[1]);
	close(p->p_status[0]);
	if (p->p_pidfd != -1)
		close(p->p_pidfd);
}

static void
parent_child_exec(struct parent *p)
{
	struct worker_fds	fds;

	parent_child_close(p);
	close(p->p_report[0]);
	fds.wf_status = p->p_status[1];
	fds.wf_report = p->p_cf->cf_spamhaus.sh_report ? p->p_report[1] : -1;
	if (fds.wf_report == -1)
		close(p->p_report[1]);
	fds.wf_alive = p->p_alive[0];
	fds.wf_listen = p->p_listen;
	fds.wf_nlisten = p->p_nlisten;
	worker_main(p->p_cf, &fds, p->p_gen);
}

static int
parent_spawn(struct parent *p)
{
	struct child	*c;
	sigset_t	 all, old;
	pid_t		 pid;

	if (p->p_nchild == p->p_childsize) {
		p->p_childsize = p->p_childsize ? p->p_childsize * 2 : 16;
		p->p_child = xreallocarray(p->p_child, p->p_childsize,
		    sizeof(*p->p_child));
	}
	/*
	 * The child starts with every signal blocked, so that a SIGTERM or
	 * SIGHUP sent before it installs its own handlers stays pending
	 * for them (worker_signals() unblocks) instead of reaching the
	 * parent's handler, which would lose it.
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		parent_child_exec(p);	/* NOTREACHED */
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		log_warn("fork");
		return -1;
	}
	c = &p->p_child[p->p_nchild++];
	memset(c, 0, sizeof(*c));
	c->c_pid = pid;
	c->c_gen = p->p_gen;
	c->c_started = now_ms();
	p->p_spawned++;
	return 0;
}

/*
 * The reporter.  The token is read here, as root, just before the fork
 * and wiped on the parent's side at once, so that no worker forked later
 * has it in memory.
 */
static void
parent_reporter_exec(struct parent *p, char *token, size_t size)
{
	size_t	i;

	parent_child_close(p);
	close(p->p_alive[0]);	/* the report pipe's end tells it */
	close(p->p_status[1]);
	close(p->p_report[1]);
	for (i = 0; i < p->p_nlisten; i++)
		close(p->p_listen[i].l_fd);
	reporter_main(p->p_cf, token, size, p->p_report[0]);
}

static void
parent_reporter_spawn(struct parent *p)
{
	char		 token[TOKEN_MAX];
	sigset_t	 all, old;
	pid_t		 pid;

	if (token_read(p->p_cf, token, sizeof(token)) == -1) {
		log_warnx("reporter not started; reports wait in the pipe");
		p->p_rep_until = now_ms() + THROTTLE_MAX_MS;
		return;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		parent_reporter_exec(p, token, sizeof(token));
	sigprocmask(SIG_SETMASK, &old, NULL);
	explicit_bzero(token, sizeof(token));
	if (pid == -1) {
		log_warn("fork");
		return;
	}
	p->p_reporter = pid;
	p->p_rep_restart = 0;
	p->p_rep_started = now_ms();
}

static void
parent_reporter(struct parent *p)
{
	if (p->p_reporter == 0 && p->p_cf->cf_spamhaus.sh_report &&
	    now_ms() >= p->p_rep_until)
		parent_reporter_spawn(p);
}

/* A reporter that dies soon after its start is restarted ever later. */
static void
parent_reporter_died(struct parent *p, int status)
{
	p->p_reporter = 0;
	if (p->p_rep_restart) {
		p->p_rep_until = 0;
		return;
	}
	if (WIFSIGNALED(status))
		log_warnx("reporter killed by signal %d", WTERMSIG(status));
	else
		log_warnx("reporter exited with status %d",
		    WEXITSTATUS(status));
	if (now_ms() - p->p_rep_started > STARTUP_WINDOW_MS)
		p->p_rep_throttle_ms = 0;
	p->p_rep_throttle_ms = p->p_rep_throttle_ms ?
	    p->p_rep_throttle_ms * 2 : THROTTLE_MIN_MS;
	if (p->p_rep_throttle_ms > THROTTLE_MAX_MS)
		p->p_rep_throttle_ms = THROTTLE_MAX_MS;
	p->p_rep_until = now_ms() + p->p_rep_throttle_ms;
	log_warnx("next reporter start in %lld ms", p->p_rep_throttle_ms);
}

/*
 * Keeps min_spare..max_spare idle workers, within max_workers.  Spares
 * are started at once.  One idle worker a second is retired, and only
 * when more than max_spare were idle all that second: workers flip
 * between busy and idle with every connection, and trimming every
 * momentary excess made the pool stop and start workers (each compiling
 * the rules, and its JIT code as patterns are first used) dozens of
 * times a second under a steady load of short connections.
 */
static void
parent_pool(struct parent *p)
{
	const struct config	*cf = p->p_cf;
	int			 starting, idle, total;
	size_t			 i;

	parent_count(p, &starting, &idle, &total);
	while (idle + starting < cf->cf_min_spare &&
	    total < cf->cf_max_workers && now_ms() >= p->p_throttle_until) {
		if (parent_spawn(p) == -1)
			break;
		starting++;
		total++;
	}
	if (p->p_idle_min == -1 || idle < p->p_idle_min)
		p->p_idle_min = idle;
	if (now_ms() < p->p_trim_at)
		return;
	p->p_trim_at = now_ms() + TRIM_INTERVAL_MS;
	idle = p->p_idle_min;
	p->p_idle_min = -1;
	if (idle <= cf->cf_max_spare)
		return;
	for (i = 0; i < p->p_nchild; i++) {
		struct child	*c = &p->p_child[i];

		if (c->c_gen != p->p_gen || c->c_retiring ||
		    c->c_state == 0 || c->c_state == CHILD_BUSY)
			continue;
		c->c_retiring = 1;
		(void)kill(c->c_pid, SIGHUP);
		break;
	}
}

static void
parent_status_record(struct parent *p, const struct status_record *sr)
{
	struct child	*c;

	if ((c = parent_child(p, sr->sr_pid)) == NULL)
		return;
	if (c->c_state == 0 && sr->sr_state == CHILD_READY)
		p->p_throttle_ms = 0;	/* start-ups work again */
	c->c_state = (int)sr->sr_state;
}

static void
parent_read_status(struct parent *p)
{
	struct status_record	sr;
	ssize_t			n;
	size_t			off;

	for (;;) {
		n = read(p->p_status[0], p->p_statbuf + p->p_statlen,
		    sizeof(p->p_statbuf) - p->p_statlen);
		if (n <= 0)
			break;
		p->p_statlen += (size_t)n;
		for (off = 0; p->p_statlen - off >= sizeof(sr);
		    off += sizeof(sr)) {
			memcpy(&sr, p->p_statbuf + off, sizeof(sr));
			parent_status_record(p, &sr);
		}
		memmove(p->p_statbuf, p->p_statbuf + off, p->p_statlen - off);
		p->p_statlen -= off;
	}
}

/*
 * A worker that dies before it is ready, or soon after without having
 * served, is a start-up failure: new workers wait, twice as long after
 * each round of failures.  One that has served died of something else
 * (kill -9, the OOM killer, a message that crashed it): waiting would
 * starve the pool under load, where every worker is young.  Deaths
 * during a wait belong to the round that started it.
 */
static void
parent_throttle(struct parent *p, const struct child *c, int status)
{
	if (c->c_state == CHILD_BUSY || c->c_state == CHILD_IDLE)
		return;
	if (c->c_state != 0 && now_ms() - c->c_started > STARTUP_WINDOW_MS)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && c->c_state != 0)
		return;
	if (now_ms() < p->p_throttle_until)
		return;
	p->p_throttle_ms = p->p_throttle_ms ? p->p_throttle_ms * 2 :
	    THROTTLE_MIN_MS;
	if (p->p_throttle_ms > THROTTLE_MAX_MS)
		p->p_throttle_ms = THROTTLE_MAX_MS;
	p->p_throttle_until = now_ms() + p->p_throttle_ms;
	log_warnx("worker %ld died at start-up; next start in %lld ms",
	    (long)c->c_pid, p->p_throttle_ms);
}

static void
parent_reap(struct parent *p)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

	/*
	 * A child writes its state before it exits, but the pipe may not
	 * have been readable yet when poll() returned: read it first, or a
	 * worker that was ready, or busy, is judged as starting.
	 */
	parent_read_status(p);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == p->p_reporter) {
			parent_reporter_died(p, status);
			continue;
		}
		if ((c = parent_child(p, pid)) == NULL)
			continue;
		if (WIFSIGNALED(status)) {
			p->p_crashed++;
			log_warnx("worker %ld killed by signal %d%s",
			    (long)pid, WTERMSIG(status),
			    c->c_state == CHILD_BUSY ? " while busy" : "");
		} else if (WEXITSTATUS(status) != 0) {
			p->p_crashed++;
			log_warnx("worker %ld exited with status %d",
			    (long)pid, WEXITSTATUS(status));
		}
		parent_throttle(p, c, status);
		*c = p->p_child[--p->p_nchild];
	}
}

static void
parent_signal_all(struct parent *p, int sig, int old_only)
{
	size_t	i;

	for (i = 0; i < p->p_nchild; i++) {
		struct child	*c = &p->p_child[i];

		if (old_only && c->c_gen == p->p_gen)
			continue;
		if (sig == SIGHUP)
			c->c_retiring = 1;
		(void)kill(c->c_pid, sig);
	}
}

/* What reporting needs, checked before a configuration is taken. */
static int
parent_check_reporting(const struct config *cf)
{
	char	token[TOKEN_MAX];
	int	rc;

	if (!cf->cf_spamhaus.sh_report)
		return 0;
	rc = token_read(cf, token, sizeof(token));
	explicit_bzero(token, sizeof(token));
	if (rc == -1 || privsep_spool(cf) == -1) {
		log_warnx("%s: spamhaus reporting cannot work as configured",
		    cf->cf_file);
		return -1;
	}
	return 0;
}

/*
 * SIGHUP: a configuration that fails to load changes nothing; a good one
 * becomes a new generation, and the old workers drain.
 */
static void
parent_reload(struct parent *p)
{
	struct config	*cf;

	if (log_open_file(p->p_cf->cf_log_file) == -1)
		log_warn("reopen %s", p->p_cf->cf_log_file);
	log_info("reloading %s", p->p_conffile);
	if ((cf = config_load(p->p_conffile)) == NULL ||
	    privsep_lookup(cf) == -1 || parent_check_reporting(cf) == -1 ||
	    parent_open_listeners(p, cf) == -1) {
		log_warnx("reload failed; still running generation %u",
		    p->p_gen);
		config_free(cf);
		return;
	}
	config_free(p->p_cf);
	p->p_cf = cf;
	log_set_level(p->p_verbose ? LOG_DEBUG : cf->cf_log_level);
	if (log_open_file(cf->cf_log_file) == -1)
		log_warn("open %s", cf->cf_log_file);
	p->p_gen++;
	p->p_throttle_until = 0;
	parent_signal_all(p, SIGHUP, 1);
	/* The reporter takes the new settings by a restart. */
	if (p->p_reporter != 0) {
		p->p_rep_restart = 1;
		(void)kill(p->p_reporter, SIGTERM);
	}
	p->p_rep_until = 0;
	p->p_rep_throttle_ms = 0;
	log_info("generation %u: %zu filters", p->p_gen, cf->cf_nfilters);
}

static void
parent_report(const struct parent *p)
{
	int	starting, idle, total;

	parent_count(p, &starting, &idle, &total);
	log_info("generation %u: %d workers (%d idle, %d starting), %zu "
	    "children in all, %lu spawned, %lu died abnormally", p->p_gen,
	    total, idle, starting, p->p_nchild, p->p_spawned,
	    p->p_crashed);
	if (p->p_reporter != 0)
		(void)kill(p->p_reporter, SIGUSR1);
}

static void
parent_drain_self_pipe(void)
{
	char	buf[64];

	while (read(self_pipe[0], buf, sizeof(buf)) > 0)
		;
}

static int
parent_wait(struct parent *p, int timeout)
{
	struct pollfd	pfd[2];

	pfd[0].fd = self_pipe[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = p->p_status[0];
	pfd[1].events = POLLIN;
	if (poll(pfd, 2, timeout) == -1 && errno != EINTR)
		fatal("poll");
	if (pfd[0].revents & POLLIN)
		parent_drain_self_pipe();
	if (pfd[1].revents & POLLIN)
		parent_read_status(p);
	if (sig_chld) {
		sig_chld = 0;
		parent_reap(p);
	}
	return 0;
}

static void
parent_close_listeners(struct parent *p)
{
	size_t	i;

	for (i = 0; i < p->p_nlisten; i++)
		listen_close(&p->p_listen[i]);
	p->p_nlisten = 0;
}

/*
 * After the workers, so that their last records are in the pipe: the
 * reporter spools them and finishes its request in flight, which its
 * request_timeout bounds.
 */
static void
parent_reporter_stop(struct parent *p)
{
	long long	deadline;

	if (p->p_reporter == 0)
		return;
	deadline = now_ms() + (p->p_cf->cf_spamhaus.sh_request_timeout +
	    5) * 1000LL;
	p->p_rep_restart = 1;
	(void)kill(p->p_reporter, SIGTERM);
	while (p->p_reporter != 0 && now_ms() < deadline)
		parent_wait(p, 100);
	if (p->p_reporter != 0) {
		log_warnx("reporter still busy: killed");
		(void)kill(p->p_reporter, SIGKILL);
		while (p->p_reporter != 0)
			parent_wait(p, 100);
	}
}

/* SIGTERM: no new connections; messages in hand get shutdown_timeout. */
static void
parent_shutdown(struct parent *p)
{
	long long	deadline = now_ms() + p->p_cf->cf_grace * 1000LL;

	log_info("shutting down, %zu children to drain", p->p_nchild);
	parent_signal_all(p, SIGTERM, 0);
	while (p->p_nchild > 0 && now_ms() < deadline)
		parent_wait(p, 100);
	if (p->p_nchild > 0) {
		log_warnx("%zu children still busy after %d s: killed",
		    p->p_nchild, p->p_cf->cf_grace);
		parent_signal_all(p, SIGKILL, 0);
		while (p->p_nchild > 0)
			parent_wait(p, 100);
	}
	parent_reporter_stop(p);
	parent_close_listeners(p);
	if (p->p_pidfd != -1 && *p->p_cf->cf_pidfile != '\0')
		(void)unlink(p->p_cf->cf_pidfile);
	log_info("exiting");
}

static void
parent_loop(struct parent *p)
{
	int	timeout;

	while (!sig_term) {
		parent_reporter(p);
		parent_pool(p);
		timeout = p->p_throttle_until > now_ms() ?
		    (int)(p->p_throttle_until - now_ms()) : 1000;
		if (timeout > 1000)
			timeout = 1000;
		parent_wait(p, timeout);
		if (sig_hup) {
			sig_hup = 0;
			parent_reload(p);
		}
		if (sig_usr1) {
			sig_usr1 = 0;
			parent_report(p);
		}
	}
	parent_shutdown(p);
}

/*
 * A file someone else put there is not written through: root truncating
 * a planted hard link (to /etc/shadow, say) or writing to a FIFO would
 * be the planter's gain.
 */
static int
parent_pidfile_ours(int fd, const char *path)
{
	struct stat	st;

	if (fstat(fd, &st) == -1) {
		log_warn("pid file %s", path);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != geteuid()) {
		log_warnx("pid file %s is not a regular file of uid %ld with "
		    "one link: remove it, or name another in pidfile", path,
		    (long)geteuid());
		return -1;
	}
	return 0;
}

/* Locks and writes the pid file; a second instance is refused. */
static int
parent_pidfile(struct parent *p)
{
	const char	*path = p->p_cf->cf_pidfile;
	char		 buf[32];
	int		 fd;

	p->p_pidfd = -1;
	if (path == NULL || *path == '\0')
		return 0;
	make_file_dir(path);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0644);
	if (fd == -1) {
		log_warn("pid file %s", path);
		return -1;
	}
	if (parent_pidfile_ours(fd, path) == -1) {
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_warnx("pid file %s is locked: phishmilter already runs",
		    path);
		close(fd);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 ||
	    write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		log_warn("pid file %s", path);
		close(fd);
		return -1;
	}
	p->p_pidfd = fd;
	return 0;
}

static int
parent_setup(struct parent *p, int foreground)
{
	int	n;

	/*
	 * Handlers first: a SIGTERM or SIGHUP sent as soon as the socket
	 * answers must not kill the daemon with its default action.
	 */
	parent_signals();
	if ((n = listen_inherit(p->p_listen, PM_MAXLISTEN)) == -1)
		return -1;
	if (n > 0) {
		p->p_nlisten = (size_t)n;
		p->p_inherited = 1;
		log_info("using %d socket(s) from systemd", n);
	} else if (parent_open_listeners(p, p->p_cf) == -1)
		return -1;
	if (!foreground && daemon(0, 0) == -1) {
		log_warn("daemon");
		return -1;
	}
	if (parent_pidfile(p) == -1)
		return -1;
	if (pipe2(p->p_alive, O_CLOEXEC) == -1)
		fatal("alive pipe");
	if (pipe2(p->p_status, O_CLOEXEC) == -1 ||
	    set_nonblock(p->p_status[0]) == -1)
		fatal("status pipe");
	/* Never blocking a worker: a full pipe drops the record. */
	if (pipe2(p->p_report, O_CLOEXEC) == -1 ||
	    set_nonblock(p->p_report[1]) == -1)
		fatal("report pipe");
#ifdef F_SETPIPE_SZ
	(void)fcntl(p->p_report[1], F_SETPIPE_SZ, 1024 * 1024);
#endif
	return 0;
}

/* Runs the daemon; returns the exit status. */
int
parent_main(const char *conffile, int foreground, int verbose)
{
	static char	confpath[PATH_MAX];
	struct parent	p;

	memset(&p, 0, sizeof(p));
	p.p_conffile = conffile;
	p.p_pidfd = -1;
	p.p_idle_min = -1;
	p.p_verbose = verbose;
	log_init(1, verbose ? LOG_DEBUG : LOG_INFO, NULL);
	if ((p.p_cf = config_load(conffile)) == NULL)
		return 1;
	/* daemon(3) moves to "/": a reload must read the same file. */
	if (realpath(conffile, confpath) != NULL)
		p.p_conffile = confpath;
	log_init(foreground, verbose ? LOG_DEBUG : p.p_cf->cf_log_level,
	    p.p_cf->cf_log_facility);
	if (!foreground && log_open_file(p.p_cf->cf_log_file) == -1) {
		log_warn("open %s", p.p_cf->cf_log_file);
		config_free(p.p_cf);
		return 1;
	}
	if (privsep_lookup(p.p_cf) == -1 ||
	    parent_check_reporting(p.p_cf) == -1 ||
	    parent_setup(&p, foreground) == -1) {
		parent_close_listeners(&p);
		config_free(p.p_cf);
		return 1;
	}
	p.p_gen = 1;
	log_info("started, %zu filters, listening on %zu socket(s)",
	    p.p_cf->cf_nfilters, p.p_nlisten);
	parent_loop(&p);
	free(p.p_child);
	config_free(p.p_cf);
	return 0;
}
