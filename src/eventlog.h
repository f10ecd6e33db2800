/* One line per message and per queue event: syslog (facility mail) and,
 * with log_file, a file; log_format = json makes each file line a JSON
 * object.  Fields: event, queue id, Message-ID, sender, recipients,
 * account, relay, TLS, AUTH mechanism, size, duration, and the relay's
 * final reply (which carries the relay's own message id) or the error.
 *
 * A log file that cannot be written is reported once on stderr per
 * process and never affects the message.
 */
#ifndef RELAYMAIL_EVENTLOG_H
#define RELAYMAIL_EVENTLOG_H

#include <stdbool.h>

#include "config.h"
#include "envelope.h"

struct eventlog {
	const char *file;       /* borrowed from the account; NULL: syslog only */
	bool json;
	bool file_failed;       /* already reported */
	const char *local_user; /* system mode: the local user who submitted (borrowed) */
};

struct event {
	const char *kind;       /* "sent", "queued", "delivered", "deferred", "failed" */
	const char *queue_id;   /* or NULL */
	const char *message_id;
	const struct envelope *env;
	const struct account *acct;
	const char *tls;        /* "TLS1.3 AES-256-GCM" or NULL */
	const char *auth;       /* mechanism or NULL */
	long long size;
	long duration_ms;
	const char *reply;      /* the relay's final reply, or the error */
};

void eventlog_init(struct eventlog *log, const struct account *acct);

void eventlog_write(struct eventlog *log, const struct event *e);

/* System mode: name the local user in the lines that follow (NULL: none). */
void eventlog_set_user(struct eventlog *log, const char *user);

#endif
