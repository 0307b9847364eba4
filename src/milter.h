/*
 * The milter wire protocol: constants and the packet codec shared by the
 * daemon and the client program.  Written from the protocol description;
 * the values are those every MTA and libmilter use.
 */

#ifndef MILTER_H
#define MILTER_H

#include <sys/types.h>

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MILTER_VERSION_MIN	2
#define MILTER_VERSION		6

/* Largest payload accepted from a peer (Postfix header_size_limit fits). */
#define MILTER_MAX_PACKET	(1024 * 1024)
#define MILTER_CHUNK_SIZE	65535

/* Commands, MTA to filter. */
#define SMFIC_ABORT		'A'
#define SMFIC_BODY		'B'
#define SMFIC_CONNECT		'C'
#define SMFIC_MACRO		'D'
#define SMFIC_BODYEOB		'E'
#define SMFIC_HELO		'H'
#define SMFIC_QUIT_NC		'K'
#define SMFIC_HEADER		'L'
#define SMFIC_MAIL		'M'
#define SMFIC_EOH		'N'
#define SMFIC_OPTNEG		'O'
#define SMFIC_QUIT		'Q'
#define SMFIC_RCPT		'R'
#define SMFIC_DATA		'T'
#define SMFIC_UNKNOWN		'U'

/* Replies, filter to MTA. */
#define SMFIR_ADDRCPT		'+'
#define SMFIR_ADDRCPT_PAR	'2'
#define SMFIR_DELRCPT		'-'
#define SMFIR_ACCEPT		'a'
#define SMFIR_REPLBODY		'b'
#define SMFIR_CONTINUE		'c'
#define SMFIR_DISCARD		'd'
#define SMFIR_CHGFROM		'e'
#define SMFIR_ADDHEADER		'h'
#define SMFIR_INSHEADER		'i'
#define SMFIR_SETSYMLIST	'l'
#define SMFIR_CHGHEADER		'm'
#define SMFIR_PROGRESS		'p'
#define SMFIR_QUARANTINE	'q'
#define SMFIR_REJECT		'r'
#define SMFIR_SKIP		's'
#define SMFIR_TEMPFAIL		't'
#define SMFIR_REPLYCODE		'y'

/* Connect families. */
#define SMFIA_UNKNOWN		'U'
#define SMFIA_UNIX		'L'
#define SMFIA_INET		'4'
#define SMFIA_INET6		'6'

/* Actions the filter may take (OPTNEG). */
#define SMFIF_ADDHDRS		0x00000001U
#define SMFIF_CHGBODY		0x00000002U
#define SMFIF_ADDRCPT		0x00000004U
#define SMFIF_DELRCPT		0x00000008U
#define SMFIF_CHGHDRS		0x00000010U
#define SMFIF_QUARANTINE	0x00000020U
#define SMFIF_CHGFROM		0x00000040U
#define SMFIF_ADDRCPT_PAR	0x00000080U
#define SMFIF_SETSYMLIST	0x00000100U

/* Protocol steps the MTA may leave out or not wait for (OPTNEG). */
#define SMFIP_NOCONNECT		0x00000001U
#define SMFIP_NOHELO		0x00000002U
#define SMFIP_NOMAIL		0x00000004U
#define SMFIP_NORCPT		0x00000008U
#define SMFIP_NOBODY		0x00000010U
#define SMFIP_NOHDRS		0x00000020U
#define SMFIP_NOEOH		0x00000040U
#define SMFIP_NR_HDR		0x00000080U
#define SMFIP_NOUNKNOWN		0x00000100U
#define SMFIP_NODATA		0x00000200U
#define SMFIP_SKIP		0x00000400U
#define SMFIP_RCPT_REJ		0x00000800U
#define SMFIP_NR_CONN		0x00001000U
#define SMFIP_NR_HELO		0x00002000U
#define SMFIP_NR_MAIL		0x00004000U
#define SMFIP_NR_RCPT		0x00008000U
#define SMFIP_NR_DATA		0x00010000U
#define SMFIP_NR_UNKN		0x00020000U
#define SMFIP_NR_EOH		0x00040000U
#define SMFIP_NR_BODY		0x00080000U
#define SMFIP_HDR_LEADSPC	0x00100000U
#define SMFIP_MDS_256K		0x10000000U
#define SMFIP_MDS_1M		0x20000000U

/* A buffered, timed connection to a milter peer. */
struct milter_conn {
	int		 mc_fd;
	int		 mc_timeout;		/* ms; -1 waits forever */
	struct timespec	 mc_until;		/* reads end by then; 0: none */
	volatile sig_atomic_t *mc_stop;	/* set by a signal: give up */
	int		 mc_alive;	/* hangs up when the parent dies, -1 */
	size_t		 mc_max;		/* largest payload accepted */
	unsigned char	*mc_rbuf;
	size_t		 mc_rsize;
	size_t		 mc_roff;		/* start of unread bytes */
	size_t		 mc_rlen;		/* end of unread bytes */
	unsigned char	*mc_wbuf;
	size_t		 mc_wsize;
	size_t		 mc_wlen;
	const char	*mc_error;		/* why the last call failed */
};

/* One packet; mp_data points into the connection's read buffer. */
struct milter_packet {
	char		 mp_cmd;
	const char	*mp_data;
	size_t		 mp_len;
};

enum milter_status {
	MILTER_OK = 1,
	MILTER_EOF = 0,		/* orderly close between packets */
	MILTER_ERROR = -1	/* mc_error says why */
};

/* milter.c */
int		 milter_conn_init(struct milter_conn *, int, int, size_t);
void		 milter_conn_free(struct milter_conn *);
void		 milter_read_until(struct milter_conn *, int);
int		 milter_pending(struct milter_conn *);
int		 milter_read_packet(struct milter_conn *,
		    struct milter_packet *);
int		 milter_queue(struct milter_conn *, char, const void *,
		    size_t);
int		 milter_queue2(struct milter_conn *, char, const void *,
		    size_t, const void *, size_t);
int		 milter_flush(struct milter_conn *);
int		 milter_send(struct milter_conn *, char, const void *,
		    size_t);
uint32_t	 milter_get32(const void *);
void		 milter_put32(void *, uint32_t);
const char	*milter_next_string(const char **, size_t *);
size_t		 milter_optneg_encode(unsigned char *, uint32_t, uint32_t,
		    uint32_t);
int		 milter_optneg_decode(const char *, size_t, uint32_t *,
		    uint32_t *, uint32_t *);
const char	*milter_command_name(char);

#endif /* MILTER_H */
