/* Internal to the SMTP client: what smtp.c (the session and the
 * transaction) and smtp_auth.c (SASL authentication) share.  Only these two
 * files include it.
 */
#ifndef RELAYMAIL_SMTP_INTERNAL_H
#define RELAYMAIL_SMTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "smtp.h"
#include "smtp_reply.h"

#define SMTP_LINE_MAX 2048

enum {
	CAP_STARTTLS = 1 << 0, CAP_PIPELINING = 1 << 1, CAP_SIZE = 1 << 2,
	CAP_8BITMIME = 1 << 3,
	CAP_AUTH = 1 << 6, CAP_DSN = 1 << 7, CAP_SMTPUTF8 = 1 << 8, CAP_CHUNKING = 1 << 9,
};

struct smtp_session {
	struct conn *c;
	struct smtp_outcome *out;
	const char *ehlo_domain;
	bool quit_sent;
	bool broken;            /* the connection cannot carry another message */
	/* the transaction under way */
	struct result first;    /* the failure that decides, when nothing is accepted */
	size_t accepted;        /* recipients accepted */
	bool mail_failed;
	bool data_sent;
	bool use_bdat;          /* RFC 3030: content in one BDAT LAST chunk */
	const struct account *acct;
	const struct envelope *env;
	struct smtp_reply reply;
	unsigned caps;
	uintmax_t size_limit;
	char auth_offered[256];
	unsigned auth_mechs;      /* bit (1u << enum smtp_mech) per mechanism offered */
	char capabilities[1024];
	/* Of the session, for every message's outcome: an outcome given to an
	 * earlier smtp_send() may be gone (the service's threads). */
	char tls[sizeof ((struct smtp_outcome *)0)->tls];
	const char *auth_mechanism;
	char line[SMTP_LINE_MAX];
	struct result *r;
};

/* Read one reply (bounded by the connection's deadline) into s->reply. */
bool smtp_read_reply(struct smtp_session *s, const char *step);

/* s->reply is not of want_class: 4xx temporary, 5xx perm, others a
 * protocol error; the reply is quoted in s->r and s->out.  Returns false. */
bool smtp_reply_failed(struct smtp_session *s, const char *step, enum result_class perm);

bool smtp_expect(struct smtp_session *s, const char *step, int want_class, enum result_class perm);
bool smtp_send_and_expect(struct smtp_session *s, const char *command, const char *step,
			  int want_class, enum result_class perm);

/* EHLO: one mechanism of the AUTH keyword. */
void smtp_auth_offered(struct smtp_session *s, const char *mech);

/* AUTH with the mechanism the account asks for or the best one offered;
 * nothing when the account has no secret.  Fills out->auth_mechanism. */
bool smtp_authenticate(struct smtp_session *s, const struct secret *secret, struct smtp_outcome *out);

#endif
