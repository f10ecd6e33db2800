/* The fate of one message, shared by the command line and the service:
 * deliver it (one connection, or a warm session of the service's pool),
 * fall over to the fallback accounts on a temporary failure, send what the
 * relay accepted and split off the refused recipients, queue what may
 * succeed later, keep what cannot be sent.  Nothing here prints directly:
 * warnings and errors for the person go through ctx->notify (the command
 * line prints them, the service sends them to its client).
 */
#ifndef RELAYMAIL_SUBMIT_H
#define RELAYMAIL_SUBMIT_H

#include <stdbool.h>

#include "config.h"
#include "credentials.h"
#include "envelope.h"
#include "eventlog.h"
#include "message.h"
#include "pool.h"
#include "result.h"
#include "smtp.h"

typedef void (*submit_notify_fn)(void *arg, bool is_error, const char *text);

struct submit_ctx {
	const struct config *cfg;
	const struct account *acct;
	const struct secret *secret;
	struct pool *pool;              /* warm sessions (service), or NULL */
	const char *queue_dir;          /* NULL: the account's (queue_paths()) */
	const char *failed_dir;
	bool verbose;
	bool quiet;                     /* -oeq: no queued notice */
	struct eventlog *log;
	submit_notify_fn notify;        /* NULL: log_warn() / log_error() */
	void *notify_arg;
	const char *local_user;         /* service: who submitted (queue entries) */
	struct submit_report *report;   /* NULL: not wanted */
};

/* What became of the message, for the service's per-recipient answer. */
struct submit_report {
	bool queued;                    /* (some of) it waits in the queue */
};

/* r ends OK when the relay took the message for every recipient, or for
 * some while the others are durably queued or were refused permanently
 * (then each is named through ctx->notify unless quiet, the copy for them
 * is kept in the failed-mail store, and the sender, or admin_address, gets
 * a notice: notice.h); otherwise r says why, and where the message was
 * kept.  outcome: the relay's per-recipient answers (rcpt_status). */
void submit_message(const struct submit_ctx *ctx, const struct envelope *env,
		    const struct message *msg, struct smtp_outcome *outcome, struct result *r);

/* After a delivery that the relay took (r OK) with some recipients
 * refused (outcome->n_rejected > 0): what submit_message() does then (-bs
 * delivers on its own). */
void submit_refused(const struct submit_ctx *ctx, const struct envelope *env,
		    const struct message *msg, const struct smtp_outcome *outcome, struct result *r);

/* A failure before delivery (r set, not OK): queue it when temporary, else
 * keep it in the failed-mail store; r gets "; message kept in FILE". */
void submit_keep(const struct submit_ctx *ctx, const struct envelope *env,
		 const struct message *msg, struct result *r);

#endif
