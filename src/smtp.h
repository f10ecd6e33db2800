/* SMTP submission client (RFC 5321, 3207 STARTTLS, 4954 AUTH, 2920
 * PIPELINING, 1870 SIZE, 6152 8BITMIME).
 *
 * smtp_submit() drives one connection from the greeting to QUIT and sends
 * one message to every recipient or to none.  Failures are classified at the
 * protocol layer: a 4xx reply, a drop or a timeout is RESULT_TEMPFAIL; a 5xx
 * is RESULT_PERMFAIL, RESULT_NOUSER (RCPT) or RESULT_NOPERM (AUTH, TLS
 * policy); a malformed reply, or one of a class the step cannot have (a 3xx
 * to RCPT, a 2xx to DATA), is RESULT_PROTOCOL and the session is not used
 * again; a message over the server's SIZE, an envelope whose MAIL or RCPT
 * command would exceed SMTP_COMMAND_MAX or with more recipients than
 * SMTP_MAX_STATUS is RESULT_DATAERR, refused before MAIL is sent.  r->msg
 * names the step and quotes the reply.
 */
#ifndef RELAYMAIL_SMTP_H
#define RELAYMAIL_SMTP_H

#include "config.h"
#include "conn.h"
#include "credentials.h"
#include "envelope.h"
#include "message.h"

#define SMTP_MAX_STATUS ENVELOPE_MAX_RECIPIENTS
#define SMTP_REFUSALS_KEPT 16
/* RFC 5321 allows 512 octets, extensions more; addresses here may have
 * ADDRESS_MAX (998) octets: with SIZE, BODY, SMTPUTF8, RET and a 100
 * character ENVID as xtext (300) a MAIL command is about 1,400. */
#define SMTP_COMMAND_MAX 2048

struct smtp_outcome {
	char final_reply[512];  /* the end-of-data reply (carries the relay's id) */
	char tls[96];           /* "TLS1.3 AES-256-GCM" or "" */
	const char *auth_mechanism; /* "PLAIN", "LOGIN" or NULL */
	/* When the failure was a reply of the relay: that reply, so a caller
	 * (-bs) can pass it on.  reply_code is 0 otherwise. */
	int reply_code;
	char reply_enhanced[16];
	char reply_text[400];
	/* Per recipient (index in the envelope): 0 accepted, 4 or 5 the class
	 * of the rejection (5 also for a reply RCPT cannot have: never a
	 * silent drop).  With a partial delivery n_rejected > 0 and
	 * rejection holds the deciding reply. */
	unsigned char rcpt_status[SMTP_MAX_STATUS];
	size_t n_rejected;
	/* Some of the content went out: after a broken connection the relay
	 * may have the message, so sending it again could duplicate it. */
	bool content_sent;
	char rejection[RESULT_MSG_MAX];         /* the deciding one (permanent first) */
	char temp_rejection[RESULT_MSG_MAX];    /* the first temporary one */
	/* The replies to the first SMTP_REFUSALS_KEPT refused recipients, so
	 * that each can be named with its own reply (notices, stderr). */
	struct smtp_refusal {
		size_t rcpt;                    /* index in the envelope */
		char text[RESULT_MSG_MAX];      /* "RCPT TO:<a>: the server replied: ..." */
	} refusals[SMTP_REFUSALS_KEPT];
	size_t n_refusals;
};

/* A session for several messages (queue flush): greeting, EHLO, STARTTLS
 * and AUTH once, then one smtp_send() per message (RSET after a refused
 * one), then smtp_close() (QUIT).  smtp_send() with last = true may pipeline
 * QUIT after the data. */
struct smtp_session;

bool smtp_open(struct conn *c, const struct account *acct, const struct secret *secret,
	       const char *ehlo_domain, struct smtp_session **session,
	       struct smtp_outcome *out, struct result *r);
bool smtp_send(struct smtp_session *s, const struct envelope *env, const struct message *msg,
	       bool last, struct smtp_outcome *out, struct result *r);
bool smtp_session_usable(const struct smtp_session *s);

/* The extensions of the last EHLO reply, space-separated ("PIPELINING
 * SIZE 10240000 AUTH PLAIN LOGIN ..."). */
const char *smtp_capabilities(const struct smtp_session *s);

/* The TLS session of the connection, or NULL. */
struct tls *smtp_tls(const struct smtp_session *s);
void smtp_close(struct smtp_session *s);

/* One message on a fresh connection: open, send, close. */
bool smtp_submit(struct conn *c, const struct account *acct, const struct secret *secret,
		 const struct envelope *env, const struct message *msg,
		 struct smtp_outcome *out, struct result *r);

#endif
