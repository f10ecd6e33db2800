/* Warm relay sessions for the system service (relaymail --serve).
 *
 * At most max_sessions authenticated SMTP sessions to one account's relay
 * stay open between submissions, each for at most idle_s seconds after its
 * last message.  pool_send() takes an idle session (or opens one while
 * fewer than max_sessions exist; else it waits for one to come free), sends
 * one message with smtp_send() (RSET after a refused transaction is
 * smtp.c's), and gives the session back.  A session the relay has closed
 * while it was idle is noticed before use and replaced.  When the relay
 * throttles new connections (421/454 at the greeting, EHLO or AUTH) while
 * other sessions are open, the pool shrinks to those and the message waits
 * for one of them, so the caller never sees the throttling; it tries one
 * more session every 30 s.  A relay that refuses every connection is down,
 * not throttling: pool_send() fails (RESULT_TEMPFAIL).  A warm session that
 * breaks before the relay saw any of the message is replaced and the
 * message sent again once; a refusal the relay answered is not retried.
 *
 * Thread-safe: any number of threads may call pool_send() at once.  The
 * pool borrows acct and secret for its lifetime.  Errors are those of
 * deliver_connect(), smtp_open() and smtp_send().
 */
#ifndef RELAYMAIL_POOL_H
#define RELAYMAIL_POOL_H

#include <stdbool.h>

#include "config.h"
#include "credentials.h"
#include "envelope.h"
#include "message.h"
#include "smtp.h"

struct pool;

struct pool_params {
	const struct account *acct;
	const struct secret *secret;
	unsigned max_sessions;          /* >= 1 */
	unsigned idle_s;                /* close a session idle this long */
	bool verbose;
};

bool pool_new(const struct pool_params *params, struct pool **pool, struct result *r);

bool pool_send(struct pool *pool, const struct envelope *env, const struct message *msg,
	       struct smtp_outcome *out, struct result *r);

/* Close the sessions idle for idle_s or longer; returns how many remain
 * open (idle or busy). */
unsigned pool_reap(struct pool *pool);

/* QUIT and close every session (none may be busy). */
void pool_free(struct pool *pool);

#endif
