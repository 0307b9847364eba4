/*
 * The reporter's own parts, shared by reporter.c (the process), spool.c
 * (reports kept on disk until the service took them) and submit.c (the
 * HTTP side, libcurl).  Nothing else looks inside.
 */

#ifndef REPORTER_H
#define REPORTER_H

#include "report.h"

/* One report waiting for the service, in memory and (normally) on disk. */
struct spool_entry {
	char		 se_name[40];	/* file name in the spool */
	int		 se_kind;	/* enum report_kind */
	int		 se_action;	/* enum action */
	char		 se_addr[REPORT_ADDR_MAX];	/* the client */
	char		 se_filter[REPORT_FILTER_MAX];
	char		 se_qid[REPORT_QID_MAX];
	long long	 se_time;	/* when it was received, epoch s */
	char		*se_object;	/* address, URL or message */
	size_t		 se_len;
	size_t		 se_size;	/* bytes it counts against the bound */
	int		 se_ondisk;
};

struct spool {
	char			*sp_dir;
	int			 sp_dirfd;
	size_t			 sp_max;	/* bytes */
	size_t			 sp_size;
	struct spool_entry	*sp_q;		/* oldest first */
	size_t			 sp_head;
	size_t			 sp_n;
	size_t			 sp_cap;
	unsigned int		 sp_seq;
	unsigned long		 sp_dropped;	/* to keep the bound */
	unsigned long		 sp_written;
	size_t			 sp_nmem;	/* reports in memory only */
	long long		 sp_retry_at;	/* next try to write them */
	long long		 sp_errlog;	/* last disk error line */
};

/* What was reported within the ttl (seen.c). */
struct seen {
	uint64_t	 sn_hash;
	long long	 sn_until;	/* ms, monotonic */
};

struct seen_table {
	struct seen	*st_slot;
	int		 st_ttl;	/* seconds, 0: no de-duplication */
};

/* seen.c */
void		 seen_init(struct seen_table *, int);
void		 seen_free(struct seen_table *);
int		 seen_check(struct seen_table *, int, const char *, size_t);
void		 seen_save(const struct seen_table *, int);
void		 seen_load(struct seen_table *, int);

/* spool.c */
int		 spool_open(struct spool *, const char *, size_t);
void		 spool_close(struct spool *);
int		 spool_add(struct spool *, struct spool_entry *);
struct spool_entry *spool_head(struct spool *);
void		 spool_remove_head(struct spool *);
size_t		 spool_count(const struct spool *);
void		 spool_tick(struct spool *);
int		 spool_file_write(int, const char *, const void *, size_t,
		    const void *, size_t);

/* The one request in flight, if any. */
struct submit {
	void		*su_multi;	/* CURLM */
	void		*su_easy;	/* CURL */
	void		*su_headers;	/* struct curl_slist */
	char		*su_body;
	char		 su_resp[512];	/* the start of the answer */
	size_t		 su_resplen;
	int		 su_busy;
	long long	 su_started;
};

/* How a finished request went. */
struct submit_result {
	long		 sr_status;	/* HTTP status, 0: none */
	int		 sr_transport;	/* a transport error (CURLcode) */
	long long	 sr_retry_after; /* seconds the answer asks, 0: none */
	char		 sr_error[256];
};

/* submit.c */
int		 submit_init(struct submit *, const struct spamhaus_config *,
		    const char *);
void		 submit_free(struct submit *);
char		*submit_body(const struct spamhaus_config *,
		    const struct spool_entry *);
const char	*submit_endpoint(const struct spamhaus_config *, int);
int		 submit_start(struct submit *, const char *, char *);
int		 submit_step(struct submit *, struct submit_result *);
int		 submit_wait(struct submit *, int *, size_t, int);
const char	*submit_kind_name(int);

/* reporter.c: the intake alone, for tests and fuzzing */
struct reporter;
struct reporter	*reporter_intake_new(const struct config *);
void		 reporter_intake(struct reporter *, const void *, size_t);
struct spool	*reporter_intake_spool(struct reporter *);
void		 reporter_intake_free(struct reporter *);

#endif /* REPORTER_H */
