/*
 * A worker: compiles the rules itself, drops privileges, then accepts
 * one MTA connection at a time and serves it to the end.  It tells the
 * parent when it is busy and idle through the shared status pipe, and
 * retires after max_requests connections, on SIGHUP (finish the
 * connection in hand: a reload or a pool trim) or on SIGTERM (finish the
 * message in hand: shutdown).
 */

#include "phishmilter.h"
#include "report.h"

#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif
#if defined(HAVE_SYS_EPOLL_H) && defined(HAVE_EPOLL_PWAIT)
#include <sys/epoll.h>
#ifdef EPOLLEXCLUSIVE
#define WORKER_EPOLL
#endif
#endif

/*
 * How an idle worker waits for a connection.  With poll(), every idle
 * worker wakes for each new connection and all but one find nothing to
 * accept: with 34 idle workers that herd cost a quarter of the
 * throughput (make bench, c=8).  On Linux each worker waits in an epoll
 * instance of its own where the listeners are EPOLLEXCLUSIVE, so that a
 * connection wakes one waiting worker; the alive pipe wakes them all.
 * Elsewhere, or where the kernel refuses the flag, ppoll().
 */
struct worker_wait {
	struct pollfd	ww_pfd[PM_MAXLISTEN + 1];	/* + the alive pipe */
	size_t		ww_n;
	int		ww_epfd;			/* -1: ppoll() */
};

static volatile sig_atomic_t	worker_shutdown;	/* TERM, INT */
static volatile sig_atomic_t	worker_retire;		/* HUP */

static void
worker_signal(int sig)
{
	if (sig == SIGHUP)
		worker_retire = 1;
	else
		worker_shutdown = 1;
}

static void
worker_signals(void)
{
	struct sigaction	sa;
	sigset_t		set;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must interrupt poll() and accept(). */
	sa.sa_handler = worker_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

static void
worker_status(int fd, enum child_state state)
{
	struct status_record	sr = { getpid(), state };

	/* One record, one write: atomic on a pipe (< PIPE_BUF). */
	while (write(fd, &sr, sizeof(sr)) == -1 && errno == EINTR)
		;
}

/*
 * Out of descriptors or memory, accept() fails at once while the
 * connection stays queued: log once a second and pause instead of
 * spinning; the connection is taken when resources come back.
 */
static void
worker_accept_failed(void)
{
	static long long	last;
	int			saved = errno;

	if (saved == EAGAIN || saved == EWOULDBLOCK || saved == EINTR ||
	    saved == ECONNABORTED)
		return;
	if (now_ms() - last >= 1000) {
		last = now_ms();
		errno = saved;
		log_warn("accept");
	}
	if (saved == EMFILE || saved == ENFILE || saved == ENOBUFS ||
	    saved == ENOMEM)
		(void)poll(NULL, 0, 100);
}

static void
worker_wait_init(struct worker_wait *ww, const struct worker_fds *fds)
{
#ifdef WORKER_EPOLL
	struct epoll_event	ev;
#endif
	size_t			i;

	for (i = 0; i < fds->wf_nlisten; i++)
		ww->ww_pfd[i].fd = fds->wf_listen[i].l_fd;
	ww->ww_pfd[i++].fd = fds->wf_alive;
	ww->ww_n = i;
	for (i = 0; i < ww->ww_n; i++)
		ww->ww_pfd[i].events = POLLIN;
	ww->ww_epfd = -1;
#ifdef WORKER_EPOLL
	if ((ww->ww_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return;
	for (i = 0; i < ww->ww_n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | (i < fds->wf_nlisten ? EPOLLEXCLUSIVE : 0);
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(ww->ww_epfd, EPOLL_CTL_ADD, ww->ww_pfd[i].fd,
		    &ev) == -1) {
			close(ww->ww_epfd);
			ww->ww_epfd = -1;
			return;
		}
	}
#endif
}

/* Waits with the signals of mask unblocked; ppoll()'s result. */
static int
worker_wait(struct worker_wait *ww, const sigset_t *mask)
{
#ifdef WORKER_EPOLL
	struct epoll_event	ev[PM_MAXLISTEN + 1];
	size_t			i;
	int			n;

	if (ww->ww_epfd != -1) {
		for (i = 0; i < ww->ww_n; i++)
			ww->ww_pfd[i].revents = 0;
		n = epoll_pwait(ww->ww_epfd, ev, (int)ww->ww_n, -1, mask);
		for (i = 0; n > 0 && i < (size_t)n; i++)
			ww->ww_pfd[ev[i].data.u32].revents = POLLIN;
		return n;
	}
#endif
	return ppoll(ww->ww_pfd, ww->ww_n, NULL, mask);
}

/*
 * Waits for a connection on any listener; -1 when asked to stop, or
 * when the parent is gone (its end of the alive pipe hung up): the
 * workers of a parent killed outright must not go on holding the
 * listening sockets and serving the old rules.  The stop signals are
 * blocked except inside the wait, so one that arrives between the test
 * of the flags and the wait cannot be missed.  A listener that was
 * ready is always tried, stop or not: with exclusive wake-ups no other
 * worker may have been woken for that connection.
 */
static int
worker_accept(struct worker_wait *ww, struct sockaddr_storage *ss)
{
	struct pollfd	*pfd = ww->ww_pfd;
	sigset_t	 block, old;
	socklen_t	 len;
	size_t		 i, n_alive = ww->ww_n - 1;
	int		 fd = -1;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	while (fd == -1 && !worker_shutdown && !worker_retire) {
		if (worker_wait(ww, &old) == -1) {
			if (errno != EINTR)
				fatal("poll");
			continue;
		}
		if (pfd[n_alive].revents != 0) {
			log_info("the parent process is gone: exiting");
			worker_shutdown = 1;
			break;
		}
		for (i = 0; i < n_alive && fd == -1; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			len = sizeof(*ss);
			/* Idle siblings race for it; losers see EAGAIN. */
			fd = accept4(pfd[i].fd, (struct sockaddr *)ss, &len,
			    SOCK_CLOEXEC);
			if (fd == -1)
				worker_accept_failed();
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return fd;
}

static void
worker_serve(struct config *cf, struct ruleset *rs, int fd,
    const struct sockaddr_storage *ss, int alive)
{
	struct session	*s;
	int		 on = 1;

	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if ((s = session_new(cf, rs, fd)) == NULL) {
		log_warn("session");
		return;
	}
	(void)session_serve(s, &worker_shutdown, alive);
	session_free(s);
}

void
worker_main(struct config *cf, const struct worker_fds *fds,
    unsigned int generation)
{
	struct ruleset		rs;
	struct sockaddr_storage	ss;
	struct worker_wait	ww;
	int			fd, served = 0;

	log_set_procname("worker");
#if defined(HAVE_PRCTL) && defined(PR_SET_NAME)
	(void)prctl(PR_SET_NAME, "phishmilter-wk");
#endif
	worker_signals();
	mime_init();
	/* iconv loads its converters from files: before any chroot. */
	if (charset_init() == -1)
		log_warnx("some charset converters are missing; their text is "
		    "decoded as undeclared");
	if (rules_compile(&rs, cf) == -1)
		fatalx("cannot compile the rules");
	privsep_drop(cf, "worker", 1);
	report_init(fds->wf_report);
	worker_wait_init(&ww, fds);
	worker_status(fds->wf_status, CHILD_READY);
	log_debug("ready, generation %u, %zu filters", generation,
	    cf->cf_nfilters);
	while (served < cf->cf_max_requests && !worker_shutdown &&
	    !worker_retire) {
		if ((fd = worker_accept(&ww, &ss)) == -1)
			break;
		worker_status(fds->wf_status, CHILD_BUSY);
		worker_serve(cf, &rs, fd, &ss, fds->wf_alive);
		close(fd);
		served++;
		if (served < cf->cf_max_requests)
			worker_status(fds->wf_status, CHILD_IDLE);
	}
	log_debug("exiting after %d connections", served);
	report_flush_drops();
	rules_free(&rs);
	exit(0);
}
