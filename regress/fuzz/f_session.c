/*
 * Fuzzes the milter packet decoder (milter.c) and the session state
 * machine (session.c, verdict.c): the input is the byte stream an MTA
 * sends on one connection.  As in worker.c, session_serve() serves one
 * end of a socketpair, while a thread writes the input into the other
 * end, closes it for writing, and reads and drops the filter's answers
 * until the session closes.  Every command, macros, headers and body,
 * and the decision at end of message go through the daemon's own code,
 * by the compiled rules of the fixed configuration below: a filter for
 * each target and each action, modes, skip lists and tight limits.
 *
 * libFuzzer: -max_len=65536 -dict=session.dict
 */

#include "phishmilter.h"
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static const char fuzz_conf[] =
	"timeout = 5\n"
	"message_timeout = 5\n"
	"max_message_size = 32K\n"
	"oversize_action = reject\n"
	"max_headers = 64\n"
	"max_mime_depth = 8\n"
	"max_mime_parts = 64\n"
	"skip_networks = { \"198.51.100.0/24\", \"2001:db8:5::/48\" }\n"
	"skip_senders = { \"trusted.example\", \"boss@partner.example\" }\n"
	"skip_authenticated = true\n"
	"subject_prefix = \"[SUSPECT]\"\n"
	"warn_header = \"X-Fuzz-Warning\"\n"
	"filter fz_accept {\n"
	"	match = { 'header_x-fuzz:^accept' }\n"
	"	action = accept\n"
	"}\n"
	"filter fz_reject {\n"
	"	match = { 'header_subject:(?i)reject' }\n"
	"	action = reject\n"
	"}\n"
	"filter fz_reply {\n"
	"	match = { 'envelope_from:^reply@', 'envelope_rcpt:.' }\n"
	"	action = reject\n"
	"	reply = \"550 5.7.1 100% refused\"\n"
	"}\n"
	"filter fz_tempfail {\n"
	"	match = { 'envelope_rcpt:^tempfail@' }\n"
	"	action = tempfail\n"
	"}\n"
	"filter fz_discard {\n"
	"	match = { 'helo:^discard' }\n"
	"	action = discard\n"
	"}\n"
	"filter fz_quarantine {\n"
	"	match = { 'remote_host:^quarantine' }\n"
	"	action = quarantine\n"
	"}\n"
	"filter fz_ip {\n"
	"	match = { 'remote_ip:^(?:192\\.0\\.2\\.66|2001:db8::66)$' }\n"
	"	action = reject\n"
	"	mode = warn\n"
	"}\n"
	"filter fz_macro {\n"
	"	match = { 'macro_{auth_type}:^plain' }\n"
	"	any = { 'macro_j:x', 'macro_i:^Q' }\n"
	"	action = tempfail\n"
	"	mode = log\n"
	"}\n"
	"filter fz_from {\n"
	"	match = { 'decode_from:(?i)bank', 'decode_reply_to:!(?i)bank' }\n"
	"	action = reject\n"
	"	reply = \"550 5.7.1 bank impersonation\"\n"
	"}\n"
	"filter fz_text {\n"
	"	any = { 'decode_text:(?i)password', 'decode_html:(?i)<form' }\n"
	"	action = warn\n"
	"	subject_prefix = \"[!]\"\n"
	"}\n"
	"filter fz_url {\n"
	"	match = { 'url_host:\\.example$', 'url:^https?://' }\n"
	"	action = warn\n"
	"}\n"
	"filter fz_attach {\n"
	"	any = { 'attachment_name:(?i)\\.(?:exe|scr|html?)$',\n"
	"	    'attachment_type:^application/x-' }\n"
	"	action = quarantine\n"
	"	reply = \"held for review\"\n"
	"}\n"
	"filter fz_strip {\n"
	"	match = { 'decode_subject:(?i)urgentaction' }\n"
	"	whitespace = strip\n"
	"	action = reject\n"
	"	mode = log\n"
	"}\n"
	"filter fz_to {\n"
	"	match = { 'decode_to:.', 'decode_cc:(?i)everyone' }\n"
	"	action = warn\n"
	"	mode = warn\n"
	"}\n";

static struct config	*cf;
static struct ruleset	 rs;

/* The MTA's end: the input, then whatever the filter answers. */
struct mta {
	int		 m_fd;
	const uint8_t	*m_data;
	size_t		 m_len;
	size_t		 m_off;
};

/* Sends what it can; at the end (or once the peer is gone) half-closes. */
static void
mta_send(struct mta *m)
{
	ssize_t	n;

	n = send(m->m_fd, m->m_data + m->m_off, m->m_len - m->m_off,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		m->m_off += (size_t)n;
	else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR)
		m->m_off = m->m_len;
	if (m->m_off == m->m_len)
		(void)shutdown(m->m_fd, SHUT_WR);
}

/*
 * Both ways at once, so that neither side can block the other: the
 * filter answers while the MTA still sends, as with pipelining.
 */
static void *
mta_run(void *arg)
{
	struct mta	*m = arg;
	struct pollfd	 pfd;
	char		 buf[16384];
	ssize_t		 n;

	if (m->m_len == 0)
		(void)shutdown(m->m_fd, SHUT_WR);
	pfd.fd = m->m_fd;
	for (;;) {
		pfd.events = POLLIN | (m->m_off < m->m_len ? POLLOUT : 0);
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((pfd.revents & POLLOUT) && m->m_off < m->m_len)
			mta_send(m);
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(m->m_fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EWOULDBLOCK && errno != EINTR))
				break;
		}
	}
	return NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_log_init();
	cf = fuzz_worker_config(fuzz_conf);
	if (rules_compile(&rs, cf) == -1)
		fuzz_fatal("rules_compile failed");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static volatile sig_atomic_t	 stop;
	struct mta			 m;
	struct session			*s;
	pthread_t			 t;
	int				 sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		fuzz_fatal("socketpair: %s", strerror(errno));
	memset(&m, 0, sizeof(m));
	m.m_fd = sv[1];
	m.m_data = data;
	m.m_len = len;
	if ((rc = pthread_create(&t, NULL, mta_run, &m)) != 0)
		fuzz_fatal("pthread_create: %s", strerror(rc));
	if ((s = session_new(cf, &rs, sv[0])) == NULL)
		fuzz_fatal("session_new: %s", strerror(errno));
	(void)session_serve(s, &stop, -1);
	session_free(s);
	/* The MTA's reads end here. */
	close(sv[0]);
	if ((rc = pthread_join(t, NULL)) != 0)
		fuzz_fatal("pthread_join: %s", strerror(rc));
	close(sv[1]);
	return 0;
}
