/*
 * The records workers write to the reporter: fixed size, at most
 * PIPE_BUF bytes so that each is one atomic write(2) on the report pipe,
 * and read back by the reporter as untrusted input (report_parse).
 */

#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>
#include <stdint.h>

#define REPORT_RECORD_SIZE	2048
#define REPORT_MAGIC		0x50485231U	/* "PHR1" */
#define REPORT_ADDR_MAX		48
#define REPORT_FILTER_MAX	64
#define REPORT_QID_MAX		32
#define REPORT_EMAIL_MAX	(16U * 1024 * 1024)

enum report_kind {
	REPORT_IP = 1,		/* the client address */
	REPORT_URL,		/* one link of the message */
	REPORT_EMAIL		/* one chunk of the message as received */
};

struct report_record {
	uint32_t	rec_magic;
	uint8_t		rec_kind;	/* enum report_kind */
	uint8_t		rec_action;	/* enum action */
	uint16_t	rec_len;	/* bytes of rec_data used */
	uint32_t	rec_pid;	/* email: the worker */
	uint32_t	rec_msgno;	/* email: its message number */
	uint32_t	rec_offset;	/* email: where rec_data goes */
	uint32_t	rec_total;	/* email: the size of the message */
	char		rec_addr[REPORT_ADDR_MAX];	/* NUL-terminated */
	char		rec_filter[REPORT_FILTER_MAX];
	char		rec_qid[REPORT_QID_MAX];
	char		rec_data[REPORT_RECORD_SIZE - 24 - REPORT_ADDR_MAX -
			    REPORT_FILTER_MAX - REPORT_QID_MAX];
};

/* What a worker knows of a decision it reports. */
struct report_what {
	const char	*rw_addr;	/* client address, as the MTA said */
	const char	*rw_filter;
	const char	*rw_qid;	/* NULL or "" when unknown */
	int		 rw_action;	/* enum action */
};

/* report.c: both sides */
int		 report_parse(const void *, size_t, struct report_record *,
		    const char **);
int		 report_addr_normalize(const char *, char *, size_t, int *);
int		 report_url_ok(const char *, size_t);
int		 report_string_ok(const char *, size_t, int);
void		 report_init(int);
int		 report_enabled(void);
void		 report_ip(const struct report_what *);
int		 report_url(const struct report_what *, const char *, size_t);
void		 report_email(const struct report_what *, const char *,
		    size_t);
void		 report_flush_drops(void);

#endif /* REPORT_H */
