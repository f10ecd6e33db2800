/* System mode, the client side: hand the message and the sendmail
 * arguments to relaymail --serve over its Unix socket and turn its answer
 * into the result the caller would have had in per-user mode (same class,
 * same one-line text), so the exit status and stderr do not depend on the
 * mode.  Protocol: service_proto.h.
 *
 * Errors: RESULT_TEMPFAIL when the service cannot be reached or ends
 * without an answer (the caller keeps the message: exit 75), RESULT_PROTOCOL
 * for an answer that breaks the protocol, and whatever class the service
 * reports for the message.
 */
#ifndef RELAYMAIL_HANDOFF_H
#define RELAYMAIL_HANDOFF_H

#include <stdbool.h>

#include "config.h"
#include "message.h"
#include "result.h"

/* Warnings the service sends for the caller (queued notices...). */
typedef void (*handoff_warn_fn)(void *arg, const char *text);

bool handoff_submit(const struct service_config *svc, int argc, char *const *argv,
		    const struct message *msg, handoff_warn_fn warn, void *warn_arg,
		    struct result *r);

/* mailq: the caller's entries of the system queue (root: all), printed on
 * stdout as the service sends them. */
bool handoff_list(const struct service_config *svc, struct result *r);

/* -q: ask the service to try the system queue's due entries now; all
 * (--flush-all): every entry, which only root may ask for. */
bool handoff_flush(const struct service_config *svc, bool all, struct result *r);

/* --check: does the service answer, and does it accept this user? */
bool handoff_ping(const struct service_config *svc, struct result *r);

#endif
