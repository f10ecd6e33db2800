/* One delivery attempt: connect to the account's relay, submit the message
 * and log the outcome (syslog, facility mail).  Shared by the pipe mode
 * and -bs.  Errors are those of net_connect(), proxy_connect(), tls_start() and
 * smtp_submit(); out carries the relay's reply for callers that pass it on.
 */
#ifndef RELAYMAIL_DELIVER_H
#define RELAYMAIL_DELIVER_H

#include "config.h"
#include "conn.h"
#include "connect.h"
#include "credentials.h"
#include "envelope.h"
#include "eventlog.h"
#include "message.h"
#include "smtp.h"

#include <time.h>

/* Connect (TCP, and TLS for implicit TLS) to the account's relay, directly
 * (net.c, Happy Eyeballs) or through acct->proxy (proxy.c); with verbose,
 * each address tried is traced on stderr. */
bool deliver_connect(const struct account *acct, bool verbose, struct conn *c, struct result *r);

/* The same, and rep (caller-allocated) lists the attempts, for --check. */
bool deliver_connect_report(const struct account *acct, bool verbose, struct conn *c,
			    struct connect_report *rep, struct result *r);

/* With a proxy, put "relay HOST:PORT (through proxy URL): " in front of
 * r's message (a failure after the tunnel was open).  Returns false. */
bool deliver_relay_hop(const struct account *acct, struct result *r);

/* The "sent" event line of a delivery that began at start (monotonic). */
void deliver_log(struct eventlog *log, const struct account *acct, const struct envelope *env,
		 const struct message *msg, const struct smtp_outcome *out,
		 const struct timespec *start);

bool deliver(const struct account *acct, const struct secret *secret,
	     const struct envelope *env, const struct message *msg, bool verbose,
	     struct eventlog *log, struct smtp_outcome *out, struct result *r);

#endif
