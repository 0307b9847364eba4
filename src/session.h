/*
 * Per-connection and per-message state, shared by session.c (the
 * protocol state machine) and verdict.c (what is answered at end of
 * message).  Nothing else looks inside a session.
 */

#ifndef SESSION_H
#define SESSION_H

#include "milter.h"

/* Macro stages kept per connection, then per message. */
enum macro_stage {
	STAGE_CONNECT = 0,
	STAGE_HELO,
	STAGE_UNKNOWN,
	STAGE_MAIL,		/* first message stage */
	STAGE_RCPT,
	STAGE_DATA,
	STAGE_HEADER,
	STAGE_EOH,
	STAGE_BODY,
	STAGE_EOM,
	STAGE_MAX
};
#define STAGE_FIRST_MESSAGE	STAGE_MAIL

/* The name\0value\0... payload of one SMFIC_MACRO, kept as sent. */
struct macro_set {
	char		*ms_data;
	size_t		 ms_len;
};

/* A header of the message: offsets into the message buffer. */
struct header {
	size_t		 h_name;
	size_t		 h_namelen;
	size_t		 h_value;	/* raw value, as received */
	size_t		 h_valuelen;
};

struct message {
	char		*m_from;	/* MAIL FROM, angle brackets removed */
	char		**m_rcpt;
	size_t		 m_nrcpt;
	char		*m_buf;		/* "Name:value\r\n"... "\r\n" body */
	size_t		 m_len;
	size_t		 m_size;
	struct header	*m_hdr;
	size_t		 m_nhdr;
	size_t		 m_hdrsize;
	size_t		 m_body;	/* offset of the body in m_buf */
	int		 m_oversize;	/* max_message_size was hit */
	int		 m_error;	/* out of memory: answer error_action */
	int		 m_active;	/* MAIL seen, EOM not yet */
	int		 m_content;	/* headers or body begun: timed */
	unsigned int	 m_limits;	/* MIME_HIT_HEADERS, MIME_HIT_SIZE */
	struct decoded	 m_decoded;	/* built when a filter needs it */
};

struct session {
	const struct config	*s_cf;
	struct ruleset		*s_rs;
	struct milter_conn	 s_mc;
	char			 s_id[24];
	char			 s_tag[96];	/* s_id and the queue id */
	uint32_t		 s_version;	/* negotiated */
	uint32_t		 s_actions;
	uint32_t		 s_protocol;
	int			 s_negotiated;
	char			*s_hostname;
	char			*s_addr;	/* client address as text */
	char			 s_family;	/* SMFIA_* */
	char			*s_helo;
	struct macro_set	 s_macros[STAGE_MAX];
	struct message		 s_msg;
	unsigned int		 s_nmessages;
	unsigned char		 s_unknown[32];	/* unknown commands logged */
};

/* What verdict.c decided for a message. */
struct decision {
	enum action		 d_action;
	const struct filter	*d_filter;	/* the decider, or NULL */
	const char		*d_note;	/* why, when no filter */
	int			 d_would;	/* enforce's action, or -1 */
	struct rules_result	 d_rr;
};

/* session.c */
const char	*session_tag(struct session *);
void		 session_add_header(struct session *, const char *,
		    const char *);
void		 session_add_body(struct session *, const char *, size_t);
void		 session_offline(struct session *);
const char	*session_macro(const struct session *, const char *);
int		 session_each_value(void *, const struct cond *, value_fn,
		    void *);
void		 session_message_reset(struct session *);

/* decode.c */
int		 decode_message(struct decoded *, const struct config *,
		    const struct message *, enum target);
void		 decode_free(struct decoded *);
int		 decode_each(const struct decoded *, const struct cond *,
		    value_fn, void *);

/* verdict.c */
void		 verdict_decide(struct session *, struct decision *);
void		 verdict_limits(unsigned int, char *, size_t);
int		 verdict_eom(struct session *);

#endif /* SESSION_H */
